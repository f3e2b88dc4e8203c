"""Opening storage: any location to the backends of the storage seam, in one place.

:func:`open_storage` opens what every caller names (``QdrantIndex``, the vector store, the CLI,
Ray workers, ``copy``): a folder, a URL, ``":memory:"``, a ``QdrantClient`` /
``AsyncQdrantClient`` a user made, a :class:`~t5_vectors.storage.base.Backend`, or an open
:class:`Storage` (returned as it is). A :class:`Storage` holds the sync
:class:`~t5_vectors.storage.base.Backend` and the :class:`~t5_vectors.storage.base.AsyncBackend`:

* a URL, or a remote client passed in: the qdrant-client backend; async calls use an
  ``AsyncQdrantClient`` built from the same options (``init_options``), created on first use,
  and the other way round;
* ``":memory:"`` or a local-mode ``QdrantClient`` passed in: the qdrant-client backend, async
  calls on a worker thread;
* a folder (and the default, :data:`DEFAULT_PATH`): a folder written by qdrant-client's local
  mode (``meta.json`` / ``collection/``; langchain-qdrant ``path=``, earlier t5-vectors) opens
  with the qdrant-client backend as it is; any other folder (new, or Qdrant Edge's) is Qdrant
  Edge (:mod:`t5_vectors.storage.edge`), with async calls on a worker thread, never the loop;
* given only an embedded ``AsyncQdrantClient``, sync calls are impossible and say so.

A folder another process holds raises :class:`~t5_vectors.errors.StorageLockedError` here, for
either engine. :meth:`Storage.opener` gives a picklable callable that opens the same server in
another process (Ray workers); embedded storage serves one process and has none.

Backends a storage opened are closed by :meth:`Storage.close` and, failing that, at interpreter
exit (so a script that forgets ``close()`` prints no traceback at exit).

API keys never show: :attr:`Storage.options` masks them in its ``repr``, and no message of
t5-vectors includes them. An API key sent over plain ``http`` to a host other than this machine
raises an :class:`~t5_vectors.errors.InsecureConnectionWarning` once per storage.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import sys
import threading
import warnings
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Union, cast
from urllib.parse import urlsplit

from t5_vectors.errors import InsecureConnectionWarning, InvalidInputError
from t5_vectors.storage.base import AsyncBackend, Backend, Capabilities, Filter
from t5_vectors.storage.threaded import threaded

_B = TypeVar("_B", Backend, AsyncBackend)

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient, QdrantClient, models

    from t5_vectors.storage.client.backend import AsyncClientBackend, ClientBackend

__all__ = [
    "DEFAULT_PATH",
    "Connection",
    "ServerOpener",
    "Storage",
    "StorageLike",
    "is_local_mode_folder",
    "open_storage",
]

DEFAULT_PATH = "./t5_vectors_data"
"""Where embedded Qdrant stores collections when no client, location, url or path is given."""


def _client_module() -> Any:
    """qdrant-client, imported when a location needs it (Qdrant Edge never does)."""
    import qdrant_client

    return qdrant_client


def _is_client(value: object, name: str = "QdrantClient") -> bool:
    """Whether *value* is qdrant-client's *name* (no import: one must exist to be given)."""
    module = sys.modules.get("qdrant_client")
    return module is not None and isinstance(value, getattr(module, name))


def _adapters() -> Any:
    """The qdrant-client backend module, imported with qdrant-client when first needed."""
    from t5_vectors.storage.client import backend

    return backend


def _is_adapter(value: object, name: str) -> bool:
    module = sys.modules.get("t5_vectors.storage.client.backend")
    return module is not None and isinstance(value, getattr(module, name))


def _is_local(options: Mapping[str, Any]) -> bool:
    return options.get("location") == ":memory:" or options.get("path") is not None


def is_local_mode_folder(path: str | os.PathLike[str]) -> bool:
    """Whether *path* holds a store written by qdrant-client's local mode (``meta.json``)."""
    folder = Path(path)
    return (folder / "meta.json").is_file() or (folder / "collection").is_dir()


def _edge_backend(path: Path) -> Backend:
    """Qdrant Edge over *path*: a lease on the backend every storage of this process shares."""
    from t5_vectors.storage.edge.shared import lease

    return lease(path)


def _local_client(options: Mapping[str, Any]) -> QdrantClient:
    """A qdrant-client over *options*; a folder open in another process is a typed error."""
    from t5_vectors.storage.client.errors import translate

    try:
        client: QdrantClient = _client_module().QdrantClient(**options)
    except RuntimeError as error:
        raise translate(error, str(options.get("path"))) from error
    return client


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


