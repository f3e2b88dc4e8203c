"""The qdrant-client backend: servers and clusters by URL, ``:memory:``, and local-mode folders.

:class:`ClientBackend` adapts a ``QdrantClient`` to :class:`~t5_vectors.storage.base.Backend`,
:class:`AsyncClientBackend` an ``AsyncQdrantClient`` to
:class:`~t5_vectors.storage.base.AsyncBackend`. qdrant-client's local mode (``:memory:`` and
folders holding ``meta.json``) is not thread-safe: its calls are serialised with a lock, and
payload indexes (which it ignores with a warning) are skipped.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from qdrant_client import AsyncQdrantClient, QdrantClient, models

from t5_vectors.storage.base import (
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
from t5_vectors.storage.client import models as convert

__all__ = [
    "AsyncClientBackend",
    "ClientBackend",
    "as_backend",
    "client_kind",
    "client_location",
]


def client_kind(options: Mapping[str, Any]) -> str:
    """``"memory"``, ``"local-mode"`` or ``"server"`` for a client's ``init_options``."""
    if options.get("location") == ":memory:":
        return "memory"
    if options.get("path") is not None:
        return "local-mode"
    return "server"


def client_location(options: Mapping[str, Any]) -> str:
    """The folder or URL a client talks to, for messages (never its API key)."""
    for key in ("path", "url", "location", "host"):
        if options.get(key) is not None:
            return str(options[key])
    return "http://localhost:6333"


def _selector(
    ids: Sequence[PointId] | None, filter: Filter | None
) -> models.PointIdsList | models.FilterSelector:
    if ids is not None and filter is None:
        return models.PointIdsList(points=list(ids))
    if filter is None:
        raise ValueError("delete: expected ids or a filter, found neither")
    combined = convert.model_filter(filter)
    assert combined is not None
    if ids is not None:
        combined = models.Filter(must=[combined, models.HasIdCondition(has_id=list(ids))])
    return models.FilterSelector(filter=combined)


def _stats(info: models.CollectionInfo) -> CollectionStats:
    status = getattr(info.status, "value", info.status)
    return CollectionStats(
        points=info.points_count or 0,
        indexed_vectors=info.indexed_vectors_count or 0,
        segments=info.segments_count,
        status=str(status) if status is not None else None,
    )


