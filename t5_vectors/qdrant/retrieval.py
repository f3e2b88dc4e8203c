"""Search modes beyond the pooled vector, each one ``query_points`` call.

========  ==============================================================================
mode      what Qdrant does
========  ==============================================================================
dense     nearest pooled vectors (the default; :mod:`t5_vectors.qdrant.search`)
maxsim    ranks every point by MaxSim of the query's token vectors against the chunk's
rerank    fetches ``dense_limit`` candidates by the pooled vector, re-ranks them by MaxSim
sparse    BM25 over tokenizer pieces (sparse vector, IDF applied by Qdrant)
hybrid    fetches ``dense_limit`` by the pooled vector and ``sparse_limit`` by BM25, then
          fuses both lists: ``fusion="rrf"`` (reciprocal rank fusion, each list adds
          ``1 / (k + rank)``, rank from 0, Qdrant's ``k`` = 2 unless ``rrf_k`` is given) or
          ``"dbsf"`` (distribution-based score fusion: each list's scores are mapped
          through ``(s - (mean - 3 sd)) / (6 sd)`` and summed)
========  ==============================================================================

A filter applies inside every prefetch as well as to the final list, so a prefetch never
spends its limit on points the filter drops. ``score_threshold`` applies to the final score
(MaxSim, BM25 or fused).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from qdrant_client import models

from t5_vectors.errors import InvalidInputError
from t5_vectors.qdrant.connection import Connection
from t5_vectors.qdrant.encoding import PointEncoder, QueryVectors
from t5_vectors.qdrant.search import ScoredDocuments, SearchOptions, as_query_vector
from t5_vectors.qdrant.vectors import to_qdrant_sparse

__all__ = ["FUSIONS", "MODES", "Fusion", "Mode", "Retrieval", "Retriever"]

Mode = Literal["dense", "sparse", "hybrid", "maxsim", "rerank"]
Fusion = Literal["rrf", "dbsf"]
MODES: tuple[str, ...] = ("dense", "sparse", "hybrid", "maxsim", "rerank")
FUSIONS: tuple[str, ...] = ("rrf", "dbsf")
_MIN_PREFETCH = 20


@dataclass(frozen=True)
class Retrieval:
    """How one search ranks points; validated on creation.

    Attributes:
        mode: ``"dense"``, ``"sparse"``, ``"hybrid"``, ``"maxsim"`` or ``"rerank"`` (a
            langchain-qdrant ``RetrievalMode`` works too).
        fusion: for ``hybrid``: ``"rrf"`` or ``"dbsf"``.
        dense_limit: candidates fetched by the pooled vector (``hybrid``, ``rerank``);
            ``None`` is ``max(4 * k, 20)``.
        sparse_limit: candidates fetched by BM25 (``hybrid``); ``None`` is ``max(4 * k, 20)``.
        rrf_k: the RRF constant (``hybrid`` with ``"rrf"``); ``None`` is Qdrant's default.
    """

    mode: Mode = "dense"
    fusion: Fusion = "rrf"
    dense_limit: int | None = None
    sparse_limit: int | None = None
    rrf_k: int | None = None

    def __post_init__(self) -> None:
        mode = getattr(self.mode, "value", self.mode)
        if mode not in MODES:
            raise InvalidInputError(
                f"mode: expected one of {', '.join(map(repr, MODES))}, found {self.mode!r}."
            )
        object.__setattr__(self, "mode", str(mode))
        fusion = getattr(self.fusion, "value", self.fusion)
        if isinstance(fusion, str):
            fusion = fusion.lower()
        if fusion not in FUSIONS:
            raise InvalidInputError(f"fusion: expected 'rrf' or 'dbsf', found {self.fusion!r}.")
        object.__setattr__(self, "fusion", fusion)
        for name in ("dense_limit", "sparse_limit", "rrf_k"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise InvalidInputError(
                    f"{name}: expected a positive int or None, found {value!r}."
                )
        if self.rrf_k is not None and self.fusion != "rrf":
            raise InvalidInputError(
                f"rrf_k: expected only with fusion='rrf', found fusion={self.fusion!r}. "
                "Drop rrf_k or use fusion='rrf'."
            )

    @property
    def needs_dense(self) -> bool:
        """Whether the query's pooled vector is needed."""
        return self.mode in ("dense", "hybrid", "rerank")

    @property
    def needs_tokens(self) -> bool:
        """Whether the query's token vectors are needed."""
        return self.mode in ("maxsim", "rerank")

    @property
    def needs_sparse(self) -> bool:
        """Whether the query's sparse vector is needed."""
        return self.mode in ("sparse", "hybrid")

    def arguments(
        self,
        query: QueryVectors,
        options: SearchOptions,
        names: tuple[str | None, str | None, str | None],
    ) -> dict[str, Any]:
        """Keyword arguments of ``query_points`` (collection name aside).

        Args:
            query: the query's vectors.
            options: ``k``, filter, score threshold and search params.
            names: the pooled, token and sparse vector names.
        """
        dense_name, token_name, sparse_name = names
        where = options.filter if isinstance(options.filter, models.Filter) else None
        arguments: dict[str, Any] = {
            "limit": options.k,
            "query_filter": where,
            "score_threshold": options.score_threshold,
            "with_payload": True,
            "with_vectors": False,
        }
        dense_limit = self.dense_limit or max(4 * options.k, _MIN_PREFETCH)
        if self.mode == "maxsim":
            return {**arguments, "query": query.tokens, "using": token_name,
                    "search_params": options.search_params}  # fmt: skip
        if self.mode == "sparse":
            assert query.sparse is not None
            return {**arguments, "query": to_qdrant_sparse(query.sparse), "using": sparse_name,
                    "search_params": options.search_params}  # fmt: skip
        assert query.dense is not None
        dense = models.Prefetch(
            query=np.asarray(query.dense, dtype=np.float32).tolist(),
            using=dense_name,
            limit=dense_limit,
            filter=where,
            params=options.search_params,
        )
        if self.mode == "rerank":
            return {**arguments, "prefetch": dense, "query": query.tokens, "using": token_name}
        assert query.sparse is not None
        sparse = models.Prefetch(
            query=to_qdrant_sparse(query.sparse),
            using=sparse_name,
            limit=self.sparse_limit or max(4 * options.k, _MIN_PREFETCH),
            filter=where,
        )
        fusion: models.FusionQuery | models.RrfQuery
        if self.rrf_k is not None:
            fusion = models.RrfQuery(rrf=models.Rrf(k=self.rrf_k))
        else:
            fused = models.Fusion.RRF if self.fusion == "rrf" else models.Fusion.DBSF
            fusion = models.FusionQuery(fusion=fused)
        return {**arguments, "prefetch": [dense, sparse], "query": fusion}


