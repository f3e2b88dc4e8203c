"""Search modes beyond the pooled vector, each one query plan (one engine query).

========  ==============================================================================
mode      what Qdrant does
========  ==============================================================================
dense     nearest pooled vectors (the default; :mod:`t5_vectors.plan.search`)
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
from typing import TypeVar

import numpy as np

from t5_vectors.encoder.sparse import SparseTerms
from t5_vectors.errors import InvalidInputError
from t5_vectors.plan.modes import FUSIONS, MODES, Fusion, Mode
from t5_vectors.plan.search import SearchOptions
from t5_vectors.plan.vectors import to_sparse_vector
from t5_vectors.storage.base import Fuse, Nearest, Prefetch, QueryPlan

_MIN_PREFETCH = 20
_T = TypeVar("_T")


@dataclass(frozen=True)
class QueryVectors:
    """What one query is searched with (each part only when the mode needs it)."""

    dense: np.ndarray | None = None
    tokens: list[list[float]] | None = None
    sparse: SparseTerms | None = None


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

    def plan(
        self,
        query: QueryVectors,
        options: SearchOptions,
        names: tuple[str | None, str | None, str | None],
    ) -> QueryPlan:
        """The query plan of this mode.

        Args:
            query: the query's vectors.
            options: ``k``, filter, score threshold and search params.
            names: the pooled, token and sparse vector names.
        """
        dense_name, token_name, sparse_name = names
        where = options.where
        dense_limit = self.dense_limit or max(4 * options.k, _MIN_PREFETCH)

        def plan(
            scoring: Nearest | Fuse, prefetch: tuple[Prefetch, ...] = (), params: bool = False
        ) -> QueryPlan:
            return QueryPlan(
                query=scoring,
                limit=options.k,
                prefetch=prefetch,
                filter=where,
                score_threshold=options.score_threshold,
                params=options.params if params else None,
            )

        if self.mode == "maxsim":
            tokens = Nearest(self._tokens(query), using=token_name or "")
            return plan(tokens, params=True)
        if self.mode == "sparse":
            terms = to_sparse_vector(self._part(query.sparse, "BM25 weights"))
            return plan(Nearest(terms, using=sparse_name or ""), params=True)
        dense = Prefetch(
            query=Nearest(
                np.asarray(self._part(query.dense, "pooled vector"), dtype=np.float32),
                using=dense_name or "",
            ),
            limit=dense_limit,
            filter=where,
            params=options.params,
        )
        if self.mode == "rerank":
            return plan(Nearest(self._tokens(query), using=token_name or ""), (dense,))
        sparse_stage = Prefetch(
            query=Nearest(
                to_sparse_vector(self._part(query.sparse, "BM25 weights")),
                using=sparse_name or "",
            ),
            limit=self.sparse_limit or max(4 * options.k, _MIN_PREFETCH),
            filter=where,
        )
        fusion = Fuse(method=self.fusion, rrf_k=self.rrf_k)
        return plan(fusion, (dense, sparse_stage))

    def _part(self, value: _T | None, what: str) -> _T:
        """*value*, the part of a query this mode needs, or an error naming what is missing."""
        if value is None:
            raise InvalidInputError(
                f"query: mode {self.mode!r} expected the query's {what}, found none. Make the "
                "query vectors with the index's encoder (QdrantIndex.search does)."
            )
        return value

    def _tokens(self, query: QueryVectors) -> np.ndarray:
        return np.asarray(self._part(query.tokens, "token vectors"), dtype=np.float32)
