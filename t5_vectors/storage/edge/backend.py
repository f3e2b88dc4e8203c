"""The embedded storage backend: Qdrant's own engine in process (Qdrant Edge).

A data folder holds one Edge shard per collection, and nothing else::

    <folder>/edge/.lock                      held (flock) while a backend has the folder open
    <folder>/edge/<collection>/collection.json  the Schema as created (+ metadata), the sidecar
    <folder>/edge/<collection>/shard/        the Edge shard: wal/, segments/, edge_config.json
    <folder>/edge/<collection>/index-pending present while written points wait for the index

A collection exists when its sidecar does: :meth:`EdgeBackend.create` writes the sidecar first
(atomically) and then the shard, and a shard missing after a crash is created on first use;
:meth:`EdgeBackend.drop` removes the sidecar first. Opening a folder creates nothing: the
``edge/`` folder and its lock appear with the first collection.

Indexes: new points land in an appendable segment that is searched exactly. The HNSW index
(and quantized copies) are built by :meth:`EdgeBackend.build_index`, which runs when an ingest
ends, when the backend closes with unindexed points, and inside :meth:`EdgeBackend.upsert` once
``index_after`` points have been written since the last build. The ``index-pending`` marker
makes a process that finds points left unindexed by a crashed one build the index on close.

Memory: the original vectors of quantized vectors stay on disk, memory-mapped and read on demand
(searches walk the int8 copy in RAM and read originals to rescore their candidates); each index
build is followed by a flush, which lets Edge drop the segments the build replaced.

Disk: every write, build, shard load and collection creation first checks the free space of the
folder's disk (:mod:`t5_vectors.storage.edge.space`) and raises
:class:`~t5_vectors.errors.StorageFullError` rather than let a memory-mapped write end the
process with ``SIGBUS``.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import qdrant_edge as qe

from t5_vectors.errors import (
    CollectionConfigError,
    InvalidInputError,
    StorageFullError,
    StorageLockedError,
)
from t5_vectors.storage.base import (
    Capabilities,
    CollectionStats,
    Filter,
    Hit,
    Hnsw,
    PayloadIndexKind,
    Point,
    PointId,
    Progress,
    Quantization,
    QueryPlan,
    Record,
    Schema,
)
from t5_vectors.storage.edge import convert, sidecar, space
from t5_vectors.storage.edge.filters import to_edge_filter
from t5_vectors.storage.edge.locks import FolderLock, ReadWriteLock, locked_message

DEFAULT_HNSW = Hnsw(m=32, ef_construct=100)
"""HNSW parameters where a schema gives none.

