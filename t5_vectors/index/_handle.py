"""One collection as the pipeline and the searches see it: stored hashes, writes and queries.

:class:`CollectionHandle` is the ingestion pipeline's sink (stored hashes, encoding, upserts)
and the searcher of every mode, over the storage seam. Searches go through a retrying backend
(:mod:`t5_vectors.storage.retrying`); the pipeline retries its own lookups and writes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from t5_vectors.errors import InvalidInputError
from t5_vectors.index._encoding import EncodedBatch, PointEncoder, QueryVectors
from t5_vectors.plan.payload import HASH_KEY, PreparedDocument
from t5_vectors.plan.retrieval import Retrieval
from t5_vectors.plan.retry import RetryPolicy
from t5_vectors.plan.search import ScoredDocuments, SearchOptions, as_query_vector
from t5_vectors.plan.vectors import to_sparse_vector
from t5_vectors.storage.base import Point, QueryPlan, Record, VectorValue
from t5_vectors.storage.open import Connection
from t5_vectors.storage.retrying import AsyncRetryingBackend, RetryingBackend

__all__ = ["CollectionHandle"]


class CollectionHandle:
    """The :class:`~t5_vectors.index.ingest.Sink` (and ``AsyncSink``) and searcher of one
    collection.

    Args:
        connection: the storage backends.
        collection_name: the collection.
        encoder: encodes chunks and queries for the layout.
        vector_name: the pooled vector's name (``None``: unnamed).
        retry: how searches retry transient failures.
    """

    def __init__(
        self,
        connection: Connection,
        collection_name: str,
        encoder: PointEncoder,
        vector_name: str | None,
        retry: RetryPolicy,
    ) -> None:
        self._connection = connection
        self._name = collection_name
        self._encoder = encoder
        self._vector_name = vector_name
        self._retry = retry
        tokens, sparse = encoder.tokens, encoder.sparse
        self._names = (
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

    # ------------------------------------------------------------------------------ search
    def search(
        self, query: object, options: SearchOptions, retrieval: Retrieval
    ) -> ScoredDocuments:
        """The *k* best documents for *query* (text, or vector for dense) under *retrieval*."""
        reads = RetryingBackend(self._connection.backend, self._retry)
        if retrieval.mode == "dense":
            embedder = self._encoder.embedder
            vector = (
                embedder.query(query)
                if isinstance(query, str)
                else as_query_vector(query, embedder.dim)  # type: ignore[arg-type]
            )
            hits = reads.query(self._name, options.plan(self._names[0], vector))
            return options.results(vector, hits, self._names[0])
        text = _text(query, retrieval)
        vectors = self._encoder.query(
            text,
            dense=retrieval.needs_dense,
            tokens=retrieval.needs_tokens,
            sparse=retrieval.needs_sparse,
        )
        plan = self._plan(vectors, options, retrieval)
        if plan is None:
            return []
        return options.results(_no_vector(), reads.query(self._name, plan), None)

    async def asearch(
        self, query: object, options: SearchOptions, retrieval: Retrieval
    ) -> ScoredDocuments:
        """Async :meth:`search`."""
        reads = AsyncRetryingBackend(self._connection.abackend, self._retry)
        if retrieval.mode == "dense":
            embedder = self._encoder.embedder
            vector = (
                await embedder.aquery(query)
                if isinstance(query, str)
                else as_query_vector(query, embedder.dim)  # type: ignore[arg-type]
            )
            hits = await reads.query(self._name, options.plan(self._names[0], vector))
            return options.results(vector, hits, self._names[0])
        text = _text(query, retrieval)
        vectors = await self._encoder.aquery(
            text,
            dense=retrieval.needs_dense,
            tokens=retrieval.needs_tokens,
            sparse=retrieval.needs_sparse,
        )
        plan = self._plan(vectors, options, retrieval)
        if plan is None:
            return []
        return options.results(_no_vector(), await reads.query(self._name, plan), None)

    def _plan(
        self, vectors: QueryVectors, options: SearchOptions, retrieval: Retrieval
    ) -> QueryPlan | None:
        # A sparse-only query without a single known piece matches nothing.
        if retrieval.mode == "sparse" and vectors.sparse is not None and not vectors.sparse:
            return None
        return retrieval.plan(vectors, options, self._names)


def _text(query: object, retrieval: Retrieval) -> str:
    if not isinstance(query, str):
        raise InvalidInputError(
            f"query: mode {retrieval.mode!r} expected a query text, found "
            f"{type(query).__name__}. Pass the text, or search a vector with mode='dense'."
        )
    return query


def _no_vector() -> np.ndarray:
    return np.zeros(0, dtype=np.float32)


def _hashes(records: list[Record]) -> dict[str, object]:
    return {str(record.id): (record.payload or {}).get(HASH_KEY) for record in records}