class Storage:
    """The storage backends behind a ``QdrantIndex`` (open it with :func:`open_storage`).

    Args:
        client: a ``QdrantClient`` to use (not closed by :meth:`close`).
        backend: a storage backend to use (not closed by :meth:`close`).
        async_client: an ``AsyncQdrantClient`` to use (not closed by :meth:`aclose`).
        options: ``QdrantClient`` keyword arguments (``location``, ``url``, ``path``,
            ``api_key``, ...) used when no client is given; with none at all, embedded storage
            lives under :data:`DEFAULT_PATH`.
        edge: open embedded folders that local mode did not write with Qdrant Edge (what
            ``QdrantIndex`` does); ``False`` opens every folder with qdrant-client's local mode.
    """

    def __init__(
        self,
        *,
        client: QdrantClient | None = None,
        async_client: AsyncQdrantClient | None = None,
        backend: Backend | None = None,
        options: Mapping[str, Any] | None = None,
        edge: bool = False,
    ) -> None:
        given = {key: value for key, value in (options or {}).items() if value is not None}
        if client is not None and not _is_client(client):
            raise InvalidInputError(
                f"client: expected a qdrant_client.QdrantClient, found {type(client).__name__}. "
                "Pass an AsyncQdrantClient as async_client=."
            )
        if async_client is not None and not _is_client(async_client, "AsyncQdrantClient"):
            raise InvalidInputError(
                "async_client: expected a qdrant_client.AsyncQdrantClient, found "
                f"{type(async_client).__name__}."
            )
        if (client is not None or async_client is not None) and given:
            raise InvalidInputError(
                f"expected either a client or connection options, found both (client and "
                f"{', '.join(sorted(given))}). Configure the client you pass instead."
            )
        if backend is not None and (client is not None or async_client is not None or given):
            raise InvalidInputError(
                "expected either a backend or a client / connection options, found both. "
                "Pass only backend=."
            )
        if backend is not None and not isinstance(backend, Backend):
            raise InvalidInputError(
                f"backend: expected a t5_vectors storage Backend, found {type(backend).__name__}."
            )
        self._owned: list[Backend | AsyncBackend] = []
        self._backend: Backend | None = backend
        self._abackend: AsyncBackend | None = None
        self._client = client
        self._async_client = async_client
        self._twin_lock = threading.Lock()
        if client is None and async_client is None and backend is None:
            if not ({"location", "url", "host", "path"} & given.keys()):
                given["path"] = DEFAULT_PATH
            path = given.get("path")
            if path is not None:
                path = given["path"] = Path(path).expanduser()
                if edge and set(given) == {"path"} and not is_local_mode_folder(path):
                    self._backend = _edge_backend(path)
            if self._backend is None:
                if path is not None:
                    from t5_vectors.storage.client.local import repair_interrupted_first_open

                    repair_interrupted_first_open(path)
                    given["path"] = os.fspath(path)
                self._client = _local_client(given)
        if backend is not None and _is_adapter(backend, "ClientBackend"):
            self._client = cast("ClientBackend", backend).client
        if self._backend is not None and not _is_adapter(self._backend, "ClientBackend"):
            if backend is None:
                self._owned.append(self._backend)
            self.options: dict[str, Any] = RedactedOptions({"path": self._backend.location})
            self.kind = self._backend.kind
        else:
            if self._backend is None and self._client is not None:
                self._backend = self._own(
                    _adapters().client_backend(self._client, owned=client is None)
                )
            reference = self._client if self._client is not None else async_client
            assert reference is not None
            self.options = RedactedOptions(reference.init_options)
            self.kind = (
                self._backend.kind
                if self._backend is not None
                else "server"
                if not _is_local(self.options)
                else "local-mode"
            )
        if async_client is not None:
            self._abackend = _adapters().async_client_backend(async_client)
        self.location = (
            self._backend.location
            if self._backend is not None
            else str(
                self.options.get("url") or self.options.get("location") or self.options.get("path")
            )
        )
        self.local = self.kind != "server"
        if not self.local:
            warn_if_insecure(self.options)
        owned = self._owned
        self._finalizer = weakref.finalize(self, _close_all, owned)
        _open_connections.add(self)

    def __repr__(self) -> str:
        return f"Storage(kind={self.kind!r}, location={self.location!r})"

    @property
    def has_sync(self) -> bool:
        """Whether a sync backend was opened or given (not when only an async client was)."""
        return self._backend is not None or self._client is not None

    @property
    def capabilities(self) -> Capabilities:
        """What the storage can do (the sync backend's, with native async where it is)."""
        backend = self._backend
        if backend is None:  # only an AsyncQdrantClient was given
            assert self._abackend is not None
            return self._abackend.capabilities
        return replace(backend.capabilities, native_async=self.native_async)

    def opener(self) -> ServerOpener:
        """A picklable callable that opens this storage's server in another process.

        Raises:
            InvalidInputError: the storage is embedded (a folder or ``:memory:``), which serves
                one process.
        """
        if not self.capabilities.shared:
            raise InvalidInputError(
                f"storage: expected a Qdrant server or cluster that other processes can write "
                f"to, found {self.kind} storage ({self.location}), which serves one process. "
                "Write to it from this process, or connect to a server (url=...)."
            )
        return ServerOpener(dict(self.options))

    # ------------------------------------------------------------------------------ backends
    @property
    def backend(self) -> Backend:
        """The sync backend (for a server given only async, built from the same options)."""
        if self._backend is None:
            if self.local:
                raise InvalidInputError(
                    "expected a QdrantClient for synchronous calls, found only an embedded "
                    "AsyncQdrantClient (embedded storage cannot be shared between clients). "
                    "Use the async methods (aingest, asearch, ...), or pass "
                    "client=QdrantClient(...) instead."
                )
            with self._twin_lock:
                if self._backend is None:
                    self._client = _client_module().QdrantClient(**self._twin_options())
                    self._backend = self._own(_adapters().client_backend(self._client, owned=True))
        return self._backend

    @property
    def abackend(self) -> AsyncBackend:
        """The async backend: native for servers, a worker thread over an embedded engine."""
        if self._abackend is None:
            with self._twin_lock:
                if self._abackend is None:
                    if self.local:
                        assert self._backend is not None  # else an async client was given
                        self._abackend = threaded(self._backend)
                    else:
                        self._async_client = _client_module().AsyncQdrantClient(
                            **self._twin_options()
                        )
                        self._abackend = self._own(
                            _adapters().async_client_backend(self._async_client, owned=True)
                        )
        return self._abackend

    def _own(self, backend: _B) -> _B:
        """*backend*, closed with this storage (the twin a server's other kind of call needs)."""
        self._owned.append(backend)
        return backend

    @property
    def native_async(self) -> bool:
        """Whether async calls go through an ``AsyncQdrantClient``."""
        return self._async_client is not None or not self.local

    # ------------------------------------------------------- qdrant-client escape hatches
    @property
    def client(self) -> QdrantClient:
        """The sync ``QdrantClient`` (qdrant-client targets only; nothing inside uses it)."""
        backend = self.backend
        if not _is_adapter(backend, "ClientBackend"):
            raise InvalidInputError(
                f"expected a qdrant-client target for .client, found Qdrant Edge at "
                f"{backend.location!r}. Use the QdrantIndex methods, or open a Qdrant server "
                "(url=...) to use qdrant-client directly."
            )
        return cast("ClientBackend", backend).client

    @property
    def async_client(self) -> AsyncQdrantClient | None:
        """The ``AsyncQdrantClient``; ``None`` when async calls run in a worker thread."""
        abackend = self.abackend
        if not _is_adapter(abackend, "AsyncClientBackend"):
            return None
        return cast("AsyncClientBackend", abackend).client

    def _twin_options(self) -> dict[str, Any]:
        # The first client already checked the server version; do not block on it again.
        return {**dict(self.options), "check_compatibility": False}

    # ------------------------------------------------------- calls the CLI makes (compat)
    def collection_exists(self, name: str) -> bool:
        """Whether collection *name* exists."""
        return name in self.backend.list_collections()

    def get_collection(self, name: str) -> models.CollectionInfo:
        """qdrant-client's ``get_collection`` (qdrant-client targets only)."""
        return self.client.get_collection(name)

    def delete_collection(self, name: str) -> None:
        """Drop collection *name*."""
        self.backend.drop(name)

    def count(self, name: str, filter: Filter | None = None) -> int:
        """Exact number of points of *name* (matching *filter*)."""
        return self.backend.count(name, filter)

    # ------------------------------------------------------------------------------ closing
    def close(self) -> None:
        """Close the sync backends this connection opened (async ones need :meth:`aclose`)."""
        for owned in list(self._owned):
            if not _is_adapter(owned, "AsyncClientBackend"):
                owned.close()
                self._owned.remove(owned)

    async def aclose(self) -> None:
        """Close every backend this connection opened."""
        for owned in list(self._owned):
            if _is_adapter(owned, "AsyncClientBackend"):
                await cast("AsyncClientBackend", owned).close()
            else:
                owned.close()
            self._owned.remove(owned)


