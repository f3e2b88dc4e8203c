"""Which qdrant-client object serves a call: sync, async, embedded or remote.

A :class:`Connection` holds a ``QdrantClient`` and/or an ``AsyncQdrantClient`` and offers the few
operations t5-vectors needs, each in a sync and an async flavour:

* given a remote ``QdrantClient``, async calls use an ``AsyncQdrantClient`` built from the same
  options (``init_options``), created on first use; and the other way round;
* given an embedded (local mode) ``QdrantClient``, async calls run it in a worker thread
  (``asyncio.to_thread``): embedded Qdrant computes in-process (a numpy scan per search, a few ms
  at thousands of points), and running that inline, as qdrant-client's own ``AsyncQdrantLocal``
  does, would stall the caller's event loop for every search;
* given only an embedded ``AsyncQdrantClient``, sync calls are impossible and say so.

Embedded Qdrant is not thread-safe, so calls on it are serialised with a lock (ingestion uploads
from a background thread while the caller's thread reads).

API keys never show: :attr:`Connection.options` masks them in its ``repr``, and no message of
t5-vectors includes them. An API key sent over plain ``http`` to a host other than this machine
raises an :class:`~t5_vectors.errors.InsecureConnectionWarning` once per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from qdrant_client import AsyncQdrantClient, QdrantClient, models

from t5_vectors.errors import InsecureConnectionWarning, InvalidInputError
from t5_vectors.qdrant.local_store import repair_interrupted_first_open

__all__ = ["DEFAULT_PATH", "Connection"]

DEFAULT_PATH = "./t5_vectors_data"
"""Where embedded Qdrant stores collections when no client, location, url or path is given."""


def _is_local(options: Mapping[str, Any]) -> bool:
    return options.get("location") == ":memory:" or options.get("path") is not None


_SECRET_OPTIONS = frozenset({"api_key", "auth_token_provider"})
_SECRET_HEADERS = frozenset({"api-key", "authorization"})


class RedactedOptions(dict[str, Any]):
    """Client options whose ``repr`` masks API keys and auth headers (the values stay usable)."""

    def __repr__(self) -> str:
        shown = {
            key: "***" if key in _SECRET_OPTIONS and value is not None else value
            for key, value in self.items()
        }
        for key in ("headers", "metadata"):
            headers = shown.get(key)
            if isinstance(headers, Mapping):
                shown[key] = {
                    name: "***" if str(name).lower() in _SECRET_HEADERS else value
                    for name, value in headers.items()
                }
        return repr(shown)

    __str__ = __repr__


def _sends_key(options: Mapping[str, Any]) -> bool:
    headers = {
        str(name).lower()
        for key in ("headers", "metadata")
        if isinstance(options.get(key), Mapping)
        for name in options[key]
    }
    return bool(options.get("api_key")) or bool(headers & _SECRET_HEADERS)


def _plain_http_host(options: Mapping[str, Any]) -> str | None:
    """The host an ``http`` (not ``https``) client talks to, or ``None`` (https or embedded)."""
    location = options.get("location")
    url = options.get("url") or (location if location not in (None, ":memory:") else None)
    if url:
        text = str(url)
        parts = urlsplit(text if "://" in text else f"//{text}")
        scheme = parts.scheme or ("https" if options.get("https") else "http")
        host = parts.hostname
    elif options.get("host"):
        scheme = "https" if options.get("https") else "http"
        host = str(options["host"])
    else:
        return None
    return host if scheme == "http" and host else None


def _is_this_machine(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def warn_if_insecure(options: Mapping[str, Any]) -> None:
    """Warn (:class:`InsecureConnectionWarning`) when an API key would cross a network in clear."""
    if not _sends_key(options):
        return
    host = _plain_http_host(options)
    if host is None or _is_this_machine(host):
        return
    warnings.warn(
        f"Expected https for a Qdrant server that receives an API key, found plain http to "
        f"{host!r}: anyone on the network path can read the key. Use an https:// URL (or "
        "https=True), or reach the server through localhost (for example an SSH tunnel).",
        InsecureConnectionWarning,
        stacklevel=4,
    )


class Connection:
    """The clients behind a ``QdrantIndex``.

    Args:
        client: a ``QdrantClient`` to use (not closed by :meth:`close`).
        async_client: an ``AsyncQdrantClient`` to use (not closed by :meth:`aclose`).
        options: ``QdrantClient`` keyword arguments (``location``, ``url``, ``path``,
            ``api_key``, ...) used when no client is given; with none at all, embedded Qdrant
            stores data under :data:`DEFAULT_PATH`.
    """

    def __init__(
        self,
        *,
        client: QdrantClient | None = None,
        async_client: AsyncQdrantClient | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        given = {key: value for key, value in (options or {}).items() if value is not None}
        if client is not None and not isinstance(client, QdrantClient):
            raise InvalidInputError(
                f"client: expected a qdrant_client.QdrantClient, found {type(client).__name__}. "
                "Pass an AsyncQdrantClient as async_client=."
            )
        if async_client is not None and not isinstance(async_client, AsyncQdrantClient):
            raise InvalidInputError(
                "async_client: expected a qdrant_client.AsyncQdrantClient, found "
                f"{type(async_client).__name__}."
            )
        if (client is not None or async_client is not None) and given:
            raise InvalidInputError(
                f"expected either a client or connection options, found both (client and "
                f"{', '.join(sorted(given))}). Configure the client you pass instead."
            )
        self._owned: list[QdrantClient | AsyncQdrantClient] = []
        if client is None and async_client is None:
            if not ({"location", "url", "host", "path"} & given.keys()):
                given["path"] = DEFAULT_PATH
            if given.get("path") is not None:
                repair_interrupted_first_open(given["path"])
            client = QdrantClient(**given)
            self._owned.append(client)
        self._client = client
        self._async_client = async_client
        reference = client if client is not None else async_client
        assert reference is not None
        self.options: dict[str, Any] = RedactedOptions(reference.init_options)
        self.local = _is_local(self.options)
        if not self.local:
            warn_if_insecure(self.options)
        self._lock = threading.RLock() if self.local else None
        self._twin_lock = threading.Lock()

    # ------------------------------------------------------------------------------- clients
    @property
    def client(self) -> QdrantClient:
        """The sync client (built from the async one's options for a remote server)."""
        if self._client is None:
            if self.local:
                raise InvalidInputError(
                    "expected a QdrantClient for synchronous calls, found only an embedded "
                    "AsyncQdrantClient (embedded storage cannot be shared between clients). "
                    "Use the async methods (aingest, asearch, ...), or pass "
                    "client=QdrantClient(...) instead."
                )
            with self._twin_lock:
                if self._client is None:
                    self._client = QdrantClient(**self._twin_options())
                    self._owned.append(self._client)
        return self._client

    @property
    def async_client(self) -> AsyncQdrantClient | None:
        """The async client; ``None`` when async calls run an embedded sync client in a thread."""
        if self._async_client is None and not self.local:
            with self._twin_lock:
                if self._async_client is None:
                    self._async_client = AsyncQdrantClient(**self._twin_options())
                    self._owned.append(self._async_client)
        return self._async_client

    def _twin_options(self) -> dict[str, Any]:
        # The first client already checked the server version; do not block on it again.
        return {**dict(self.options), "check_compatibility": False}

    @property
    def native_async(self) -> bool:
        """Whether async calls go through an ``AsyncQdrantClient``."""
        return self._async_client is not None or not self.local

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        if self._lock is None:
            yield
        else:
            with self._lock:
                yield

    def close(self) -> None:
        """Close the sync clients this connection created (async ones need :meth:`aclose`)."""
        for owned in list(self._owned):
            if isinstance(owned, QdrantClient):
                owned.close()
                self._owned.remove(owned)

    async def aclose(self) -> None:
        """Close every client this connection created."""
        for owned in list(self._owned):
            if isinstance(owned, AsyncQdrantClient):
                await owned.close()
            else:
                owned.close()
            self._owned.remove(owned)

    # ---------------------------------------------------------------------------- collections
    def collection_exists(self, name: str) -> bool:
        with self._guard():
            return self.client.collection_exists(name)

    async def acollection_exists(self, name: str) -> bool:
        if (aclient := self.async_client) is not None:
            return await aclient.collection_exists(name)
        return await asyncio.to_thread(self.collection_exists, name)

    def get_collection(self, name: str) -> models.CollectionInfo:
        with self._guard():
            return self.client.get_collection(name)

    async def aget_collection(self, name: str) -> models.CollectionInfo:
        if (aclient := self.async_client) is not None:
            return await aclient.get_collection(name)
        return await asyncio.to_thread(self.get_collection, name)

    def create_collection(self, arguments: Mapping[str, Any]) -> None:
        with self._guard():
            self.client.create_collection(**arguments)

    async def acreate_collection(self, arguments: Mapping[str, Any]) -> None:
        if (aclient := self.async_client) is not None:
            await aclient.create_collection(**arguments)
        else:
            await asyncio.to_thread(self.create_collection, arguments)

    def delete_collection(self, name: str) -> None:
        with self._guard():
            self.client.delete_collection(name)

    async def adelete_collection(self, name: str) -> None:
        if (aclient := self.async_client) is not None:
            await aclient.delete_collection(name)
        else:
            await asyncio.to_thread(self.delete_collection, name)

    def create_payload_index(self, name: str, field: str, schema: models.PayloadSchemaType) -> None:
        with self._guard():
            self.client.create_payload_index(name, field, field_schema=schema)

    async def acreate_payload_index(
        self, name: str, field: str, schema: models.PayloadSchemaType
    ) -> None:
        if (aclient := self.async_client) is not None:
            await aclient.create_payload_index(name, field, field_schema=schema)
        else:
            await asyncio.to_thread(self.create_payload_index, name, field, schema)

    # --------------------------------------------------------------------------------- points
    def retrieve(
        self, name: str, ids: Sequence[str | int], *, with_payload: bool | list[str] = True
    ) -> list[models.Record]:
        with self._guard():
            return self.client.retrieve(name, ids, with_payload=with_payload, with_vectors=False)

    async def aretrieve(
        self, name: str, ids: Sequence[str | int], *, with_payload: bool | list[str] = True
    ) -> list[models.Record]:
        if (aclient := self.async_client) is not None:
            return await aclient.retrieve(name, ids, with_payload=with_payload, with_vectors=False)
        return await asyncio.to_thread(self.retrieve, name, ids, with_payload=with_payload)

    def upsert(self, name: str, batch: models.Batch) -> None:
        with self._guard():
            self.client.upsert(name, points=batch, wait=True)

    async def aupsert(self, name: str, batch: models.Batch) -> None:
        if (aclient := self.async_client) is not None:
            await aclient.upsert(name, points=batch, wait=True)
        else:
            await asyncio.to_thread(self.upsert, name, batch)

    def query(self, name: str, arguments: Mapping[str, Any]) -> list[models.ScoredPoint]:
        with self._guard():
            return self.client.query_points(name, **arguments).points

    async def aquery(self, name: str, arguments: Mapping[str, Any]) -> list[models.ScoredPoint]:
        if (aclient := self.async_client) is not None:
            return (await aclient.query_points(name, **arguments)).points
        return await asyncio.to_thread(self.query, name, arguments)

    def delete(self, name: str, selector: models.PointsSelector) -> None:
        with self._guard():
            self.client.delete(name, points_selector=selector, wait=True)

    async def adelete(self, name: str, selector: models.PointsSelector) -> None:
        if (aclient := self.async_client) is not None:
            await aclient.delete(name, points_selector=selector, wait=True)
        else:
            await asyncio.to_thread(self.delete, name, selector)

    def count(self, name: str, query_filter: models.Filter | None = None) -> int:
        with self._guard():
            return self.client.count(name, count_filter=query_filter, exact=True).count

    async def acount(self, name: str, query_filter: models.Filter | None = None) -> int:
        if (aclient := self.async_client) is not None:
            return (await aclient.count(name, count_filter=query_filter, exact=True)).count
        return await asyncio.to_thread(self.count, name, query_filter)
