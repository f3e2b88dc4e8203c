"""The storage seam: one backend protocol in t5-vectors' own types.

Everything above this layer (``QdrantIndex``, the vector store, file sync, the CLI, the Ray
datasink) talks to a :class:`Backend` and never to an engine. Each backend is a short adapter
that translates these types to one engine: Qdrant Edge (embedded, in-process) or qdrant-client
(server, cluster, ``:memory:``, folders written by qdrant-client's local mode). Engine types do
not appear here; this module imports numpy and the standard library only.

Conventions:

* A vector name ``""`` is the unnamed (default) vector, as langchain-qdrant writes it.
* Point ids are what Qdrant stores: an unsigned int or a UUID string (t5-vectors maps user ids
  to UUIDs above this layer, :mod:`t5_vectors.plan.ids`).
* A filter is Qdrant's filter in its JSON form (the REST API's), for example
  ``{"must": [{"key": "metadata.source", "match": {"value": "a.md"}}]}``. A
  ``qdrant_client.models.Filter`` given by a user is turned into this form at the public API
  (``model_dump(exclude_none=True, mode="json")``); each backend parses it for its engine.
* Dense vectors are 1-D float32 arrays, multivectors (token vectors) 2-D float32 arrays
  ``(n_tokens, dim)``; a backend storing ``float16`` converts.
* Sync is the engine's truth. :class:`AsyncBackend` has the same calls as coroutines; over an
  in-process engine it runs the sync call on a worker thread, never on the event loop.

Contract changes (clarifications made while wiring the package through this seam; one call,
``set_payload``, was added since):

1. ``delete(ids=..., filter=...)`` with both deletes the listed points that match the filter
   (``IdLookup`` deletes foreign ids only where ``document_id`` is empty). One of the two is
   required; ``filter={"must": []}`` deletes every point.
2. ``create`` also creates the payload indexes listed in ``schema.payload_indexes`` (engines
   without payload indexes, such as local mode, skip them). Every collection ``QdrantIndex``
   creates lists ``"metadata.source": "keyword"`` (file sync scans by source).
3. ``Point.vectors`` names the unnamed vector ``""`` even when it is the only vector.
4. The pipeline reads the sync backend at each call (``index.backend``, the same object as
   ``index.connection.backend``), so a test may wrap that instance's ``retrieve`` / ``upsert``
   / ``build_index`` to trace or kill at exact points (``tests/reliability/crash_child.py``).
5. ``Backend.kind`` values in use: ``"edge"``, ``"local-mode"``, ``"memory"``, ``"server"``,
   for messages. What a backend can do is declared by ``Backend.capabilities``
   (:class:`Capabilities`); callers decide by it, never by ``kind`` (file sync scans in one
   pass where there are no payload indexes; Ray workers write only to shared storage).
6. ``set_payload(collection, [(point id, {key: value}), ...])`` merges the given top-level keys
   into each existing point's payload (Qdrant's *set payload*: other keys and the vectors stay;
   a point that does not exist is left absent). File sync records a file's digest on its first
   chunk this way once all its chunks are stored (:mod:`t5_vectors.files.ingest`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict, Unpack, runtime_checkable

import numpy as np

PointId = int | str
"""A stored point id: an unsigned int or a UUID string."""

Filter = Mapping[str, Any]
"""A Qdrant filter in its JSON (REST) form."""

Distance = Literal["cosine", "dot", "euclid", "manhattan"]
PayloadIndexKind = Literal["keyword", "integer", "float", "bool", "text", "uuid", "datetime"]

Progress = Callable[[int, int | None], None]
"""``progress(done, total)``: called as a long operation advances (``total`` may be unknown)."""


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; callers branch on these, never on ``Backend.kind``.

    Attributes:
        payload_indexes: payload keys can be indexed (else a filter scans every point).
        sparse: sparse vectors (BM25, hybrid search).
        multivector: multivectors scored by MaxSim (token vectors).
        native_async: async calls need no worker thread (an ``AsyncQdrantClient``).
        durable: what is written outlives the process (a folder or a server).
        shared: other processes reach the same collections at the same time (a server or
            cluster: Ray workers can write to it); embedded storage serves one process.
    """

    payload_indexes: bool
    sparse: bool = True
    multivector: bool = True
    native_async: bool = False
    durable: bool = True
    shared: bool = False


# --- collection layout ---------------------------------------------------------------------


@dataclass(frozen=True)
class Quantization:
    """Vector quantization; the original vectors are kept for rescoring.

    Attributes:
        kind: ``"scalar"`` (int8), ``"binary"`` or ``"product"``.
        always_ram: keep the quantized vectors in RAM.
        quantile: scalar only: the quantile that bounds the int8 range.
        compression: product only: ``"x4"``, ``"x8"``, ``"x16"``, ``"x32"`` or ``"x64"``.
    """

    kind: Literal["scalar", "binary", "product"]
    always_ram: bool | None = None
    quantile: float | None = None
    compression: str | None = None