class Retriever:
    """Runs the non-dense modes against one collection.

    Args:
        connection: the clients.
        collection_name: the collection.
        encoder: encodes queries for the layout.
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
        tokens, sparse = encoder.tokens, encoder.sparse
        self._names = (
            vector_name,
            tokens.name if tokens is not None else None,
            sparse.name if sparse is not None else None,
        )

    def search(
        self, query: object, options: SearchOptions, retrieval: Retrieval
    ) -> ScoredDocuments:
        """The *k* best documents for *query* (text, or vector for dense) under *retrieval*."""
        name = self._names[0]
        if retrieval.mode == "dense":
            embedder = self._encoder.embedder
            vector = (
                embedder.query(query)
                if isinstance(query, str)
                else as_query_vector(query, embedder.dim)  # type: ignore[arg-type]
            )
            points = self._connection.query(self._name, options.arguments(name, vector))
            return options.results(vector, points, name)
        text = _text(query, retrieval)
        vectors = self._encoder.query(
            text,
            dense=retrieval.needs_dense,
            tokens=retrieval.needs_tokens,
            sparse=retrieval.needs_sparse,
        )
        if _no_terms(vectors, retrieval):
            return []
        arguments = retrieval.arguments(vectors, options, self._names)
        return options.results(_no_vector(), self._connection.query(self._name, arguments), None)

    async def asearch(
        self, query: object, options: SearchOptions, retrieval: Retrieval
    ) -> ScoredDocuments:
        """Async :meth:`search`."""
        name = self._names[0]
        if retrieval.mode == "dense":
            embedder = self._encoder.embedder
            vector = (
                await embedder.aquery(query)
                if isinstance(query, str)
                else as_query_vector(query, embedder.dim)  # type: ignore[arg-type]
            )
            points = await self._connection.aquery(self._name, options.arguments(name, vector))
            return options.results(vector, points, name)
        text = _text(query, retrieval)
        vectors = await self._encoder.aquery(
            text,
            dense=retrieval.needs_dense,
            tokens=retrieval.needs_tokens,
            sparse=retrieval.needs_sparse,
        )
        if _no_terms(vectors, retrieval):
            return []
        arguments = retrieval.arguments(vectors, options, self._names)
        points = await self._connection.aquery(self._name, arguments)
        return options.results(_no_vector(), points, None)


def _text(query: object, retrieval: Retrieval) -> str:
    if not isinstance(query, str):
        raise InvalidInputError(
            f"query: mode {retrieval.mode!r} expected a query text, found "
            f"{type(query).__name__}. Pass the text, or search a vector with mode='dense'."
        )
    return query


def _no_terms(vectors: QueryVectors, retrieval: Retrieval) -> bool:
    """A sparse-only query without a single known piece matches nothing."""
    return retrieval.mode == "sparse" and vectors.sparse is not None and not vectors.sparse


def _no_vector() -> np.ndarray:
    return np.zeros(0, dtype=np.float32)
