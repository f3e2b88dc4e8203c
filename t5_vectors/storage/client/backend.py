"""The qdrant-client backend: servers and clusters by URL, ``:memory:``, and local-mode folders.

:class:`ClientBackend` adapts a ``QdrantClient`` to :class:`~t5_vectors.storage.base.Backend`,
:class:`AsyncClientBackend` an ``AsyncQdrantClient`` to
:class:`~t5_vectors.storage.base.AsyncBackend`. Each call is written once, as an operation
(:mod:`t5_vectors._steps`) over the client's methods, which have the same names in both
clients; the two classes only drive the operations, one calling, the other awaiting.

qdrant-client's local mode (``:memory:`` and folders holding ``meta.json``) is not thread-safe:
its calls are serialised with a lock, and payload indexes (which it ignores with a warning) are
skipped. Errors the package names itself become its typed errors
(:func:`~t5_vectors.storage.client.errors.translate`: an unreachable server, a timeout, a folder
open in another process); others pass as qdrant-client raised them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from qdrant_client import AsyncQdrantClient, QdrantClient, models

from t5_vectors._steps import Call, Operation, Steps, adrive, async_methods, drive, sync_methods
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

__all__ = [
    "AsyncClientBackend",
    "ClientBackend",
    "as_backend",
    "async_client_backend",
    "client_backend",
    "client_capabilities",
    "client_kind",
    "client_location",
]

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


def client_capabilities(kind: str, *, native_async: bool = False) -> Capabilities:
    """What a qdrant-client target of *kind* can do."""
    server = kind == "server"
    return Capabilities(
        payload_indexes=server,
        native_async=native_async,
        durable=kind != "memory",
        shared=server,
    )


def _call(name: str, *args: Any, **kwargs: Any) -> Call:
    return Call("client", name, args, kwargs)


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


# --- each call, once -----------------------------------------------------------------------


def _list_collections(backend: _Adapter) -> Steps[list[str]]:
    response = yield _call("get_collections")
    return sorted(c.name for c in response.collections)


def _describe(backend: _Adapter, collection: str) -> Steps[Schema | None]:
    if not (yield _call("collection_exists", collection)):
        return None
    return convert.schema_from_info((yield _call("get_collection", collection)))


def _collection_stats(backend: _Adapter, collection: str) -> Steps[CollectionStats]:
    return _stats((yield _call("get_collection", collection)))


def _create(backend: _Adapter, collection: str, schema: Schema) -> Steps[None]:
    yield _call("create_collection", **convert.create_arguments(collection, schema))
    for key, kind in schema.payload_indexes.items():
        yield from _create_payload_index(backend, collection, key, kind)


def _drop(backend: _Adapter, collection: str) -> Steps[bool]:
    return bool((yield _call("delete_collection", collection)))


def _set_metadata(backend: _Adapter, collection: str, metadata: Mapping[str, Any]) -> Steps[None]:
    yield _call("update_collection", collection, metadata=dict(metadata))


def _create_payload_index(
    backend: _Adapter, collection: str, key: str, kind: PayloadIndexKind
) -> Steps[None]:
    if backend.capabilities.payload_indexes:  # local mode has none (and warns on each one)
        field_schema = models.PayloadSchemaType(kind)
        yield _call("create_payload_index", collection, key, field_schema=field_schema, wait=True)


def _upsert(backend: _Adapter, collection: str, points: Sequence[Point]) -> Steps[None]:
    if points:
        yield _call("upsert", collection, points=convert.points_batch(points), wait=True)


def _set_payload(
    backend: _Adapter, collection: str, updates: Sequence[tuple[PointId, Mapping[str, Any]]]
) -> Steps[None]:
    if updates:
        operations = convert.set_payload_operations(updates)
        yield _call("batch_update_points", collection, operations, wait=True)


def _retrieve(
    backend: _Adapter,
    collection: str,
    ids: Sequence[PointId],
    *,
    with_payload: Selection = True,
    with_vectors: Selection = False,
) -> Steps[list[Record]]:
    if not ids:
        return []
    records = yield _call(
        "retrieve",
        collection,
        list(ids),
        with_payload=convert.selection(with_payload),
        with_vectors=convert.selection(with_vectors),
    )
    return [convert.record_from_model(record) for record in records]


def _scroll(
    backend: _Adapter,
    collection: str,
    *,
    filter: Filter | None = None,
    limit: int = 256,
    offset: PointId | None = None,
    with_payload: Selection = True,
    with_vectors: Selection = False,
) -> Steps[tuple[list[Record], PointId | None]]:
    records, following = yield _call(
        "scroll",
        collection,
        scroll_filter=convert.model_filter(filter),
        limit=limit,
        offset=offset,
        with_payload=convert.selection(with_payload),
        with_vectors=convert.selection(with_vectors),
    )
    after = None if following is None else convert.record_id(following)
    return [convert.record_from_model(record) for record in records], after


def _query(backend: _Adapter, collection: str, plan: QueryPlan) -> Steps[list[Hit]]:
    arguments = convert.query_arguments(plan, with_params=backend.kind == "server")
    response = yield _call("query_points", collection, **arguments)
    return [convert.hit_from_model(point) for point in response.points]


def _count(backend: _Adapter, collection: str, filter: Filter | None = None) -> Steps[int]:
    where = convert.model_filter(filter)
    result = yield _call("count", collection, count_filter=where, exact=True)
    return int(result.count)


def _delete(
    backend: _Adapter,
    collection: str,
    *,
    ids: Sequence[PointId] | None = None,
    filter: Filter | None = None,
) -> Steps[None]:
    if ids is None or ids:
        selector = _selector(ids, filter)
        yield _call("delete", collection, points_selector=selector, wait=True)


def _build_index(
    backend: _Adapter, collection: str, *, progress: Progress | None = None
) -> Steps[None]:
    """Servers index in the background and local mode has no index: nothing to do."""
    return
    yield  # an operation with no call


def _close(backend: _Adapter) -> Steps[None]:
    if backend.owned:
        backend.owned = False
        yield _call("close")


OPERATIONS: dict[str, Operation] = {
    "list_collections": _list_collections,
    "describe": _describe,
    "stats": _collection_stats,
    "create": _create,
    "drop": _drop,
    "set_metadata": _set_metadata,
    "create_payload_index": _create_payload_index,
    "upsert": _upsert,
    "set_payload": _set_payload,
    "retrieve": _retrieve,
    "scroll": _scroll,
    "query": _query,
    "count": _count,
    "delete": _delete,
    "build_index": _build_index,
    "close": _close,
}
"""Every call of the storage protocol, written once over qdrant-client's method names."""