@dataclass(frozen=True)
class Hnsw:
    """HNSW index parameters. ``m=0`` builds no graph (exact search only)."""

    m: int = 16
    ef_construct: int = 100
    full_scan_threshold: int | None = None
    on_disk: bool | None = None


@dataclass(frozen=True)
class DenseVectorSpec:
    """A dense vector or a multivector (token vectors, compared by MaxSim).

    Attributes:
        size: the number of dimensions.
        distance: the distance.
        multivector: a list of vectors per point, scored by MaxSim.
        datatype: ``"float32"``, ``"float16"`` or ``"uint8"`` as stored.
        on_disk: keep the vectors on disk (memory-mapped).
        quantization: this vector's quantization (``None``: the collection's).
        hnsw: this vector's HNSW parameters (``None``: the collection's).
    """

    size: int
    distance: Distance = "cosine"
    multivector: bool = False
    datatype: Literal["float32", "float16", "uint8"] = "float32"
    on_disk: bool = False
    quantization: Quantization | None = None
    hnsw: Hnsw | None = None


@dataclass(frozen=True)
class SparseVectorSpec:
    """A sparse vector; ``idf`` has the engine apply inverse document frequency at query time."""

    idf: bool = True
    on_disk: bool = False


@dataclass(frozen=True)
class Schema:
    """What a collection stores and how: the seam's description of a collection.

    Attributes:
        dense: dense vectors and multivectors by name (``""``: the unnamed vector).
        sparse: sparse vectors by name.
        quantization: the collection's quantization (each vector may override it).
        hnsw: the collection's HNSW parameters (each vector may override them).
        payload_indexes: indexed payload keys (JSON paths such as ``"metadata.source"``).
        metadata: the collection's metadata (t5-vectors' model record lives here). Qdrant
            servers store it in the collection; Qdrant Edge in a sidecar file.
        on_disk_payload: keep payloads on disk.
        shard_number: server only: shards of a new collection (ignored in process).
        replication_factor: server only: replicas per shard.
        write_consistency_factor: server only: replicas that must acknowledge a write.
    """

    dense: Mapping[str, DenseVectorSpec]
    sparse: Mapping[str, SparseVectorSpec] = field(default_factory=dict)
    quantization: Quantization | None = None
    hnsw: Hnsw | None = None
    payload_indexes: Mapping[str, PayloadIndexKind] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    on_disk_payload: bool | None = None
    shard_number: int | None = None
    replication_factor: int | None = None
    write_consistency_factor: int | None = None


@dataclass(frozen=True)
class CollectionStats:
    """Counts a collection reports (``indexed_vectors`` is the engine's own estimate)."""

    points: int
    indexed_vectors: int
    segments: int | None = None
    status: str | None = None


# --- points ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SparseVector:
    """A sparse vector: strictly increasing ``indices`` and their ``values``."""

    indices: tuple[int, ...]
    values: tuple[float, ...]


VectorValue = np.ndarray | SparseVector
"""A dense vector (1-D), a multivector (2-D) or a sparse vector."""


@dataclass(frozen=True)
class Point:
    """A point to write: its id, every named vector and its payload."""

    id: PointId
    vectors: Mapping[str, VectorValue]
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Record:
    """A stored point as read back (``vectors`` only when asked for)."""

    id: PointId
    payload: Mapping[str, Any] | None = None
    vectors: Mapping[str, VectorValue] | None = None


@dataclass(frozen=True, kw_only=True)
class Hit(Record):
    """A point found by a query: a :class:`Record` with its score."""

    score: float


# --- queries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Nearest:
    """Score by similarity to ``vector`` on the vector named ``using`` (dense, MaxSim, sparse)."""

    vector: VectorValue
    using: str = ""


@dataclass(frozen=True)
class Fuse:
    """Fuse the prefetch lists: ``"rrf"`` (reciprocal rank, constant ``rrf_k``) or ``"dbsf"``."""

    method: Literal["rrf", "dbsf"] = "rrf"
    rrf_k: int | None = None


@dataclass(frozen=True)
class Mmr:
    """Maximal marginal relevance over ``candidates`` nearest points of ``vector``.

    ``diversity`` is 0 (relevance only) to 1 (diversity only), LangChain's ``1 - lambda_mult``.
    """

    vector: np.ndarray
    using: str = ""
    diversity: float = 0.5
    candidates: int = 20


Scoring = Nearest | Fuse | Mmr


@dataclass(frozen=True)
class SearchParams:
    """Search-time parameters: ``hnsw_ef`` (beam width), ``exact`` (no index), quantization."""

    hnsw_ef: int | None = None
    exact: bool = False
    rescore: bool | None = None
    oversampling: float | None = None


@dataclass(frozen=True)
class Prefetch:
    """A stage whose results the stage above re-scores or fuses."""

    query: Scoring | None
    limit: int
    filter: Filter | None = None
    params: SearchParams | None = None
    prefetch: tuple[Prefetch, ...] = ()


