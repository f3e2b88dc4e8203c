"""Search options, the Qdrant query they make, and turning scored points into documents.

Maximal marginal relevance is computed here on the *fetch_k* nearest points with LangChain's own
``maximal_marginal_relevance``, so ``lambda_mult`` means what it means everywhere in LangChain:
``1`` ranks by relevance alone (least diversity) and ``0`` maximises diversity. (Qdrant's native
MMR takes a *diversity* weight, the opposite; passing ``lambda_mult`` to it inverts the meaning.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.vectorstores.utils import maximal_marginal_relevance
from qdrant_client import models

from t5_vectors.errors import InvalidInputError
from t5_vectors.qdrant.filters import FilterLike, to_filter
from t5_vectors.qdrant.payload import document_from_payload

__all__ = ["ScoredDocuments", "SearchOptions", "as_query_vector"]

ScoredDocuments = list[tuple[Document, float]]


@dataclass(frozen=True)
class SearchOptions:
    """One search, validated on creation.

    Attributes:
        k: how many documents to return.
        filter: a qdrant ``models.Filter`` or a dict of metadata values.
        score_threshold: drop results worse than this (Qdrant's score: similarity for cosine
            and dot, distance for euclid and manhattan).
        search_params: qdrant search parameters (``hnsw_ef``, ``exact``, quantization).
        fetch_k: for MMR, how many nearest points to choose from; ``None`` is a plain search.
        lambda_mult: for MMR, the relevance weight in ``[0, 1]``.
    """

    k: int = 4
    filter: FilterLike | None = None
    score_threshold: float | None = None
    search_params: models.SearchParams | None = None
    fetch_k: int | None = None
    lambda_mult: float = 0.5

    def __post_init__(self) -> None:
        _check_positive("k", self.k)
        if self.fetch_k is not None:
            _check_positive("fetch_k", self.fetch_k)
        threshold = self.score_threshold
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, (int, float))
        ):
            raise InvalidInputError(
                f"score_threshold: expected a number or None, found {threshold!r}."
            )
        lam = self.lambda_mult
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0 <= lam <= 1:
            raise InvalidInputError(
                "lambda_mult: expected a number in [0, 1] (1 = most relevant, least diverse), "
                f"found {lam!r}."
            )
        if self.search_params is not None and not isinstance(
            self.search_params, models.SearchParams
        ):
            raise InvalidInputError(
                "search_params: expected a qdrant models.SearchParams, found "
                f"{type(self.search_params).__name__}."
            )
        object.__setattr__(self, "filter", to_filter(self.filter))

    @property
    def is_mmr(self) -> bool:
        """Whether this is a maximal marginal relevance search."""
        return self.fetch_k is not None

    def arguments(self, vector_name: str | None, vector: np.ndarray) -> dict[str, Any]:
        """Keyword arguments of ``query_points`` (collection name aside)."""
        with_vectors: bool | list[str] = False
        if self.is_mmr:
            with_vectors = True if vector_name is None else [vector_name]
        return {
            # A numpy array, not a list: embedded Qdrant deep-copies the query (a list of floats
            # costs ~1 ms per search at 768 dims; an array, one memcpy); servers get it serialised.
            "query": np.array(vector, dtype=np.float32),
            "using": vector_name,
            "limit": max(self.fetch_k or 0, self.k),
            "query_filter": self.filter,
            "score_threshold": self.score_threshold,
            "search_params": self.search_params,
            "with_payload": True,
            "with_vectors": with_vectors,
        }

    def results(
        self, query: np.ndarray, points: list[models.ScoredPoint], vector_name: str | None
    ) -> ScoredDocuments:
        """``(document, score)`` pairs, best first (MMR order for an MMR search)."""
        if self.is_mmr and points:
            vectors = [_dense(point, vector_name) for point in points]
            chosen = maximal_marginal_relevance(
                np.asarray(query, dtype=np.float32).reshape(1, -1),
                vectors,
                lambda_mult=float(self.lambda_mult),
                k=self.k,
            )
            points = [points[i] for i in chosen]
        return [(document_from_payload(_key(p.id), p.payload), p.score) for p in points]


def as_query_vector(vector: Sequence[float] | np.ndarray, dim: int) -> np.ndarray:
    """*vector* as float32 ``(dim,)``, or :class:`InvalidInputError`."""
    if isinstance(vector, bytes | bytearray) or not isinstance(vector, Sequence | np.ndarray):
        fix = (
            " Decode it first: data.decode('utf-8', errors='replace')."
            if isinstance(vector, bytes | bytearray)
            else ""
        )
        raise InvalidInputError(
            f"query: expected a query text (str) or a vector of {dim} floats, found "
            f"{type(vector).__name__}.{fix}"
        )
    try:
        array = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(
            f"query: expected a query text (str) or a vector of {dim} floats, found "
            f"{type(vector).__name__}."
        ) from err
    if array.ndim != 1 or array.shape[0] != dim:
        raise InvalidInputError(
            f"vector: expected {dim} floats (the embedding model's size), found shape "
            f"{array.shape}. Embed queries with the collection's model, or pass the text."
        )
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise InvalidInputError(
            f"vector: expected finite floats, found {array[bad[0]]} at index {bad[0]} "
            f"({bad.size} non-finite in all). The model or the code computing the vector "
            "produced NaN or infinity; recompute it."
        )
    return array


def _key(point_id: object) -> str | int:
    return point_id if isinstance(point_id, int) else str(point_id)


def _dense(point: models.ScoredPoint, vector_name: str | None) -> list[float]:
    vector: Any = point.vector
    if isinstance(vector, Mapping):
        vector = vector.get(vector_name or "")
    if not isinstance(vector, list) or (vector and not isinstance(vector[0], (int, float))):
        raise InvalidInputError(
            f"point {point.id}: expected a dense vector, found {type(vector).__name__}."
        )
    return vector


def _check_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name}: expected a positive int, found {value!r}.")
