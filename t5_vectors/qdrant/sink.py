"""What the ingestion pipeline calls for one collection: stored hashes, encoding and upserts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from qdrant_client import models

from t5_vectors.qdrant.connection import Connection
from t5_vectors.qdrant.encoding import EncodedBatch, PointEncoder
from t5_vectors.qdrant.payload import HASH_KEY, PreparedDocument
from t5_vectors.qdrant.vectors import SparseVectors, TokenVectors, to_qdrant_sparse

__all__ = ["CollectionSink"]


class CollectionSink:
    """The :class:`~t5_vectors.qdrant.ingest.Sink` (and ``AsyncSink``) of one collection.

    Args:
        connection: the clients.
        collection_name: the collection.
        encoder: encodes chunks into every vector the layout stores.
        vector_name: the pooled vector's name (``None``: unnamed).
    """

    def __init__(
        self,
        connection: Connection,
        collection_name: str,
        encoder: PointEncoder,
        vector_name: str | None,
    ) -> None:
        self._connection = connection
        self._name = collection_name
        self._encoder = encoder
        self._vector_name = vector_name

    def stored_hashes(self, point_ids: Sequence[str]) -> dict[str, object]:
        records = self._connection.retrieve(self._name, point_ids, with_payload=[HASH_KEY])
        return _hashes(records)

    async def astored_hashes(self, point_ids: Sequence[str]) -> dict[str, object]:
        records = await self._connection.aretrieve(self._name, point_ids, with_payload=[HASH_KEY])
        return _hashes(records)

    def embed(self, texts: Sequence[str]) -> EncodedBatch:
        return self._encoder.documents(list(texts))

    async def aembed(self, texts: Sequence[str]) -> EncodedBatch:
        return await self._encoder.adocuments(list(texts))

    def write(self, documents: Sequence[PreparedDocument], vectors: EncodedBatch) -> None:
        self._connection.upsert(self._name, self._batch(documents, vectors))

    async def awrite(self, documents: Sequence[PreparedDocument], vectors: EncodedBatch) -> None:
        await self._connection.aupsert(self._name, self._batch(documents, vectors))

    def _batch(self, documents: Sequence[PreparedDocument], vectors: EncodedBatch) -> models.Batch:
        return models.Batch(
            ids=[doc.point_id for doc in documents],
            vectors=batch_vectors(
                vectors, self._vector_name, self._encoder.tokens, self._encoder.sparse
            ),
            payloads=[doc.payload for doc in documents],
        )


def batch_vectors(
    vectors: EncodedBatch,
    vector_name: str | None,
    tokens: TokenVectors | None,
    sparse: SparseVectors | None,
) -> Any:
    """The ``vectors`` of a ``models.Batch``: plain rows for a lone unnamed vector, else by name."""
    rows = np.asarray(vectors.dense, dtype=np.float32).tolist()
    if vector_name is None and tokens is None and sparse is None:
        return rows
    named: dict[str, Any] = {vector_name or "": rows}
    if tokens is not None:
        assert vectors.tokens is not None
        named[tokens.name] = vectors.tokens
    if sparse is not None:
        assert vectors.sparse is not None
        named[sparse.name] = [to_qdrant_sparse(terms) for terms in vectors.sparse]
    return named


def _hashes(records: list[models.Record]) -> dict[str, object]:
    return {str(record.id): (record.payload or {}).get(HASH_KEY) for record in records}