@dataclass(frozen=True)
class QueryPlan:
    """One query: its scoring, optional prefetch stages, filter and what to return."""

    query: Scoring | None
    limit: int
    prefetch: tuple[Prefetch, ...] = ()
    filter: Filter | None = None
    score_threshold: float | None = None
    offset: int = 0
    params: SearchParams | None = None
    with_payload: bool | tuple[str, ...] = True
    with_vectors: bool | tuple[str, ...] = False


# --- read options ----------------------------------------------------------------------------


class Fields(TypedDict, total=False):
    """What a read returns of each point besides its id.

    Attributes:
        with_payload: the payload (``True``, the default), none, or only the keys named.
        with_vectors: the vectors (``False``, the default), all, or only the ones named.
    """

    with_payload: bool | tuple[str, ...]
    with_vectors: bool | tuple[str, ...]


class Page(Fields, total=False):
    """One page of a scroll, in id order.

    Attributes:
        filter: only the points it matches (``None``: all).
        limit: points on the page at most (default 256).
        offset: the first id of the page (``None``: from the start); each page returns the
            next one, ``None`` after the last.
    """

    filter: Filter | None
    limit: int
    offset: PointId | None


# --- the protocol ----------------------------------------------------------------------------


@runtime_checkable
class Backend(Protocol):
    """One storage engine. Every call is synchronous and safe to call from several threads.

    ``kind`` is ``"edge"``, ``"local-mode"``, ``"memory"`` or ``"server"`` and ``location`` the
    folder or URL, both for messages (never a secret); ``capabilities`` says what it can do.
    """

    kind: str
    location: str
    capabilities: Capabilities

    def list_collections(self) -> list[str]: ...
    def describe(self, collection: str) -> Schema | None: ...
    def stats(self, collection: str) -> CollectionStats: ...
    def create(self, collection: str, schema: Schema) -> None: ...
    def drop(self, collection: str) -> bool: ...
    def set_metadata(self, collection: str, metadata: Mapping[str, Any]) -> None: ...
    def create_payload_index(self, collection: str, key: str, kind: PayloadIndexKind) -> None: ...
    def upsert(self, collection: str, points: Sequence[Point]) -> None: ...
    def set_payload(
        self, collection: str, updates: Sequence[tuple[PointId, Mapping[str, Any]]]
    ) -> None: ...
    def retrieve(
        self, collection: str, ids: Sequence[PointId], **fields: Unpack[Fields]
    ) -> list[Record]: ...
    def scroll(
        self, collection: str, **page: Unpack[Page]
    ) -> tuple[list[Record], PointId | None]: ...
    def query(self, collection: str, plan: QueryPlan) -> list[Hit]: ...
    def count(self, collection: str, filter: Filter | None = None) -> int: ...
    def delete(
        self,
        collection: str,
        *,
        ids: Sequence[PointId] | None = None,
        filter: Filter | None = None,
    ) -> None: ...
    def build_index(self, collection: str, *, progress: Progress | None = None) -> None: ...
    def close(self) -> None: ...


@runtime_checkable
class AsyncBackend(Protocol):
    """:class:`Backend` as coroutines (native for servers, a worker thread in process)."""

    kind: str
    location: str
    capabilities: Capabilities

    async def list_collections(self) -> list[str]: ...
    async def describe(self, collection: str) -> Schema | None: ...
    async def stats(self, collection: str) -> CollectionStats: ...
    async def create(self, collection: str, schema: Schema) -> None: ...
    async def drop(self, collection: str) -> bool: ...
    async def set_metadata(self, collection: str, metadata: Mapping[str, Any]) -> None: ...
    async def create_payload_index(
        self, collection: str, key: str, kind: PayloadIndexKind
    ) -> None: ...
    async def upsert(self, collection: str, points: Sequence[Point]) -> None: ...
    async def set_payload(
        self, collection: str, updates: Sequence[tuple[PointId, Mapping[str, Any]]]
    ) -> None: ...
    async def retrieve(
        self, collection: str, ids: Sequence[PointId], **fields: Unpack[Fields]
    ) -> list[Record]: ...
    async def scroll(
        self, collection: str, **page: Unpack[Page]
    ) -> tuple[list[Record], PointId | None]: ...
    async def query(self, collection: str, plan: QueryPlan) -> list[Hit]: ...
    async def count(self, collection: str, filter: Filter | None = None) -> int: ...
    async def delete(
        self,
        collection: str,
        *,
        ids: Sequence[PointId] | None = None,
        filter: Filter | None = None,
    ) -> None: ...
    async def build_index(self, collection: str, *, progress: Progress | None = None) -> None: ...
    async def close(self) -> None: ...


CALLS: tuple[str, ...] = tuple(
    name for name, value in vars(Backend).items() if callable(value) and not name.startswith("_")
)
"""The names of the protocol's calls, in declaration order (adapters that wrap every call,
such as :mod:`~t5_vectors.storage.threaded` and :mod:`~t5_vectors.storage.retry`, are built
from it)."""