def _close_all(owned: list[Backend | AsyncBackend]) -> None:
    for backend in list(owned):
        if _is_adapter(backend, "AsyncClientBackend"):
            continue  # an async client needs its event loop; its connections close with it
        with contextlib.suppress(Exception):  # closing at exit must not raise
            backend.close()
        owned.remove(backend)


_open_connections: weakref.WeakSet[Storage] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    """Close what scripts forgot to close, before the interpreter tears modules down."""
    for connection in list(_open_connections):
        connection._finalizer()


Connection = Storage
"""The former name of :class:`Storage`."""


@dataclass(frozen=True)
class ServerOpener:
    """Opens the qdrant-client backend of a Qdrant server or cluster (picklable, for workers).

    Args:
        options: ``QdrantClient`` keyword arguments (``url``, ``api_key``, ``timeout``, ...).
    """

    options: Mapping[str, Any]

    def __call__(self) -> Backend:
        # The opener's maker already checked the server's version; workers need not ask again.
        client = _client_module().QdrantClient(
            **{**dict(self.options), "check_compatibility": False}
        )
        backend: Backend = _adapters().client_backend(client, owned=True)
        return backend

    def __repr__(self) -> str:  # never show an API key
        location = self.options.get("url") or self.options.get("location")
        return f"ServerOpener({location or self.options.get('host')!r})"


