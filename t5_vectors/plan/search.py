"""Search options, the query plan they make, and turning hits into documents.

Maximal marginal relevance is computed here on the *fetch_k* nearest points with LangChain's own
``maximal_marginal_relevance``, so ``lambda_mult`` means what it means everywhere in LangChain:
``1`` ranks by relevance alone (least diversity) and ``0`` maximises diversity. (Qdrant's native
MMR takes a *diversity* weight, the opposite; passing ``lambda_mult`` to it inverts the meaning.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Union, cast

import numpy as np
from langchain_core.documents import Document
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from t5_vectors._checks import check_positive_int
from t5_vectors.errors import InvalidInputError
from t5_vectors.plan.filters import FilterLike, to_filter
from t5_vectors.plan.payload import document_from_payload
from t5_vectors.storage.base import Filter, Hit, Nearest, QueryPlan, SearchParams
from t5_vectors.storage.inputs import engine_search_params

if TYPE_CHECKING:
    from qdrant_client import models


ScoredDocuments = list[tuple[Document, float]]

SearchParamsLike = Union[SearchParams, "models.SearchParams"]
"""What ``search_params=`` accepts (a qdrant ``models.SearchParams`` is translated)."""


@dataclass(frozen=True)
class SearchOptions:
    """One search, validated on creation.

    Attributes:
        k: how many documents to return.
        filter: a qdrant ``models.Filter`` or a dict of metadata values.
        score_threshold: drop results worse than this (Qdrant's score: similarity for cosine
            and dot, distance for euclid and manhattan).
        search_params: search parameters: a :class:`~t5_vectors.storage.base.SearchParams` or
            a qdrant ``models.SearchParams`` (``hnsw_ef``, ``exact``, quantization rescoring).
        fetch_k: for MMR, how many nearest points to choose from; ``None`` is a plain search.
        lambda_mult: for MMR, the relevance weight in ``[0, 1]``.
        source_base: the folder a relative ``source`` in *filter* is resolved against.
    """

    k: int = 4
    filter: FilterLike | None = None
    score_threshold: float | None = None
    search_params: SearchParamsLike | None = None
    fetch_k: int | None = None
    lambda_mult: float = 0.5
    source_base: str | None = None

    def __post_init__(self) -> None:
        check_positive_int("k", self.k)
        if self.fetch_k is not None:
            check_positive_int("fetch_k", self.fetch_k)
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
        object.__setattr__(self, "search_params", search_params(self.search_params))
        object.__setattr__(self, "filter", to_filter(self.filter, base=self.source_base))

    @property
    def is_mmr(self) -> bool:
        """Whether this is a maximal marginal relevance search."""
        return self.fetch_k is not None

    @property
    def where(self) -> Filter | None:
        """The filter, in Qdrant's JSON form."""
        return cast(Filter | None, self.filter)  # made one in __post_init__

    @property
    def params(self) -> SearchParams | None:
        """The search parameters, in the storage seam's terms."""
        return cast(SearchParams | None, self.search_params)  # made one in __post_init__

    def plan(self, vector_name: str | None, vector: np.ndarray) -> QueryPlan:
        """The dense query plan (MMR: the *fetch_k* nearest, with their vectors)."""
        with_vectors: bool | tuple[str, ...] = False
        if self.is_mmr:
            with_vectors = (vector_name or "",)
        return QueryPlan(
            query=Nearest(np.array(vector, dtype=np.float32), using=vector_name or ""),
            limit=max(self.fetch_k or 0, self.k),
            filter=self.where,
            score_threshold=self.score_threshold,
            params=self.params,
            with_payload=True,
            with_vectors=with_vectors,
        )

    def results(
        self, query: np.ndarray, hits: list[Hit], vector_name: str | None
    ) -> ScoredDocuments:
        """``(document, score)`` pairs, best first (MMR order for an MMR search).

        Hits of equal score come in point id order, so the same query gives the same list
        (an engine may return ties in any order: Qdrant Edge's fusion does).
        """
        hits = _ties_by_id(hits)
        if self.is_mmr and hits:
            vectors = [_dense(hit, vector_name) for hit in hits]
            chosen = maximal_marginal_relevance(
                np.asarray(query, dtype=np.float32).reshape(1, -1),
                vectors,  # type: ignore[arg-type]  # numpy rows; it calls np.array on them
                lambda_mult=float(self.lambda_mult),
                k=self.k,
            )
            hits = [hits[i] for i in chosen]
        return [(document_from_payload(hit.id, hit.payload), hit.score) for hit in hits]


def _ties_by_id(hits: list[Hit]) -> list[Hit]:
    """*hits* in the engine's order, runs of equal scores ordered by point id."""
    if all(hits[i].score != hits[i - 1].score for i in range(1, len(hits))):
        return hits
    groups: list[int] = []
    for i, hit in enumerate(hits):
        same = i > 0 and hit.score == hits[i - 1].score
        groups.append(groups[-1] if same else i)
    order = sorted(range(len(hits)), key=lambda i: (groups[i], str(hits[i].id)))
    return [hits[i] for i in order]


def search_params(value: object) -> SearchParams | None:
    """``search_params=`` as the seam's :class:`SearchParams` (``None`` stays ``None``)."""
    if value is None or isinstance(value, SearchParams):
        return value
    translated = engine_search_params(value)
    if translated is not None:
        return translated
    raise InvalidInputError(
        f"search_params: expected a qdrant models.SearchParams, found {type(value).__name__}."
    )


def with_search_options(
    params: SearchParamsLike | None, hnsw_ef: object, exact: object
) -> SearchParamsLike | None:
    """Fold ``hnsw_ef=`` and ``exact=`` into the search parameters, validated."""
    if hnsw_ef is None and not exact:
        return params
    if hnsw_ef is not None and (
        isinstance(hnsw_ef, bool) or not isinstance(hnsw_ef, int) or hnsw_ef < 1
    ):
        raise InvalidInputError(f"hnsw_ef: expected a positive int or None, found {hnsw_ef!r}.")
    if not isinstance(exact, bool):
        raise InvalidInputError(f"exact: expected True or False, found {exact!r}.")
    base = search_params(params) or SearchParams()
    return replace(
        base,
        hnsw_ef=hnsw_ef if hnsw_ef is not None else base.hnsw_ef,
        exact=exact or base.exact,
    )


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


def _dense(hit: Hit, vector_name: str | None) -> np.ndarray:
    vector: Any = (hit.vectors or {}).get(vector_name or "")
    if not isinstance(vector, np.ndarray) or vector.ndim != 1:
        raise InvalidInputError(
            f"point {hit.id}: expected a dense vector, found {type(vector).__name__}."
        )
    return vector
