"""A stand-in for a Qdrant server that Ray workers can reach: one Ray actor holding the store.

No Qdrant server runs in the test environment. A server's essential property for the Ray path
is that one process holds the collection and many worker processes reach it over RPC; a Ray
actor holding a qdrant-client ``:memory:`` backend (the seam's ``ClientBackend``) has exactly
that. :class:`RemoteBackend` is the picklable opener and ``Backend`` the workers use. The actor
can be told to fail the next calls of a method with ``ConnectionError`` (transient, retried).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ray

from t5_vectors.storage.base import CALLS, Capabilities, Filter, Point, PointId, Record, Schema


@ray.remote(num_cpus=0)
class StandInServer:
    def __init__(self) -> None:
        from qdrant_client import QdrantClient

        from t5_vectors.storage.client.backend import ClientBackend

        self.backend = ClientBackend(QdrantClient(location=":memory:"), owned=True)
        self.failing: dict[str, int] = {}
        self.calls: dict[str, int] = {}

    def imported_from(self) -> str:
        """Where this worker imported t5_vectors from (the tests' checkout, not an install)."""
        import t5_vectors

        return str(t5_vectors.__file__)

    def fail_next(self, method: str, times: int) -> None:
        self.failing[method] = times

    def count_calls(self) -> dict[str, int]:
        return dict(self.calls)

    def call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.calls[method] = self.calls.get(method, 0) + 1
        if self.failing.get(method, 0) > 0:
            self.failing[method] -= 1
            raise ConnectionError(f"stand-in server: connection reset during {method}")
        return getattr(self.backend, method)(*args, **kwargs)


@dataclass(frozen=True)
class RemoteBackend:
    """Opens (``__call__``) and is (its methods) a ``Backend`` over a :class:`StandInServer`."""

    server: Any
    kind: str = "server"
    location: str = "ray-actor://stand-in"

    def __call__(self) -> RemoteBackend:
        return self

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return ray.get(self.server.call.remote(method, args, kwargs))
        except ray.exceptions.RayTaskError as error:
            raise error.as_instanceof_cause() from None

    def describe(self, collection: str) -> Schema | None:
        return self._call("describe", collection)  # type: ignore[no-any-return]

    def create(self, collection: str, schema: Schema) -> None:
        self._call("create", collection, schema)

    def upsert(self, collection: str, points: Sequence[Point]) -> None:
        self._call("upsert", collection, list(points))

    def retrieve(
        self,
        collection: str,
        ids: Sequence[PointId],
        *,
        with_payload: bool | tuple[str, ...] = True,
        with_vectors: bool | tuple[str, ...] = False,
    ) -> list[Record]:
        return self._call(  # type: ignore[no-any-return]
            "retrieve", collection, list(ids), with_payload=with_payload, with_vectors=with_vectors
        )

    def scroll(
        self, collection: str, *, limit: int = 256, offset: PointId | None = None, **kw: Any
    ) -> tuple[list[Record], PointId | None]:
        return self._call("scroll", collection, limit=limit, offset=offset, **kw)  # type: ignore[no-any-return]

    def count(self, collection: str, filter: Filter | None = None) -> int:
        return self._call("count", collection, filter)  # type: ignore[no-any-return]

    def close(self) -> None:
        """Nothing to close: the actor outlives the workers."""


RemoteBackend.capabilities = Capabilities(payload_indexes=True, shared=True)  # type: ignore[attr-defined]


def _forward(name: str) -> Any:
    def call(self: RemoteBackend, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, *args, **kwargs)

    call.__name__ = name
    return call


for _name in CALLS:  # a whole Backend: the calls not written above go to the server as they are
    if not hasattr(RemoteBackend, _name):
        setattr(RemoteBackend, _name, _forward(_name))


def serve(schema_source: Any, collection: str) -> RemoteBackend:
    """A stand-in server holding an empty copy of *collection* (schema and model record)."""
    schema = schema_source.describe(collection)
    assert schema is not None
    backend = RemoteBackend(StandInServer.remote())  # type: ignore[attr-defined]
    backend.create(collection, schema)
    return backend


def state(backend: Any, collection: str) -> dict[str, tuple[Mapping[str, Any], Any]]:
    """Every point of *collection*: ``{id: (payload, vectors)}``."""
    out: dict[str, tuple[Mapping[str, Any], Any]] = {}
    offset: PointId | None = None
    while True:
        records, offset = backend.scroll(
            collection, limit=256, offset=offset, with_payload=True, with_vectors=True
        )
        for record in records:
            payload = dict(record.payload or {})
            if isinstance(payload.get("file"), Mapping):  # when a file was stored: not compared
                payload["file"] = {k: v for k, v in payload["file"].items() if k != "stored"}
            out[str(record.id)] = (payload, record.vectors)
        if offset is None:
            return out