StorageLike = Union[
    str, os.PathLike[str], "QdrantClient", "AsyncQdrantClient", Backend, Storage, None
]
"""What :func:`open_storage` opens."""

_URL = ("http://", "https://")


def open_storage(
    where: StorageLike = None,
    *,
    api_key: str | None = None,
    client_options: Mapping[str, Any] | None = None,
    async_client: AsyncQdrantClient | None = None,
    name: str = "storage",
) -> Storage:
    """Open any location as a :class:`Storage`.

    Args:
        where: a folder (``str`` or path; embedded storage: Qdrant Edge, or qdrant-client's
            local mode for a folder it wrote), an ``http(s)://`` URL (a server or cluster),
            ``":memory:"``, a ``QdrantClient`` or ``AsyncQdrantClient`` (not closed by
            :meth:`Storage.close`), a storage :class:`~t5_vectors.storage.base.Backend` (not
            closed), or an open :class:`Storage` (returned as it is). ``None`` is
            :data:`DEFAULT_PATH`.
        api_key: the server's API key (URLs only).
        client_options: other ``QdrantClient`` keyword arguments (``timeout``,
            ``prefer_grpc``, ...; URLs only).
        async_client: an ``AsyncQdrantClient`` for the same server, beside a ``QdrantClient``.
        name: how the caller's interface names *where*, for messages (``"client"``,
            ``"path"``, ...).

    Raises:
        InvalidInputError: options that do not fit the location (an API key for a folder).
        StorageLockedError: the folder is open in another process.
    """
    if isinstance(where, Storage):
        if api_key is not None or client_options or async_client is not None:
            raise InvalidInputError(
                "storage: expected no api_key / client_options / async_client with an open "
                "Storage, found some. Configure the storage when you open it."
            )
        return where
    if _is_client(where, "AsyncQdrantClient"):
        return Storage(async_client=where)  # type: ignore[arg-type]
    if _is_client(where):
        return Storage(client=cast("QdrantClient", where), async_client=async_client)
    if isinstance(where, Backend):
        return Storage(backend=where)
    if where is not None and not isinstance(where, (str, os.PathLike)):
        raise InvalidInputError(
            f"{name}: expected a folder path, a server URL, ':memory:', a "
            f"qdrant_client.QdrantClient or AsyncQdrantClient, or a storage Backend, found "
            f"{type(where).__name__}."
        )
    if async_client is not None and not _is_client(async_client, "AsyncQdrantClient"):
        raise InvalidInputError(
            "async_client: expected a qdrant_client.AsyncQdrantClient, found "
            f"{type(async_client).__name__}."
        )
    options = dict(client_options or {})
    if isinstance(where, str) and (where == ":memory:" or where.startswith(_URL)):
        options.update({"location": where, "api_key": api_key})
    else:
        if api_key is not None or client_options:
            raise InvalidInputError(
                f"api_key / client_options: expected a server URL with them, found the "
                f"folder {where or DEFAULT_PATH!r}. Pass url='http://...' or drop them."
            )
        options["path"] = where if where is not None else DEFAULT_PATH
    return Storage(options=options, async_client=async_client, edge=True)