# --- the two drivers -----------------------------------------------------------------------


class _Adapter:
    """What both drivers hold: the client, where it points and what it can do.

    Args:
        client: the client.
        owned: whether ``close`` closes it.
    """

    def __init__(self, client: QdrantClient | AsyncQdrantClient, *, owned: bool = False) -> None:
        self.client = client
        options = client.init_options
        self.kind = client_kind(options)
        self.location = client_location(options)
        self.capabilities = client_capabilities(
            self.kind, native_async=isinstance(client, AsyncQdrantClient)
        )
        self.owned = owned
        self._wrap = partial(translate, location=self.location)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, location={self.location!r})"


class ClientBackend(_Adapter, Backend):
    """:class:`~t5_vectors.storage.base.Backend` over a ``QdrantClient``.

    Its protocol methods are made from :data:`OPERATIONS` below; type checkers see them as
    the protocol's declarations (:func:`client_backend` creates one for typed code).
    """

    client: QdrantClient

    def __init__(self, client: QdrantClient, *, owned: bool = False) -> None:
        super().__init__(client, owned=owned)
        self._lock = threading.RLock() if self.kind != "server" else None

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        if self._lock is None:
            yield
        else:
            with self._lock:
                yield

    def _run(self, steps: Steps[Any]) -> Any:
        with self._guard():
            return drive(steps, {"client": self.client}, self._wrap)


class AsyncClientBackend(_Adapter, AsyncBackend):
    """:class:`~t5_vectors.storage.base.AsyncBackend` over an ``AsyncQdrantClient`` (servers),
    made as :class:`ClientBackend` is."""

    client: AsyncQdrantClient

    async def _run(self, steps: Steps[Any]) -> Any:
        return await adrive(steps, {"client": self.client}, self._wrap)


for _name, _method in sync_methods(OPERATIONS, ClientBackend._run).items():
    setattr(ClientBackend, _name, _method)
for _name, _method in async_methods(OPERATIONS, AsyncClientBackend._run).items():
    setattr(AsyncClientBackend, _name, _method)


def client_backend(client: QdrantClient, *, owned: bool = False) -> ClientBackend:
    """The backend over *client* (closed by its ``close`` when *owned*)."""
    return ClientBackend(client, owned=owned)  # type: ignore[abstract]  # methods set above


def async_client_backend(client: AsyncQdrantClient, *, owned: bool = False) -> AsyncClientBackend:
    """The async backend over *client* (closed by its ``close`` when *owned*)."""
    return AsyncClientBackend(client, owned=owned)  # type: ignore[abstract]  # methods set above


def as_backend(target: Backend | QdrantClient) -> Backend:
    """*target* as a :class:`Backend`: a ``QdrantClient`` (not closed) is wrapped in one.

    For callers written before the storage seam, which pass ``index.client``.
    """
    if isinstance(target, QdrantClient):
        return client_backend(target)
    return target
