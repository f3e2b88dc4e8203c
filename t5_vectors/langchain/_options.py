"""The LangChain edge: langchain-qdrant's keywords, translated once into a ``QdrantIndex``.

``T5QdrantVectorStore(embedding, path=..., distance=..., ...)`` and its ``from_texts`` /
``from_documents`` / ``from_existing_collection`` take the flat keywords LangChain users know
from langchain-qdrant and qdrant-client: where to store (:class:`StorageOptions`) and how a new
collection is laid out (:class:`LayoutOptions`). :func:`open_index` turns them, here and only
here, into one :func:`~t5_vectors.storage.open.open_storage` call and one
:class:`~t5_vectors.plan.collection.CollectionSpec`; below this edge a value has one form.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from t5_vectors.errors import InvalidInputError
from t5_vectors.index.embedder import EmbeddingLike
from t5_vectors.index.index import QdrantIndex
from t5_vectors.plan.collection import CollectionSpec, DistanceLike, QuantizationLike
from t5_vectors.plan.vectors import SparseVectors, TokenVectors
from t5_vectors.storage.open import Storage, StorageLike, open_storage
from t5_vectors.storage.retry import RetryPolicy

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient, QdrantClient


class StorageOptions(TypedDict, total=False):
    """Where the collection lives (one of ``storage``, ``path``, ``url``, ``location``,
    ``client``; ``async_client`` beside a client or alone).

    Attributes:
        storage: anything :func:`~t5_vectors.storage.open.open_storage` opens, or an open
            :class:`~t5_vectors.storage.open.Storage` (not closed by the index).
        path: a folder for embedded storage (a folder qdrant-client's local mode wrote opens
            as it is; any other is Qdrant Edge).
        url: a Qdrant server or cluster (``host:port`` means ``http://host:port``).
        location: ``":memory:"`` or a server URL, as ``QdrantClient(location=...)``.
        client: a ``QdrantClient`` (not closed).
        async_client: an ``AsyncQdrantClient`` (native async calls; not closed). Given alone,
            the collection is checked on first use.
        api_key: the server's API key.
        client_options: other ``QdrantClient`` keyword arguments (``prefer_grpc``, ...).
    """

    storage: StorageLike | None
    path: str | os.PathLike[str] | None
    url: str | None
    location: str | None
    client: QdrantClient | None
    async_client: AsyncQdrantClient | None
    api_key: str | None
    client_options: Mapping[str, Any] | None


class LayoutOptions(TypedDict, total=False):
    """How a new collection is laid out (each a :class:`CollectionSpec` field), or ``spec``."""

    spec: CollectionSpec | None
    distance: DistanceLike
    vector_name: str | None
    on_disk: bool
    quantization: QuantizationLike | None
    shard_number: int | None
    replication_factor: int | None
    payload_indexes: Mapping[str, str] | Sequence[str]
    token_vectors: bool | TokenVectors
    sparse_vectors: bool | SparseVectors


class VectorStoreOptions(StorageOptions, LayoutOptions, total=False):
    """Every keyword of ``T5QdrantVectorStore`` besides the embedding and the collection name.

    Attributes:
        recreate: drop the collection if it exists, then create it.
        create_if_missing: create a missing collection (else ``CollectionConfigError``).
        retry: how transient storage failures are retried.
    """

    recreate: bool
    create_if_missing: bool
    retry: RetryPolicy | None


_PLACES = ("storage", "path", "url", "location", "client")
_LAYOUT = frozenset(LayoutOptions.__annotations__) - {"spec"}
_KNOWN = frozenset(VectorStoreOptions.__annotations__)


def open_index(
    embedding: EmbeddingLike, collection_name: str, options: Mapping[str, Any], where: str
) -> QdrantIndex:
    """The ``QdrantIndex`` the keywords *options* describe (*where* names the caller).

    Raises:
        TypeError: a keyword *where* does not take.
        InvalidInputError: two places to store, or ``spec`` beside layout keywords.
    """
    unknown = sorted(set(options) - _KNOWN)
    if unknown:
        raise TypeError(
            f"{where}() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
            f"besides embedding and collection_name it takes: {', '.join(sorted(_KNOWN))}."
        )
    given = {key: value for key, value in options.items() if value is not None}
    places = [key for key in _PLACES if key in given]
    if len(places) > 1 and set(places) != {"url", "location"}:
        raise InvalidInputError(
            f"expected one place to store, found {', '.join(places)}. Pass one of storage=, "
            "path=, url=, location= or client=."
        )
    place: Any = given[places[-1]] if places else given.get("async_client")
    if isinstance(place, os.PathLike):
        place = os.fspath(place)
    if places and places[-1] in ("url", "location") and place != ":memory:":
        place = place if "://" in str(place) else f"http://{place}"  # host:port, as qdrant reads
    async_client = given.get("async_client") if places else None
    storage = open_storage(
        place,
        api_key=given.get("api_key"),
        client_options=given.get("client_options"),
        async_client=async_client,
        name=places[-1] if places else "async_client" if place is not None else "storage",
    )
    layout = {key: value for key, value in options.items() if key in _LAYOUT}
    spec = options.get("spec")
    if spec is not None and layout:
        raise InvalidInputError(
            f"spec: expected it alone or the layout keywords ({', '.join(sorted(layout))}) "
            "alone, found both. Put them in the CollectionSpec."
        )
    return QdrantIndex(
        embedding,
        collection_name=collection_name,
        storage=storage,
        spec=spec if spec is not None else CollectionSpec(**layout),
        recreate=options.get("recreate", False),
        create_if_missing=options.get("create_if_missing", True),
        retry=options.get("retry"),
        close_storage=not isinstance(given.get("storage"), Storage),
    )