Measured by ``benchmarks/store.py`` (real-text vectors x 768 from a random-weight T5, held-out
queries, recall@10 against exact search; docs/benchmarks.md), with the default int8
quantization and oversampling 2, at ``hnsw_ef`` 256: on 20k documents m 32 / ef_construct 100
gave 0.9890 with a 3.7 s build, m 32 / 200 gave 0.9934 in 6.0 s and Qdrant's m 16 / 100 0.9840
in 3.6 s; on 100k, m 32 / 100 gave 0.9800 in 29.6 s and m 32 / 200 0.9840 in 56.7 s. The build
is most of an embedded ingest's time, so ef_construct 100 halves it for 0.004 of recall (and
:data:`DEFAULT_HNSW_EF` is 512, which gives the recall back at 100k).
"""

DEFAULT_HNSW_EF = 512
"""The search beam width where a query gives none, in a collection of more than
:data:`SMALL_COLLECTION` points (smaller ones use :data:`DEFAULT_HNSW_EF_SMALL`). Measured by
``benchmarks/store.py`` with the defaults around it (m 32 / ef_construct 100, int8, oversampling
2), recall@10 against exact search: on 20k documents, Edge alone, 0.9912 / 0.9938 / 0.9956 at
256 / 384 / 512 (941 / 715 / 574 searches/s from one thread). On 100k, HNSW builds differ (the
build is multi-threaded): three builds gave 0.9800, 0.9770 and 0.9750 at 256, 0.9840, 0.9880 and
0.9810 at 384, 0.9910, 0.9910 and 0.9830 at 512, and one more 0.9780 at 384 through t5-vectors'
own search (an exact search scores 0.9930 there: near-ties with numpy's float32 ranking). 512
keeps recall@10 at 0.98 or more at both sizes for every build measured; pass ``hnsw_ef`` per
search to trade it for speed."""

DEFAULT_HNSW_EF_SMALL = 256
"""The search beam width where a query gives none, in a collection of at most
:data:`SMALL_COLLECTION` points. Measured by ``benchmarks/store.py`` on Qdrant Edge alone at 20k
real-text vectors (the defaults around it): recall@10 0.9912 at 256 against 0.9956 at 512, at
941 against 574 searches/s from one thread; at 100k, 256 gave 0.9750-0.9800, below the 0.98
that 512 keeps there."""

SMALL_COLLECTION = 50_000
"""Collections up to this many points search with :data:`DEFAULT_HNSW_EF_SMALL`."""

DEFAULT_QUANTIZATION: Quantization | None = Quantization("scalar", quantile=0.99, always_ram=True)
"""Quantization where a schema gives none: int8 scalar (quantile 0.99, in RAM), searched with
rescoring by the original vectors (which are kept) and :data:`DEFAULT_OVERSAMPLING`. Measured by
``benchmarks/store.py`` on Qdrant Edge alone at 20k real-text vectors x 768 (m 32 / 200,
``hnsw_ef`` 128): the index build took 6.1 s against 21.5 s unquantized, recall@10 was 0.9856
against 0.9858, and one thread ran 1,209 searches/s against 485 (before vectors went to the
engine as lists). A schema may ask for another
kind (``Schema.quantization``); a backend made with ``quantization=None`` builds none."""

DEFAULT_OVERSAMPLING = 2.0
"""Candidates found over quantized vectors per result asked for, before rescoring with the
originals (recall@10 0.9462 at 1, 0.9856 at 2, 0.9854 at 4 in the measurement above)."""

DEFAULT_INDEX_AFTER = 20_000
"""Build the index inside ``upsert`` once this many points were written since the last build."""

SIDECAR = "collection.json"
SHARD = "shard"
PENDING = "index-pending"
"""A marker file: points were written since the last index build (survives a crash)."""


def closed_error(location: str) -> InvalidInputError:
    """The error of a call on a closed backend (or a closed lease on one) of *location*."""
    return InvalidInputError(
        f"embedded store {location}: expected an open backend, found it closed; "
        "fix: open the folder again"
    )


_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,254}$")
_PAYLOAD_KINDS = {
    "keyword": qe.PayloadSchemaType.Keyword,
    "integer": qe.PayloadSchemaType.Integer,
    "float": qe.PayloadSchemaType.Float,
    "bool": qe.PayloadSchemaType.Bool,
    "text": qe.PayloadSchemaType.Text,
    "uuid": qe.PayloadSchemaType.Uuid,
    "datetime": qe.PayloadSchemaType.Datetime,
}
_BAD_INPUT = (
    "Wrong input",
    "Bad input",
    "Bad request",
    "dimension error",
    "Not existing vector",
    "Not found",
    "failed to parse",
)

T = TypeVar("T")


def _originals_on_disk(schema: Schema) -> Schema:
    """*schema* with the originals of its quantized dense vectors kept on disk."""
    dense = {
        name: replace(spec, on_disk=True)
        if (spec.quantization or schema.quantization) is not None
        else spec
        for name, spec in schema.dense.items()
    }
    return replace(schema, dense=dense)


def _check_payload_kind(key: str, kind: str) -> None:
    if kind not in _PAYLOAD_KINDS:
        raise InvalidInputError(
            f"payload index on {key!r}: expected a kind among {sorted(_PAYLOAD_KINDS)}, "
            f"found {kind!r}"
        )


@dataclass
class _Collection:
    """An open collection: its shard, its schema and its lock."""

    name: str
    folder: Path
    schema: Schema
    shard: qe.EdgeShard
    lock: ReadWriteLock
    unindexed: int = 0
    pending: bool = False
    points: int = 0  # at least the points stored (writes add, deletes do not subtract)


class EdgeBackend:
    """Collections in a local folder, stored and searched by Qdrant Edge in this process.

    Every call is synchronous and thread-safe: searches run in parallel, a write (an upsert
    batch, a delete, an index build) runs alone, so concurrent calls give the results of some
    serial order. One process at a time may open a folder; another gets
    :class:`~t5_vectors.errors.StorageLockedError`.

    Setup:
        ``pip install t5-vectors`` (Qdrant Edge, ``qdrant-edge-py``, is a dependency).

    Instantiate:
        .. code-block:: python

            from t5_vectors.storage.edge.backend import EdgeBackend

            backend = EdgeBackend("./qdrant-data")

    Use:
        .. code-block:: python

            import numpy as np
            from t5_vectors.storage.base import DenseVectorSpec, Nearest, Point, QueryPlan, Schema

            backend.create("docs", Schema(dense={"": DenseVectorSpec(size=4)}))
            backend.upsert("docs", [Point(1, {"": np.ones(4, np.float32)}, {"page_content": "a"})])
            hits = backend.query("docs", QueryPlan(Nearest(np.ones(4, np.float32)), limit=3))
            backend.close()

    Args:
        path: the data folder (created with the first collection).
        index_after: build the index inside ``upsert`` once this many points were written
            since the last build (``None``: only at :meth:`build_index` and :meth:`close`).
        hnsw_ef: the search beam width where a query gives none.
        hnsw_ef_small: the same in a collection of at most :data:`SMALL_COLLECTION` points
            (applies only while ``hnsw_ef`` is the default).
        hnsw: HNSW parameters for collections whose schema gives none.
        quantization: quantization for collections whose schema gives none.
        indexing_threshold_kb: Edge's optimizer threshold: segments with more KB of vectors
            get an HNSW index when the index is built (``None``: Edge's default).
        build_on_close: build pending indexes in :meth:`close`.
        originals_on_disk: in a new collection, keep the original vectors of every quantized
            vector on disk, memory-mapped and read on demand (searches walk the quantized copy
            in RAM and read originals only to rescore their candidates): recorded in the
            schema as ``on_disk``. ``False`` keeps them in RAM unless a schema asks otherwise.
    """

    kind: str = "edge"
    capabilities = Capabilities(payload_indexes=True)

    def __init__(
        self,
        path: str | Path,
        *,
        index_after: int | None = DEFAULT_INDEX_AFTER,
        hnsw_ef: int | None = DEFAULT_HNSW_EF,
        hnsw_ef_small: int | None = DEFAULT_HNSW_EF_SMALL,
        hnsw: Hnsw = DEFAULT_HNSW,
        quantization: Quantization | None = DEFAULT_QUANTIZATION,
        oversampling: float | None = DEFAULT_OVERSAMPLING,
        indexing_threshold_kb: int | None = None,
        build_on_close: bool = True,
        originals_on_disk: bool = True,
    ) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        if self.path.exists() and not self.path.is_dir():
            raise InvalidInputError(
                f"embedded store: expected a folder at {self.path}, found a file; fix: pass a "
                "folder path (it is created if missing)"
            )
        self._root = self.path / "edge"
        self._index_after = index_after
        self._hnsw_ef = hnsw_ef
        self._hnsw_ef_small = hnsw_ef_small if hnsw_ef == DEFAULT_HNSW_EF else hnsw_ef
        self._oversampling = oversampling
        self._hnsw = hnsw
        self._quantization = quantization
        self._indexing_threshold_kb = indexing_threshold_kb
        self._build_on_close = build_on_close
        self._originals_on_disk = originals_on_disk
        self._folder_lock = FolderLock(self.path, self._root / ".lock")
        self._collections: dict[str, _Collection] = {}
        self._guard = threading.RLock()
        self._closed = False
        if self._root.is_dir():
            self._folder_lock.acquire()

    def __repr__(self) -> str:
        return f"EdgeBackend({self.location!r})"

    # --- collections --------------------------------------------------------------------------

    def list_collections(self) -> list[str]:
        """Names of the collections in the folder, sorted."""
        self._check_open()
        if not self._root.is_dir():
            return []
        return sorted(p.name for p in self._root.iterdir() if (p / SIDECAR).is_file())

    def describe(self, collection: str) -> Schema | None:
        """The collection's schema as created (with its current metadata), or ``None``."""
        self._check_open()
        with self._guard:
            open_ = self._collections.get(collection)
            if open_ is not None:
                return open_.schema
        folder = self._folder(collection)
        if not (folder / SIDECAR).is_file():
            return None
        return sidecar.read(folder / SIDECAR)

    def create(self, collection: str, schema: Schema) -> None:
        """Create a collection.

        Raises:
            CollectionConfigError: it exists already.
            InvalidInputError: the name or the schema cannot be stored.
        """
        self._check_open()
        folder = self._folder(collection)
        if schema.quantization is None and self._quantization is not None:
            schema = replace(schema, quantization=self._quantization)  # recorded as built
        if self._originals_on_disk:
            schema = _originals_on_disk(schema)
        config = self._config(schema)  # validate before anything is written
        for key, kind in schema.payload_indexes.items():
            _check_payload_kind(key, kind)
        with self._guard:
            space.require(self.path, space.CREATE_BYTES, f"creating collection {collection!r}")
            if (folder / SIDECAR).is_file():
                raise CollectionConfigError(
                    f"collection {collection!r} in {self.location}: expected no collection of "
                    "that name, found one; fix: use it, drop it first, or pick another name"
                )
            self._root.mkdir(parents=True, exist_ok=True)
            self._folder_lock.acquire()
            if folder.exists():  # left by a create or a drop that did not finish
                shutil.rmtree(folder)
            folder.mkdir()
            sidecar.write(folder / SIDECAR, schema)
            try:
                shard = self._engine(
                    collection, lambda: qe.EdgeShard.create(str(folder / SHARD), config)
                )
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)  # no collection without a shard
                raise
            self._collections[collection] = _Collection(
                collection, folder, schema, shard, ReadWriteLock()
            )
            for key, kind in schema.payload_indexes.items():
                self._engine(
                    collection,
                    lambda key=key, kind=kind: shard.update(  # type: ignore[misc]
                        qe.UpdateOperation.create_field_index(key, _PAYLOAD_KINDS[kind])
                    ),
                )

    def drop(self, collection: str) -> bool:
        """Delete a collection and its files; ``False`` if there was none."""
        self._check_open()
        folder = self._folder(collection)
        with self._guard:
            open_ = self._collections.pop(collection, None)
            if open_ is not None:
                with open_.lock.write():
                    open_.shard.close()
            if not (folder / SIDECAR).is_file():
                if folder.exists():
                    shutil.rmtree(folder)
                return False
            self._folder_lock.acquire()
            (folder / SIDECAR).unlink()
            shutil.rmtree(folder)
            return True

    def set_metadata(self, collection: str, metadata: Mapping[str, Any]) -> None:
        """Replace the collection's metadata (kept in the sidecar)."""
        entry = self._open(collection)
        with entry.lock.write():
            schema = replace(entry.schema, metadata=dict(metadata))
            sidecar.write(entry.folder / SIDECAR, schema)
            entry.schema = schema

    def create_payload_index(self, collection: str, key: str, kind: PayloadIndexKind) -> None:
        """Index a payload key (a JSON path such as ``metadata.source``)."""
        _check_payload_kind(key, kind)
        entry = self._open(collection)
        with entry.lock.write():
            self._engine(
                collection,
                lambda: entry.shard.update(
                    qe.UpdateOperation.create_field_index(key, _PAYLOAD_KINDS[kind])
                ),
            )
            indexes = {**entry.schema.payload_indexes, key: kind}
            schema = replace(entry.schema, payload_indexes=indexes)
            sidecar.write(entry.folder / SIDECAR, schema)
            entry.schema = schema

    def stats(self, collection: str) -> CollectionStats:
        """Points, indexed vectors and segments as Edge counts them.

        ``status`` is ``"yellow"`` while written points wait for :meth:`build_index`, else
        ``"green"``. (Edge counts the vectors of small segments as indexed, and every vector
        name of a point, so ``indexed_vectors`` is no measure of what waits.)
        """
        entry = self._open(collection)
        with entry.lock.read():
            info = self._engine(collection, entry.shard.info)
            pending = entry.pending
        return CollectionStats(
            points=info.points_count,
            indexed_vectors=info.indexed_vectors_count,
            segments=info.segments_count,
            status="yellow" if pending else "green",
        )

    # --- points -------------------------------------------------------------------------------

    def upsert(self, collection: str, points: Sequence[Point]) -> None:
        """Write points (one batch, applied whole); may build the index (see ``index_after``)."""
        if not points:
            return
        entry = self._open(collection)
        batch = [convert.edge_point(p) for p in points]
        operation = qe.UpdateOperation.upsert_points(batch)
        needed = space.write_bytes(points)
        with entry.lock.write():
            space.require(self.path, needed, f"writing {len(points)} points to {collection!r}")
            if not entry.pending:
                (entry.folder / PENDING).touch()
                entry.pending = True
            self._engine(collection, lambda: entry.shard.update(operation))
            entry.unindexed += len(batch)
            entry.points += len(batch)
            if self._index_after is not None and entry.unindexed >= self._index_after:
                with contextlib.suppress(StorageFullError):  # the points are written; the
                    self._optimize(entry, None)  # build waits for build_index, which says so

    def set_payload(
        self, collection: str, updates: Sequence[tuple[PointId, Mapping[str, Any]]]
    ) -> None:
        """Merge top-level keys into existing points' payloads (vectors and other keys stay)."""
        if not updates:
            return
        entry = self._open(collection)
        operations = [
            qe.UpdateOperation.set_payload(convert.edge_ids([point]), dict(payload))
            for point, payload in updates
        ]
        needed = int(len(json.dumps([p for _, p in updates], default=str)) * space.WRITE_FACTOR)
        with entry.lock.write():
            space.require(self.path, needed, f"updating {len(updates)} payloads in {collection!r}")
            for operation in operations:
                self._engine(collection, partial(entry.shard.update, operation))

    def retrieve(
        self,
        collection: str,
        ids: Sequence[PointId],
        *,
        with_payload: bool | tuple[str, ...] = True,
        with_vectors: bool | tuple[str, ...] = False,
    ) -> list[Record]:
        """The stored points among ``ids`` (missing ids are left out)."""
        if not ids:
            return []
        entry = self._open(collection)
        edge_ids = convert.edge_ids(ids)
        with entry.lock.read():
            raw = self._engine(
                collection,
                lambda: entry.shard.retrieve(
                    edge_ids, convert.edge_with(with_payload), convert.edge_with(with_vectors)
                ),
            )
        wanted = convert.wants(with_vectors)
        return [convert.record(r, with_vectors=wanted) for r in raw]

    def scroll(
        self,
        collection: str,
        *,
        filter: Filter | None = None,
        limit: int = 256,
        offset: PointId | None = None,
        with_payload: bool | tuple[str, ...] = True,
        with_vectors: bool | tuple[str, ...] = False,
    ) -> tuple[list[Record], PointId | None]:
        """A page of points in id order, and the id the next page starts at."""
        entry = self._open(collection)
        request = qe.ScrollRequest(
            offset=None if offset is None else convert.edge_ids([offset])[0],
            limit=limit,
            filter=convert.edge_filter(filter),
            with_payload=convert.edge_with(with_payload),
            with_vector=convert.edge_with(with_vectors),
        )
        with entry.lock.read():
            raw, next_id = self._engine(collection, lambda: entry.shard.scroll(request))
        wanted = convert.wants(with_vectors)
        records = [convert.record(r, with_vectors=wanted) for r in raw]
        return records, None if next_id is None else convert.point_id(next_id)

    def query(self, collection: str, plan: QueryPlan) -> list[Hit]:
        """Run a query plan (nearest, prefetch and fusion, MMR, filters, thresholds)."""
        entry = self._open(collection)
        small = entry.points <= SMALL_COLLECTION
        request = convert.edge_query_request(
            plan,
            default_ef=self._hnsw_ef_small if small else self._hnsw_ef,
            oversampling=self._oversampling,
        )
        with entry.lock.read():
            raw = self._engine(collection, lambda: entry.shard.query(request))
        wanted = convert.wants(plan.with_vectors)
        return [convert.hit(r, with_vectors=wanted) for r in raw]

    def count(self, collection: str, filter: Filter | None = None) -> int:
        """Points in the collection (matching ``filter``), counted exactly."""
        entry = self._open(collection)
        request = qe.CountRequest(exact=True, filter=convert.edge_filter(filter))
        with entry.lock.read():
            return self._engine(collection, lambda: entry.shard.count(request))

    def delete(
        self,
        collection: str,
        *,
        ids: Sequence[PointId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        """Delete points by id, by filter, or the listed points that match the filter (both).

        ``filter={"must": []}`` deletes every point; ``ids=[]`` alone deletes nothing.
        """
        if ids is None and filter is None:
            raise InvalidInputError("delete: expected ids or a filter, found neither")
        entry = self._open(collection)
        if filter is None:
            if not ids:
                return
            operation = qe.UpdateOperation.delete_points(convert.edge_ids(ids))
        else:
            if ids is not None:
                if not ids:
                    return
                filter = {"must": [{"has_id": convert.edge_ids(ids)}, dict(filter)]}
            operation = qe.UpdateOperation.delete_points_by_filter(to_edge_filter(filter))
        with entry.lock.write():
            self._engine(collection, lambda: entry.shard.update(operation))

    # --- index and lifecycle ------------------------------------------------------------------

    def build_index(self, collection: str, *, progress: Progress | None = None) -> None:
        """Build the HNSW index (and quantized vectors) over points written since the last build.

        ``progress(done, total)`` is called when the build starts (``done=0``) and when it ends
        (``done=total``), ``total`` being the points waiting for the index. Qdrant Edge's
        ``optimize()`` blocks and reports nothing in between.
        """
        entry = self._open(collection)
        with entry.lock.write():
            self._optimize(entry, progress)

    def close(self) -> None:
        """Build pending indexes (``build_on_close``), flush, close every shard, unlock."""
        with self._guard:
            if self._closed:
                return
            self._closed = True
            entries, self._collections = list(self._collections.values()), {}
            full: StorageFullError | None = None
            try:
                for entry in entries:
                    with entry.lock.write():
                        if self._build_on_close and entry.pending:
                            try:
                                self._optimize(entry, None)
                            except StorageFullError as error:  # the index waits; data is kept
                                full = full or error
                        entry.shard.flush()
                        entry.shard.close()
            finally:
                self._folder_lock.release()
            if full is not None:
                raise full

    def __enter__(self) -> EdgeBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ----------------------------------------------------------------------------

    def _optimize(self, entry: _Collection, progress: Progress | None) -> None:
        needed = space.build_bytes(entry.folder / SHARD)
        space.require(self.path, needed, f"building the index of {entry.name!r}")
        total = entry.unindexed
        if progress is not None:
            if not total and entry.pending:  # left by another process: the build covers all
                total = self._engine(entry.name, entry.shard.info).points_count
            progress(0, total)
        self._engine(entry.name, entry.shard.optimize)
        # Edge keeps each replaced segment on disk and mapped until a flush: without it a
        # long ingest's memory grew by every build (100k points: peak RSS 3.5 against 2.2 GB)
        self._engine(entry.name, entry.shard.flush)
        entry.unindexed = 0
        entry.pending = False
        (entry.folder / PENDING).unlink(missing_ok=True)
        if progress is not None:
            progress(total, total)

    def _config(self, schema: Schema) -> qe.EdgeConfig:
        return convert.edge_config(
            schema,
            hnsw=self._hnsw,
            quantization=self._quantization,
            indexing_threshold_kb=self._indexing_threshold_kb,
        )

    def _check_open(self) -> None:
        if self._closed:
            raise closed_error(self.location)

    def _folder(self, collection: str) -> Path:
        if not isinstance(collection, str) or not _NAME.match(collection):
            raise InvalidInputError(
                f"collection name: expected 1-255 letters, digits, '_', '-' or '.' (not "
                f"starting with '.' or '-'), found {collection!r}; fix: rename the collection"
            )
        return self._root / collection

    def _open(self, collection: str) -> _Collection:
        self._check_open()
        entry = self._collections.get(collection)  # an open collection: no lock to take
        if entry is not None:
            return entry
        with self._guard:
            self._check_open()
            entry = self._collections.get(collection)
            if entry is not None:
                return entry
            folder = self._folder(collection)
            if not (folder / SIDECAR).is_file():
                raise CollectionConfigError(
                    f"collection {collection!r} in {self.location}: expected it to exist, found "
                    f"none (collections here: {self.list_collections() or 'none'}); fix: "
                    "check the name, or ingest into it first"
                )
            self._folder_lock.acquire()
            schema = sidecar.read(folder / SIDECAR)
            shard_path = folder / SHARD
            # loading may allocate the log's next segment (see space.RESERVE)
            space.require(self.path, 0, f"opening collection {collection!r}")
            if (shard_path / "edge_config.json").is_file():
                shard = self._engine(collection, lambda: qe.EdgeShard.load(str(shard_path)))
            else:  # the process died between writing the sidecar and creating the shard
                if shard_path.exists():
                    shutil.rmtree(shard_path)
                config = self._config(schema)
                shard = self._engine(
                    collection, lambda: qe.EdgeShard.create(str(shard_path), config)
                )
            entry = _Collection(collection, folder, schema, shard, ReadWriteLock())
            # written by a process that died (or closed with build_on_close=False) unindexed
            entry.pending = (folder / PENDING).exists()
            entry.points = self._engine(collection, shard.info).points_count
            self._collections[collection] = entry
            return entry

    def _engine(self, collection: str, call: Callable[[], T]) -> T:
        """Run an Edge call; its errors become typed errors where the caller caused them."""
        try:
            return call()
        except Exception as err:
            message = str(err)
            if "WouldBlock" in message:
                raise StorageLockedError(locked_message(self.path), path=str(self.path)) from err
            if any(marker in message for marker in _BAD_INPUT):
                raise InvalidInputError(
                    f"collection {collection!r} in {self.location}: the engine refused the "
                    f"request: {message}"
                ) from err
            raise
