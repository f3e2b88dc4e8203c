"""The keyword options of ``QdrantIndex`` and its searches, grouped by what they configure.

``QdrantIndex(embedding, collection_name=..., storage=..., spec=..., ...)`` takes where to
store as one ``storage`` value and how the collection is laid out as one
:class:`~t5_vectors.plan.collection.CollectionSpec`. The familiar flat keywords still work and
are typed here: the storage shorthands of :class:`StorageOptions` (``path=``, ``url=``,
``client=``, ... as in langchain-qdrant and qdrant-client) and the layout shorthands of
:class:`LayoutOptions` (``distance=``, ``token_vectors=``, ...), each folded into its group.
:class:`SearchKwargs` are the options of ``search`` / ``asearch`` and :class:`MmrKwargs` those
of ``mmr`` / ``ammr``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from t5_vectors.errors import InvalidInputError
from t5_vectors.plan.collection import CollectionSpec, DistanceLike, QuantizationLike
from t5_vectors.plan.filters import FilterLike
from t5_vectors.plan.retrieval import Fusion, Mode
from t5_vectors.plan.search import SearchParamsLike
from t5_vectors.plan.vectors import SparseVectors, TokenVectors, layout_options

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient, QdrantClient

    from t5_vectors.storage.base import Backend

__all__ = [
    "IndexOptions",
    "LayoutOptions",
    "MmrKwargs",
    "SearchKwargs",
    "StorageOptions",
    "layout_spec",
    "storage_arguments",
]


class StorageOptions(TypedDict, total=False):
    """Where the collection lives, as separate keywords (``storage=`` takes any one of them).

    Attributes:
        path: a folder for embedded storage (a folder qdrant-client's local mode wrote opens
            as it is; any other is Qdrant Edge).
        url: a Qdrant server or cluster.
        location: ``":memory:"`` or a server URL, as ``QdrantClient(location=...)``.
        client: a ``QdrantClient`` (not closed by ``close``).
        async_client: an ``AsyncQdrantClient`` (native async calls; not closed). Given alone,
            the collection is checked on first use.
        backend: a storage :class:`~t5_vectors.storage.base.Backend` to share (not closed).
        api_key: the server's API key.
        client_options: other ``QdrantClient`` keyword arguments (``prefer_grpc``, ...).
    """

    path: str | os.PathLike[str] | None
    url: str | None
    location: str | None
    client: QdrantClient | None
    async_client: AsyncQdrantClient | None
    backend: Backend | None
    api_key: str | None
    client_options: Mapping[str, Any] | None


class LayoutOptions(TypedDict, total=False):
    """How a new collection is laid out, as separate keywords (``spec=`` takes them together).

    Each is the :class:`~t5_vectors.plan.collection.CollectionSpec` field of that name, but
    ``token_vectors`` and ``sparse_vectors`` also take ``True`` (the defaults).
    """

    distance: DistanceLike
    vector_name: str | None
    on_disk: bool
    quantization: QuantizationLike | None
    shard_number: int | None
    replication_factor: int | None
    payload_indexes: Mapping[str, str] | Sequence[str]
    token_vectors: bool | TokenVectors
    sparse_vectors: bool | SparseVectors


class IndexOptions(StorageOptions, LayoutOptions, total=False):
    """Every flat keyword ``QdrantIndex`` takes besides its grouped parameters."""


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


_STORAGE_KEYS = frozenset(StorageOptions.__annotations__)
_LAYOUT_KEYS = frozenset(LayoutOptions.__annotations__)


def split_options(options: Mapping[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """*options* as (storage keywords, layout keywords); an unknown one is a ``TypeError``."""
    unknown = sorted(set(options) - _STORAGE_KEYS - _LAYOUT_KEYS)
    if unknown:
        known = ", ".join(sorted(_STORAGE_KEYS | _LAYOUT_KEYS))
        raise TypeError(
            f"{where}() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
            f"besides embedding, collection_name, storage, spec, recreate, create_if_missing "
            f"and retry it takes: {known}."
        )
    storage = {k: v for k, v in options.items() if k in _STORAGE_KEYS and v is not None}
    layout = {k: v for k, v in options.items() if k in _LAYOUT_KEYS}
    return storage, layout


def storage_arguments(storage: object, options: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``open_storage``'s (where, keywords) from ``storage=`` or the storage shorthands."""
    places = [key for key in ("path", "url", "location", "client", "backend") if key in options]
    given = [*places, *(["async_client"] if "async_client" in options else [])]
    if storage is not None and given:
        raise InvalidInputError(
            f"storage: expected it alone or the keywords {', '.join(given)} alone, found both. "
            "Pass one of them."
        )
    if len(places) > 1 and not (set(places) == {"url", "location"}):
        raise InvalidInputError(
            f"expected one place to store, found {', '.join(places)}. Pass one of path=, url=, "
            "location=, client= or backend= (or storage=)."
        )
    where, name = storage, "storage"
    for key in places:
        where, name = options[key], key
    keywords: dict[str, Any] = {
        "name": name,
        "api_key": options.get("api_key"),
        "client_options": options.get("client_options"),
        "async_client": options.get("async_client"),
    }
    if where is None and options.get("async_client") is not None:
        where, keywords["async_client"] = options["async_client"], None
        keywords["name"] = "async_client"
    if isinstance(where, os.PathLike):
        where = os.fspath(where)
    server = "url" in options or "location" in options
    if server and isinstance(where, str) and where != ":memory:" and "://" not in where:
        where = f"http://{where}"  # a host:port, as qdrant-client reads it
    return where, keywords


def layout_spec(spec: object, layout: Mapping[str, Any], d_model: int | None) -> CollectionSpec:
    """The collection's spec from ``spec=`` or the layout shorthands, token vectors sized."""
    if spec is not None:
        if layout:
            raise InvalidInputError(
                f"spec: expected it alone or the layout keywords ({', '.join(sorted(layout))}) "
                "alone, found both. Put them in the CollectionSpec."
            )
        if not isinstance(spec, CollectionSpec):
            raise InvalidInputError(
                f"spec: expected a CollectionSpec, found {type(spec).__name__}."
            )
        tokens, sparse = layout_options(
            spec.token_vectors or False, spec.sparse_vectors or False, d_model
        )
        if tokens == spec.token_vectors and sparse == spec.sparse_vectors:
            return spec
        layout = {**_fields(spec), "token_vectors": tokens, "sparse_vectors": sparse}
        return CollectionSpec(**layout)
    tokens, sparse = layout_options(
        layout.get("token_vectors", False), layout.get("sparse_vectors", False), d_model
    )
    return CollectionSpec(**{**layout, "token_vectors": tokens, "sparse_vectors": sparse})


def _fields(spec: CollectionSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in CollectionSpec.__dataclass_fields__}
