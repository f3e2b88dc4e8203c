"""One collection of a storage: every call the index layer makes, retried, with no model.

:class:`Collection` is the index layer's handle on one collection of a
:class:`~t5_vectors.storage.open.Storage`. ``QdrantIndex`` reads and writes through it; so do
file bookkeeping (:mod:`t5_vectors.files`), the CLI's ``info`` and ``delete`` and the servers,
which need no embedding model. Calls that give the same result when sent twice (reads, upserts
under deterministic ids, deletes, payload updates) are retried on transient failures under the
collection's :class:`~t5_vectors.storage.retry.RetryPolicy`; creating and dropping are not.

Every method has an async twin (``acount``, ``ascan``, ...), generated from it by
``scripts/generate_async.py``: the same code awaiting the storage's async backend (a native
``AsyncQdrantClient`` for servers, a worker thread over an in-process engine).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from t5_vectors.plan.collection import SOURCE_KEY, CollectionSpec
from t5_vectors.plan.footprint import StorageReport
from t5_vectors.plan.payload import FILE_KEY, HASH_KEY, METADATA_KEY
from t5_vectors.storage.base import (
    AsyncBackend,
    Backend,
    CollectionStats,
    Filter,
    Hit,
    PayloadIndexKind,
    Point,
    PointId,
    Progress,
    QueryPlan,
    Record,
    Schema,
)
from t5_vectors.storage.open import Storage
from t5_vectors.storage.retry import RetryPolicy, aretrying, retrying

PAGE = 1024
"""Points per page of a scan, ids per delete and payload updates per call."""


@dataclass(frozen=True)
class StoredSource:
    """What a collection holds of one source (a file, for what ``ingest_files`` stored).

    Attributes:
        source: the documents' ``metadata["source"]`` (``None``: documents without one).
        chunks: how many stored points (chunks) have it.
        stored: when file ingestion last stored the file whole (ISO 8601, UTC), or ``None``
            (documents added otherwise, or a file stored before this was recorded).
    """

    source: str | None
    chunks: int
    stored: str | None = None


class _SourceTally:
    """Counts the chunks of each source over a scan, and keeps when each file was stored."""

    def __init__(self) -> None:
        self.chunks: dict[str | None, int] = {}
        self.stored: dict[str, str] = {}

    def add(self, record: Record) -> None:
        payload = record.payload or {}
        metadata = payload.get(METADATA_KEY)
        source = metadata.get("source") if isinstance(metadata, Mapping) else None
        key = source if isinstance(source, str) else None
        self.chunks[key] = self.chunks.get(key, 0) + 1
        file = payload.get(FILE_KEY)
        if key is not None and isinstance(file, Mapping) and isinstance(file.get("stored"), str):
            self.stored[key] = file["stored"]

    def sources(self) -> list[StoredSource]:
        """By source, documents without one last."""
        order = sorted(self.chunks, key=lambda s: (s is None, s or ""))
        return [StoredSource(s, self.chunks[s], self.stored.get(s) if s else None) for s in order]


Selection = bool | tuple[str, ...]


class Collection:
    """Collection *name* of *storage*, its idempotent calls retried under *retry*.

    Args:
        storage: where it lives.
        name: the collection.
        retry: how transient failures are retried.
    """

    def __init__(self, storage: Storage, name: str, retry: RetryPolicy | None = None) -> None:
        self.storage = storage
        self.name = name
        self.retry = retry if retry is not None else RetryPolicy()
        self._sync: Backend | None = None
        self._async: AsyncBackend | None = None

    def __repr__(self) -> str:
        return f"Collection({self.name!r}, {self.storage!r})"

    @property
    def backend(self) -> Backend:
        """The storage's sync backend, its idempotent calls retried."""
        if self._sync is None:
            self._sync = retrying(self.storage.backend, self.retry)
        return self._sync

    @property
    def abackend(self) -> AsyncBackend:
        """The storage's async backend, its idempotent calls retried."""
        if self._async is None:
            self._async = aretrying(self.storage.abackend, self.retry)
        return self._async

    def describe(self) -> Schema | None:
        """The collection's schema, or ``None`` when it does not exist."""
        return self.backend.describe(self.name)

    def create(self, schema: Schema) -> None:
        """Create the collection (and its payload indexes) from *schema*."""
        self.backend.create(self.name, schema)

    def drop(self) -> bool:
        """Delete the collection; whether it existed."""
        return self.backend.drop(self.name)

    def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Replace the collection's metadata (its model record)."""
        self.backend.set_metadata(self.name, metadata)

    def create_payload_index(self, key: str, kind: PayloadIndexKind) -> None:
        """Index payload *key* where the engine can."""
        self.backend.create_payload_index(self.name, key, kind)

    def stats(self) -> CollectionStats:
        """The counts the engine reports."""
        return self.backend.stats(self.name)

    def count(self, filter: Filter | None = None) -> int:
        """Exact number of points (matching *filter*)."""
        return self.backend.count(self.name, filter)

    def upsert(self, points: Sequence[Point]) -> None:
        """Write *points* (same id: replaced)."""
        self.backend.upsert(self.name, points)

    def retrieve(
        self,
        ids: Sequence[PointId],
        *,
        with_payload: Selection = True,
        with_vectors: Selection = False,
    ) -> list[Record]:
        """The stored points among *ids* (missing ones left out)."""
        return self.backend.retrieve(
            self.name, ids, with_payload=with_payload, with_vectors=with_vectors
        )

    def hashes(self, point_ids: Sequence[str]) -> dict[str, object]:
        """The stored content hash of each of *point_ids* that exists."""
        records = self.backend.retrieve(self.name, point_ids, with_payload=(HASH_KEY,))
        return {str(record.id): (record.payload or {}).get(HASH_KEY) for record in records}

    def query(self, plan: QueryPlan) -> list[Hit]:
        """The points *plan* finds, best first."""
        return self.backend.query(self.name, plan)

    def delete(self, ids: Sequence[PointId] | None = None, filter: Filter | None = None) -> None:
        """Delete points by id (in batches of :data:`PAGE`), by filter, or the listed ids the
        filter matches."""
        if ids is None:
            self.backend.delete(self.name, filter=filter)
            return
        for start in range(0, len(ids), PAGE):
            batch = list(ids[start : start + PAGE])
            self.backend.delete(self.name, ids=batch, filter=filter)

    def set_payload(self, updates: Sequence[tuple[PointId, Mapping[str, Any]]]) -> None:
        """Merge top-level payload keys into existing points (in batches of :data:`PAGE`)."""
        for start in range(0, len(updates), PAGE):
            self.backend.set_payload(self.name, updates[start : start + PAGE])

    def scan(
        self,
        filter: Filter | None = None,
        *,
        with_payload: Selection = True,
        with_vectors: Selection = False,
        page: int = PAGE,
        progress: Progress | None = None,
    ) -> Iterator[Record]:
        """Every point (matching *filter*), page by page in id order.

        Args:
            filter: only the points it matches (Qdrant's JSON form).
            with_payload: the payload keys to read (``True``: all).
            with_vectors: the vectors to read.
            page: points per page.
            progress: ``progress(points read, points to read)`` after each page (counted first).
        """
        total = self.backend.count(self.name, filter) if progress is not None else None
        read = 0
        offset: PointId | None = None
        while True:
            records, offset = self.backend.scroll(
                self.name,
                filter=filter,
                limit=page,
                offset=offset,
                with_payload=with_payload,
                with_vectors=with_vectors,
            )
            for record in records:  # noqa: UP028 (no yield from in its async twin)
                yield record
            read += len(records)
            if progress is not None:
                progress(read, total)
            if offset is None:
                return

    def build_index(self, progress: Progress | None = None) -> None:
        """Build the engine's index of what was written (Qdrant Edge: HNSW)."""
        self.backend.build_index(self.name, progress=progress)

    def sources(self) -> list[StoredSource]:
        """Every source the collection holds, with its chunk count and when it was stored,
        sorted by source (documents without a source last); one pass over the points."""
        tally = _SourceTally()
        for record in self.scan(with_payload=(SOURCE_KEY, FILE_KEY)):
            tally.add(record)
        return tally.sources()

    def head(
        self, limit: int, *, with_payload: Selection = True, with_vectors: Selection = False
    ) -> list[Record]:
        """The first *limit* points, in id order (a sample to measure or describe)."""
        records, _ = self.backend.scroll(
            self.name, limit=limit, with_payload=with_payload, with_vectors=with_vectors
        )
        return records

    def footprint(self, spec: CollectionSpec, dim: int, sample: int) -> StorageReport:
        """Bytes per chunk, measured on up to *sample* stored points (the first, in id order)."""
        names = StorageReport.vector_names(spec)
        records = self.head(sample, with_payload=True, with_vectors=names or False)
        return StorageReport.measure(spec, dim, records)

    # --- async twins: generated by scripts/generate_async.py from the code above; do not edit ---
    async def adescribe(self) -> Schema | None:
        """Async :meth:`describe`."""
        return await self.abackend.describe(self.name)

    async def acreate(self, schema: Schema) -> None:
        """Async :meth:`create`."""
        await self.abackend.create(self.name, schema)

    async def adrop(self) -> bool:
        """Async :meth:`drop`."""
        return await self.abackend.drop(self.name)

    async def aset_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Async :meth:`set_metadata`."""
        await self.abackend.set_metadata(self.name, metadata)

    async def acreate_payload_index(self, key: str, kind: PayloadIndexKind) -> None:
        """Async :meth:`create_payload_index`."""
        await self.abackend.create_payload_index(self.name, key, kind)

    async def astats(self) -> CollectionStats:
        """Async :meth:`stats`."""
        return await self.abackend.stats(self.name)

    async def acount(self, filter: Filter | None = None) -> int:
        """Async :meth:`count`."""
        return await self.abackend.count(self.name, filter)

    async def aupsert(self, points: Sequence[Point]) -> None:
        """Async :meth:`upsert`."""
        await self.abackend.upsert(self.name, points)

    async def aretrieve(
        self,
        ids: Sequence[PointId],
        *,
        with_payload: Selection = True,
        with_vectors: Selection = False,
    ) -> list[Record]:
        """Async :meth:`retrieve`."""
        return await self.abackend.retrieve(
            self.name, ids, with_payload=with_payload, with_vectors=with_vectors
        )

    async def ahashes(self, point_ids: Sequence[str]) -> dict[str, object]:
        """Async :meth:`hashes`."""
        records = await self.abackend.retrieve(self.name, point_ids, with_payload=(HASH_KEY,))
        return {str(record.id): (record.payload or {}).get(HASH_KEY) for record in records}

    async def aquery(self, plan: QueryPlan) -> list[Hit]:
        """Async :meth:`query`."""
        return await self.abackend.query(self.name, plan)

    async def adelete(
        self, ids: Sequence[PointId] | None = None, filter: Filter | None = None
    ) -> None:
        """Async :meth:`delete`."""
        if ids is None:
            await self.abackend.delete(self.name, filter=filter)
            return
        for start in range(0, len(ids), PAGE):
            batch = list(ids[start : start + PAGE])
            await self.abackend.delete(self.name, ids=batch, filter=filter)

    async def aset_payload(self, updates: Sequence[tuple[PointId, Mapping[str, Any]]]) -> None:
        """Async :meth:`set_payload`."""
        for start in range(0, len(updates), PAGE):
            await self.abackend.set_payload(self.name, updates[start : start + PAGE])

    async def ascan(
        self,
        filter: Filter | None = None,
        *,
        with_payload: Selection = True,
        with_vectors: Selection = False,
        page: int = PAGE,
        progress: Progress | None = None,
    ) -> AsyncIterator[Record]:
        """Async :meth:`scan`."""
        total = await self.abackend.count(self.name, filter) if progress is not None else None
        read = 0
        offset: PointId | None = None
        while True:
            records, offset = await self.abackend.scroll(
                self.name,
                filter=filter,
                limit=page,
                offset=offset,
                with_payload=with_payload,
                with_vectors=with_vectors,
            )
            for record in records:
                yield record
            read += len(records)
            if progress is not None:
                progress(read, total)
            if offset is None:
                return

    async def abuild_index(self, progress: Progress | None = None) -> None:
        """Async :meth:`build_index`."""
        await self.abackend.build_index(self.name, progress=progress)

    async def asources(self) -> list[StoredSource]:
        """Async :meth:`sources`."""
        tally = _SourceTally()
        async for record in self.ascan(with_payload=(SOURCE_KEY, FILE_KEY)):
            tally.add(record)
        return tally.sources()

    async def ahead(
        self, limit: int, *, with_payload: Selection = True, with_vectors: Selection = False
    ) -> list[Record]:
        """Async :meth:`head`."""
        records, _ = await self.abackend.scroll(
            self.name, limit=limit, with_payload=with_payload, with_vectors=with_vectors
        )
        return records

    async def afootprint(self, spec: CollectionSpec, dim: int, sample: int) -> StorageReport:
        """Async :meth:`footprint`."""
        names = StorageReport.vector_names(spec)
        records = await self.ahead(sample, with_payload=True, with_vectors=names or False)
        return StorageReport.measure(spec, dim, records)

    # --- end of async twins ---
