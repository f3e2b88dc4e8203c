"""The keyword options of ``QdrantIndex.search`` and ``QdrantIndex.mmr``, typed and parsed.

:class:`SearchKwargs` are the options of ``search`` / ``asearch`` and :class:`MmrKwargs` those
of ``mmr`` / ``ammr`` (documented on the methods); :func:`search_options` and
:func:`mmr_options` turn them into the plans' :class:`~t5_vectors.plan.search.SearchOptions`
and :class:`~t5_vectors.plan.retrieval.Retrieval`, refusing a misspelt one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, TypedDict

from t5_vectors.plan.filters import FilterLike
from t5_vectors.plan.modes import Fusion, Mode
from t5_vectors.plan.retrieval import Retrieval
from t5_vectors.plan.search import SearchOptions, SearchParamsLike, with_search_options


class SearchKwargs(TypedDict, total=False):
    """The options of ``QdrantIndex.search`` (documented there)."""

    k: int
    filter: FilterLike | None
    score_threshold: float | None
    search_params: SearchParamsLike | None
    hnsw_ef: int | None
    exact: bool
    mode: Mode
    fusion: Fusion
    dense_limit: int | None
    sparse_limit: int | None
    rrf_k: int | None


class MmrKwargs(TypedDict, total=False):
    """The options of ``QdrantIndex.mmr`` (documented there)."""

    k: int
    fetch_k: int
    lambda_mult: float
    filter: FilterLike | None
    score_threshold: float | None
    search_params: SearchParamsLike | None
    hnsw_ef: int | None
    exact: bool


_DEFAULTS: dict[str, Any] = {
    "k": 4,
    "filter": None,
    "score_threshold": None,
    "search_params": None,
    "hnsw_ef": None,
    "exact": False,
}
_SEARCH_KEYS = frozenset(SearchKwargs.__annotations__)
_MMR_KEYS = frozenset(MmrKwargs.__annotations__)


def _known(options: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(options.keys() - allowed)
    if unknown:
        raise TypeError(
            f"{where}() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
            f"it takes {', '.join(sorted(allowed))}."
        )


def search_options(options: Mapping[str, Any]) -> tuple[SearchOptions, Retrieval]:
    """``search``'s keywords as the search options and the retrieval mode (a relative
    ``source`` in the filter resolved against the working folder)."""
    _known(options, _SEARCH_KEYS, "search")
    given = {**_DEFAULTS, **options}
    params = with_search_options(given["search_params"], given["hnsw_ef"], given["exact"])
    search = SearchOptions(
        given["k"], given["filter"], given["score_threshold"], params, source_base=os.getcwd()
    )
    retrieval = Retrieval(
        options.get("mode", "dense"),
        options.get("fusion", "rrf"),
        options.get("dense_limit"),
        options.get("sparse_limit"),
        options.get("rrf_k"),
    )
    return search, retrieval


def mmr_options(options: Mapping[str, Any]) -> tuple[SearchOptions, Retrieval]:
    """``mmr``'s keywords as the search options (with ``fetch_k`` and ``lambda_mult``)."""
    _known(options, _MMR_KEYS, "mmr")
    given = {**_DEFAULTS, "fetch_k": 20, "lambda_mult": 0.5, **options}
    params = with_search_options(given["search_params"], given["hnsw_ef"], given["exact"])
    search = SearchOptions(
        given["k"],
        given["filter"],
        given["score_threshold"],
        params,
        given["fetch_k"],
        given["lambda_mult"],
        os.getcwd(),
    )
    return search, Retrieval()
