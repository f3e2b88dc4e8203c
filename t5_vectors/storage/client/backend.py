"""The qdrant-client backend: servers and clusters by URL, ``:memory:``, and local-mode folders.

:class:`ClientBackend` adapts a ``QdrantClient`` to :class:`~t5_vectors.storage.base.Backend`;
:class:`AsyncClientBackend`, generated from it by ``scripts/generate_async.py``, adapts an
``AsyncQdrantClient`` to :class:`~t5_vectors.storage.base.AsyncBackend` with the same code,
each client call awaited (both clients have the same method names).

qdrant-client's local mode (``:memory:`` and folders holding ``meta.json``) is not thread-safe:
its calls are serialised with a lock, and payload indexes (which it ignores with a warning) are
skipped. Errors the package names itself become its typed errors
(:func:`~t5_vectors.storage.client.errors.translate`: an unreachable server, a timeout, a folder
open in another process); others pass as qdrant-client raised them.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from qdrant_client import AsyncQdrantClient, QdrantClient, models

from t5_vectors.storage.base import (
    AsyncBackend,
    Backend,
    Capabilities,
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
from t5_vectors.storage.client.errors import translate

T = TypeVar("T")
Selection = bool | tuple[str, ...]


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


class _Adapter:
    """What both adapters hold: the client, where it points and what it can do.

    Args:
        client: the client.
        owned: whether ``close`` closes it.
    """

    def __init__(self, client: QdrantClient | AsyncQdrantClient, *, owned: bool = False) -> None:
        options = client.init_options
        self.kind = client_kind(options)
        self.location = client_location(options)
        server = self.kind == "server"
        self.capabilities = Capabilities(
            payload_indexes=server,
            native_async=isinstance(client, AsyncQdrantClient),
            durable=self.kind != "memory",
            shared=server,
        )
        self.owned = owned

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, location={self.location!r})"


class ClientBackend(_Adapter, Backend):
    """:class:`~t5_vectors.storage.base.Backend` over a ``QdrantClient``."""

    def __init__(self, client: QdrantClient, *, owned: bool = False) -> None:
        super().__init__(client, owned=owned)
        self.client = client
        self._lock = threading.RLock() if self.kind != "server" else None

    def _call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """*method* of the client, one call at a time in local mode, its errors typed."""
        try:
            if self._lock is None:
                return method(*args, **kwargs)
            with self._lock:
                return method(*args, **kwargs)
        except Exception as error:
            raise translate(error, self.location) from error

    def list_collections(self) -> list[str]:
        response = self._call(self.client.get_collections)
        return sorted(c.name for c in response.collections)

    def describe(self, collection: str) -> Schema | None:
        if not self._call(self.client.collection_exists, collection):
            return None
        return convert.schema_from_info(self._call(self.client.get_collection, collection))

    def stats(self, collection: str) -> CollectionStats:
        info = self._call(self.client.get_collection, collection)
        status = getattr(info.status, "value", info.status)
        return CollectionStats(
            points=info.points_count or 0,
            indexed_vectors=info.indexed_vectors_count or 0,
            segments=info.segments_count,
            status=str(status) if status is not None else None,
        )

    def create(self, collection: str, schema: Schema) -> None:
        arguments = convert.create_arguments(collection, schema)
        self._call(self.client.create_collection, **arguments)
        for key, kind in schema.payload_indexes.items():
            self.create_payload_index(collection, key, kind)

    def drop(self, collection: str) -> bool:
        return bool(self._call(self.client.delete_collection, collection))

    def set_metadata(self, collection: str, metadata: Mapping[str, Any]) -> None:
        self._call(self.client.update_collection, collection, metadata=dict(metadata))

    def create_payload_index(self, collection: str, key: str, kind: PayloadIndexKind) -> None:
        if self.capabilities.payload_indexes:  # local mode has none (and warns on each one)
            schema = models.PayloadSchemaType(kind)
            self._call(
                self.client.create_payload_index, collection, key, field_schema=schema, wait=True
            )

    def upsert(self, collection: str, points: Sequence[Point]) -> None:
        if points:
            batch = convert.points_batch(points)
            self._call(self.client.upsert, collection, points=batch, wait=True)

    def set_payload(
        self, collection: str, updates: Sequence[tuple[PointId, Mapping[str, Any]]]
    ) -> None:
        if updates:
            operations = convert.set_payload_operations(updates)
            self._call(self.client.batch_update_points, collection, operations, wait=True)

    def retrieve(
        self,
        collection: str,
        ids: Sequence[PointId],
        *,
        with_payload: Selection = True,
        with_vectors: Selection = False,
    ) -> list[Record]:
        if not ids:
            return []
        records = self._call(
            self.client.retrieve,
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
        with_payload: Selection = True,
        with_vectors: Selection = False,
    ) -> tuple[list[Record], PointId | None]:
        records, following = self._call(
            self.client.scroll,
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
        arguments = convert.query_arguments(plan, with_params=self.kind == "server")
        response = self._call(self.client.query_points, collection, **arguments)
        return [convert.hit_from_model(point) for point in response.points]

    def count(self, collection: str, filter: Filter | None = None) -> int:
        where = convert.model_filter(filter)
        result = self._call(self.client.count, collection, count_filter=where, exact=True)
        return int(result.count)

    def delete(
        self,
        collection: str,
        *,
        ids: Sequence[PointId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        if ids is None or ids:
            selector = convert.points_selector(ids, filter)
            self._call(self.client.delete, collection, points_selector=selector, wait=True)

    def build_index(self, collection: str, *, progress: Progress | None = None) -> None:
        """Servers index in the background and local mode has no index: nothing to do."""

    def close(self) -> None:
        if self.owned:
            self.owned = False
            self._call(self.client.close)


# --- async twins: generated by scripts/generate_async.py from the code above; do not edit ---
class AsyncClientBackend(_Adapter, AsyncBackend):
    """:class:`~t5_vectors.storage.base.AsyncBackend` over an ``AsyncQdrantClient``."""

    def __init__(self, client: AsyncQdrantClient, *, owned: bool = False) -> None:
        super().__init__(client, owned=owned)
        self.client = client

    async def _call(self, method: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """*method* of the client awaited, its errors typed."""
        try:
            return await method(*args, **kwargs)
        except Exception as error:
            raise translate(error, self.location) from error

    async def list_collections(self) -> list[str]:
        """Async :meth:`ClientBackend.list_collections`."""
        response = await self._call(self.client.get_collections)
        return sorted(c.name for c in response.collections)

    async def describe(self, collection: str) -> Schema | None:
        """Async :meth:`ClientBackend.describe`."""
        if not await self._call(self.client.collection_exists, collection):
            return None
        return convert.schema_from_info(await self._call(self.client.get_collection, collection))

    async def stats(self, collection: str) -> CollectionStats:
        """Async :meth:`ClientBackend.stats`."""
        info = await self._call(self.client.get_collection, collection)
        status = getattr(info.status, "value", info.status)
        return CollectionStats(
            points=info.points_count or 0,
            indexed_vectors=info.indexed_vectors_count or 0,
            segments=info.segments_count,
            status=str(status) if status is not None else None,
        )

    async def create(self, collection: str, schema: Schema) -> None:
        """Async :meth:`ClientBackend.create`."""
        arguments = convert.create_arguments(collection, schema)
        await self._call(self.client.create_collection, **arguments)
        for key, kind in schema.payload_indexes.items():
            await self.create_payload_index(collection, key, kind)

    async def drop(self, collection: str) -> bool:
        """Async :meth:`ClientBackend.drop`."""
        return bool(await self._call(self.client.delete_collection, collection))

    async def set_metadata(self, collection: str, metadata: Mapping[str, Any]) -> None:
        """Async :meth:`ClientBackend.set_metadata`."""
        await self._call(self.client.update_collection, collection, metadata=dict(metadata))

    async def create_payload_index(self, collection: str, key: str, kind: PayloadIndexKind) -> None:
        """Async :meth:`ClientBackend.create_payload_index`."""
        if self.capabilities.payload_indexes:
            schema = models.PayloadSchemaType(kind)
            await self._call(
                self.client.create_payload_index, collection, key, field_schema=schema, wait=True
            )

    async def upsert(self, collection: str, points: Sequence[Point]) -> None:
        """Async :meth:`ClientBackend.upsert`."""
        if points:
            batch = convert.points_batch(points)
            await self._call(self.client.upsert, collection, points=batch, wait=True)

    async def set_payload(
        self, collection: str, updates: Sequence[tuple[PointId, Mapping[str, Any]]]
    ) -> None:
        """Async :meth:`ClientBackend.set_payload`."""
        if updates:
            operations = convert.set_payload_operations(updates)
            await self._call(self.client.batch_update_points, collection, operations, wait=True)

    async def retrieve(
        self,
        collection: str,
        ids: Sequence[PointId],
        *,
        with_payload: Selection = True,
        with_vectors: Selection = False,
    ) -> list[Record]:
        """Async :meth:`ClientBackend.retrieve`."""
        if not ids:
            return []
        records = await self._call(
            self.client.retrieve,
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
        with_payload: Selection = True,
        with_vectors: Selection = False,
    ) -> tuple[list[Record], PointId | None]:
        """Async :meth:`ClientBackend.scroll`."""
        records, following = await self._call(
            self.client.scroll,
            collection,
            scroll_filter=convert.model_filter(filter),
            limit=limit,
            offset=offset,
            with_payload=convert.selection(with_payload),
            with_vectors=convert.selection(with_vectors),
        )
        after = None if following is None else convert.record_id(following)
        return ([convert.record_from_model(record) for record in records], after)

    async def query(self, collection: str, plan: QueryPlan) -> list[Hit]:
        """Async :meth:`ClientBackend.query`."""
        arguments = convert.query_arguments(plan, with_params=self.kind == "server")
        response = await self._call(self.client.query_points, collection, **arguments)
        return [convert.hit_from_model(point) for point in response.points]

    async def count(self, collection: str, filter: Filter | None = None) -> int:
        """Async :meth:`ClientBackend.count`."""
        where = convert.model_filter(filter)
        result = await self._call(self.client.count, collection, count_filter=where, exact=True)
        return int(result.count)

    async def delete(
        self, collection: str, *, ids: Sequence[PointId] | None = None, filter: Filter | None = None
    ) -> None:
        """Async :meth:`ClientBackend.delete`."""
        if ids is None or ids:
            selector = convert.points_selector(ids, filter)
            await self._call(self.client.delete, collection, points_selector=selector, wait=True)

    async def build_index(self, collection: str, *, progress: Progress | None = None) -> None:
        """Async :meth:`ClientBackend.build_index`."""

    async def close(self) -> None:
        """Async :meth:`ClientBackend.close`."""
        if self.owned:
            self.owned = False
            await self._call(self.client.close)


# --- end of async twins ---