class ClientBackend:
    """:class:`~t5_vectors.storage.base.Backend` over a ``QdrantClient``.

    Args:
        client: the client.
        owned: whether :meth:`close` closes it.
    """

    def __init__(self, client: QdrantClient, *, owned: bool = False) -> None:
        self.client = client
        options = client.init_options
        self.kind = client_kind(options)
        self.location = client_location(options)
        self._owned = owned
        self._lock = threading.RLock() if self.kind != "server" else None

    def __repr__(self) -> str:
        return f"ClientBackend(kind={self.kind!r}, location={self.location!r})"

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        if self._lock is None:
            yield
        else:
            with self._lock:
                yield

    def list_collections(self) -> list[str]:
        with self._guard():
            return sorted(c.name for c in self.client.get_collections().collections)

    def describe(self, collection: str) -> Schema | None:
        with self._guard():
            if not self.client.collection_exists(collection):
                return None
            return convert.schema_from_info(self.client.get_collection(collection))

    def stats(self, collection: str) -> CollectionStats:
        with self._guard():
            return _stats(self.client.get_collection(collection))

    def create(self, collection: str, schema: Schema) -> None:
        with self._guard():
            self.client.create_collection(**convert.create_arguments(collection, schema))
        for key, kind in schema.payload_indexes.items():
            self.create_payload_index(collection, key, kind)

    def drop(self, collection: str) -> bool:
        with self._guard():
            return bool(self.client.delete_collection(collection))

    def set_metadata(self, collection: str, metadata: Mapping[str, Any]) -> None:
        with self._guard():
            self.client.update_collection(collection, metadata=dict(metadata))

    def create_payload_index(self, collection: str, key: str, kind: PayloadIndexKind) -> None:
        if self.kind != "server":
            return  # local mode has no payload indexes (and warns on each one)
        with self._guard():
            self.client.create_payload_index(
                collection, key, field_schema=models.PayloadSchemaType(kind), wait=True
            )

    def upsert(self, collection: str, points: Sequence[Point]) -> None:
        if not points:
            return
        with self._guard():
            self.client.upsert(collection, points=convert.points_batch(points), wait=True)

    def set_payload(
        self, collection: str, updates: Sequence[tuple[PointId, Mapping[str, Any]]]
    ) -> None:
        if not updates:
            return
        with self._guard():
            self.client.batch_update_points(
                collection, convert.set_payload_operations(updates), wait=True
            )

    def retrieve(
        self,
        collection: str,
        ids: Sequence[PointId],
        *,
        with_payload: bool | tuple[str, ...] = True,
        with_vectors: bool | tuple[str, ...] = False,
    ) -> list[Record]:
        if not ids:
            return []
        with self._guard():
            records = self.client.retrieve(
                collection,
                list(ids),
                with_payload=convert.selection(with_payload),
                with_vectors=convert.selection(with_vectors),
            )
        return [convert.record_from_model(record) for record in records]

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
        with self._guard():
            records, following = self.client.scroll(
                collection,
                scroll_filter=convert.model_filter(filter),
                limit=limit,
                offset=offset,
                with_payload=convert.selection(with_payload),
                with_vectors=convert.selection(with_vectors),
            )
        after = None if following is None else convert.record_id(following)
        return [convert.record_from_model(record) for record in records], after

    def query(self, collection: str, plan: QueryPlan) -> list[Hit]:
        with self._guard():
            arguments = convert.query_arguments(plan, with_params=self.kind == "server")
            points = self.client.query_points(collection, **arguments).points
        return [convert.hit_from_model(point) for point in points]

    def count(self, collection: str, filter: Filter | None = None) -> int:
        with self._guard():
            return self.client.count(
                collection, count_filter=convert.model_filter(filter), exact=True
            ).count

    def delete(
        self,
        collection: str,
        *,
        ids: Sequence[PointId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        if ids is not None and not ids:
            return
        with self._guard():
            self.client.delete(collection, points_selector=_selector(ids, filter), wait=True)

    def build_index(self, collection: str, *, progress: Progress | None = None) -> None:
        """Servers index in the background and local mode has no index: nothing to do."""

    def close(self) -> None:
        if self._owned:
            self._owned = False
            self.client.close()


class AsyncClientBackend:
    """:class:`~t5_vectors.storage.base.AsyncBackend` over an ``AsyncQdrantClient`` (servers).

    Args:
        client: the client.
        owned: whether :meth:`close` closes it.
    """

    def __init__(self, client: AsyncQdrantClient, *, owned: bool = False) -> None:
        self.client = client
        options = client.init_options
        self.kind = client_kind(options)
        self.location = client_location(options)
        self._owned = owned

    def __repr__(self) -> str:
        return f"AsyncClientBackend(kind={self.kind!r}, location={self.location!r})"

    async def list_collections(self) -> list[str]:
        return sorted(c.name for c in (await self.client.get_collections()).collections)

    async def describe(self, collection: str) -> Schema | None:
        if not await self.client.collection_exists(collection):
            return None
        return convert.schema_from_info(await self.client.get_collection(collection))

    async def stats(self, collection: str) -> CollectionStats:
        return _stats(await self.client.get_collection(collection))

    async def create(self, collection: str, schema: Schema) -> None:
        await self.client.create_collection(**convert.create_arguments(collection, schema))
        for key, kind in schema.payload_indexes.items():
            await self.create_payload_index(collection, key, kind)

    async def drop(self, collection: str) -> bool:
        return bool(await self.client.delete_collection(collection))

    async def set_metadata(self, collection: str, metadata: Mapping[str, Any]) -> None:
        await self.client.update_collection(collection, metadata=dict(metadata))

    async def create_payload_index(self, collection: str, key: str, kind: PayloadIndexKind) -> None:
        if self.kind != "server":
            return
        await self.client.create_payload_index(
            collection, key, field_schema=models.PayloadSchemaType(kind), wait=True
        )

    async def upsert(self, collection: str, points: Sequence[Point]) -> None:
        if points:
            await self.client.upsert(collection, points=convert.points_batch(points), wait=True)

    async def set_payload(
        self, collection: str, updates: Sequence[tuple[PointId, Mapping[str, Any]]]
    ) -> None:
        if updates:
            await self.client.batch_update_points(
                collection, convert.set_payload_operations(updates), wait=True
            )

    async def retrieve(
        self,
        collection: str,
        ids: Sequence[PointId],
        *,
        with_payload: bool | tuple[str, ...] = True,
        with_vectors: bool | tuple[str, ...] = False,
    ) -> list[Record]:
        if not ids:
            return []
        records = await self.client.retrieve(
            collection,
            list(ids),
            with_payload=convert.selection(with_payload),
            with_vectors=convert.selection(with_vectors),
        )
        return [convert.record_from_model(record) for record in records]

    async def scroll(
        self,
        collection: str,
        *,
        filter: Filter | None = None,
        limit: int = 256,
        offset: PointId | None = None,
        with_payload: bool | tuple[str, ...] = True,
        with_vectors: bool | tuple[str, ...] = False,
    ) -> tuple[list[Record], PointId | None]:
        records, following = await self.client.scroll(
            collection,
            scroll_filter=convert.model_filter(filter),
            limit=limit,
            offset=offset,
            with_payload=convert.selection(with_payload),
            with_vectors=convert.selection(with_vectors),
        )
        after = None if following is None else convert.record_id(following)
        return [convert.record_from_model(record) for record in records], after

    async def query(self, collection: str, plan: QueryPlan) -> list[Hit]:
        arguments = convert.query_arguments(plan, with_params=self.kind == "server")
        response = await self.client.query_points(collection, **arguments)
        return [convert.hit_from_model(point) for point in response.points]

    async def count(self, collection: str, filter: Filter | None = None) -> int:
        result = await self.client.count(
            collection, count_filter=convert.model_filter(filter), exact=True
        )
        return result.count

    async def delete(
        self,
        collection: str,
        *,
        ids: Sequence[PointId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        if ids is not None and not ids:
            return
        await self.client.delete(collection, points_selector=_selector(ids, filter), wait=True)

    async def build_index(self, collection: str, *, progress: Progress | None = None) -> None:
        """Servers index in the background: nothing to do."""

    async def close(self) -> None:
        if self._owned:
            self._owned = False
            await self.client.close()


def as_backend(target: Backend | QdrantClient) -> Backend:
    """*target* as a :class:`Backend`: a ``QdrantClient`` (not closed) is wrapped in one.

    For callers written before the storage seam, which pass ``index.client``.
    """
    if isinstance(target, QdrantClient):
        return ClientBackend(target)
    return target
