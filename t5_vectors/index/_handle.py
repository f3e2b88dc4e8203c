"""One collection as the ingestion pipeline sees it: stored hashes, encoding and writes.

:class:`CollectionHandle` is the pipeline's sink over the storage seam (the pipeline retries its
own lookups and writes); searches are operations of the index (:mod:`t5_vectors.index._ops`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from t5_vectors.index._encoding import EncodedBatch, PointEncoder
from t5_vectors.plan.payload import HASH_KEY, PreparedDocument
from t5_vectors.plan.vectors import to_sparse_vector
from t5_vectors.storage.base import Point, Record, VectorValue
from t5_vectors.storage.open import Storage

__all__ = ["CollectionHandle"]


class CollectionHandle:
    """The :class:`~t5_vectors.index.ingest.Sink` (and ``AsyncSink``) of one collection.

    Args:
        connection: the storage backends.
        collection_name: the collection.
        encoder: encodes chunks and queries for the layout.
    """

    def __init__(self, connection: Storage, collection_name: str, encoder: PointEncoder) -> None:
        self._connection = connection
        self._name = collection_name
        self._encoder = encoder
        self._vector_name: str | None = None

    def names(self, vector_name: str | None) -> tuple[str | None, str | None, str | None]:
        """The pooled, token and sparse vectors' names (``None``: unnamed / not stored)."""
        self._vector_name = vector_name
        tokens, sparse = self._encoder.tokens, self._encoder.sparse
        return (
            vector_name,
            tokens.name if tokens is not None else None,
            sparse.name if sparse is not None else None,
        )

    # ---------------------------------------------------------------------------- the sink
    def stored_hashes(self, point_ids: Sequence[str]) -> dict[str, object]:
        backend = self._connection.backend
        return _hashes(backend.retrieve(self._name, point_ids, with_payload=(HASH_KEY,)))

    async def astored_hashes(self, point_ids: Sequence[str]) -> dict[str, object]:
        backend = self._connection.abackend
        return _hashes(await backend.retrieve(self._name, point_ids, with_payload=(HASH_KEY,)))

    def embed(self, texts: Sequence[str]) -> EncodedBatch:
        return self._encoder.documents(list(texts))

    async def aembed(self, texts: Sequence[str]) -> EncodedBatch:
        return await self._encoder.adocuments(list(texts))

    def write(self, documents: Sequence[PreparedDocument], vectors: EncodedBatch) -> None:
        self._connection.backend.upsert(self._name, self.points(documents, vectors))

    async def awrite(self, documents: Sequence[PreparedDocument], vectors: EncodedBatch) -> None:
        await self._connection.abackend.upsert(self._name, self.points(documents, vectors))

    def points(self, documents: Sequence[PreparedDocument], vectors: EncodedBatch) -> list[Point]:
        """The points of *documents*, every named vector of the layout filled."""
        dense = np.asarray(vectors.dense, dtype=np.float32)
        tokens, sparse = self._encoder.tokens, self._encoder.sparse
        points = []
        for i, doc in enumerate(documents):
            named: dict[str, VectorValue] = {self._vector_name or "": dense[i]}
            if tokens is not None:
                assert vectors.tokens is not None
                named[tokens.name] = np.asarray(vectors.tokens[i], dtype=np.float32)
            if sparse is not None:
                assert vectors.sparse is not None
                named[sparse.name] = to_sparse_vector(vectors.sparse[i])
            points.append(Point(id=doc.point_id, vectors=named, payload=doc.payload))
        return points


def _hashes(records: list[Record]) -> dict[str, object]:
    return {str(record.id): (record.payload or {}).get(HASH_KEY) for record in records}
