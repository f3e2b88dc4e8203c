"""The one door to storage: :func:`open_storage` turns any location into a :class:`Storage`.

Everything above this layer (``QdrantIndex``, the vector store, the CLI, ``copy``, file
ingestion, Ray workers, the servers) receives a :class:`Storage` or a location that this
function opens, and never builds a backend itself. The locations:

* a folder (and the default, :data:`DEFAULT_PATH`): Qdrant Edge (:mod:`t5_vectors.storage.edge`),
  the engine in this process, through the folder's lease (every storage of this process that
  opens the folder shares one backend); a folder written by qdrant-client's local mode
  (``meta.json`` / ``collection/``: langchain-qdrant's ``path=``, earlier t5-vectors) opens with
  qdrant-client as it is;
* an ``http(s)://`` URL or a :class:`ServerLocation` (a server or cluster), and ``":memory:"``:
  qdrant-client;
* a ``QdrantClient`` or ``AsyncQdrantClient`` a user made (never closed here), or a storage
  :class:`~t5_vectors.storage.base.Backend` (never closed here);
* an open :class:`Storage`: returned as it is.

A :class:`Storage` holds the sync backend and makes the async one on first use: an
``AsyncQdrantClient`` from the same options for a server, a worker thread over an in-process
engine (:mod:`~t5_vectors.storage.threaded`), never the event loop. Given only an embedded
``AsyncQdrantClient``, sync calls are impossible and say so.

A folder another process holds raises :class:`~t5_vectors.errors.StorageLockedError` here, for
either engine. What a storage opened is closed by :meth:`Storage.close` and, failing that, at
interpreter exit (a script that forgets ``close()`` prints no traceback at exit).

API keys never show: :attr:`Storage.options` masks them in its ``repr``, and no message of
t5-vectors includes them. An API key sent over plain ``http`` to a host other than this machine
raises an :class:`~t5_vectors.errors.InsecureConnectionWarning` once per storage.
"""

from __future__ import annotations

import atexit
import contextlib
import inspect
import ipaddress
import os
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union
from urllib.parse import urlsplit

from t5_vectors.errors import InsecureConnectionWarning, InvalidInputError
from t5_vectors.storage.base import AsyncBackend, Backend, Capabilities
from t5_vectors.storage.threaded import threaded

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient, QdrantClient


DEFAULT_PATH = "./t5_vectors_data"
"""Where embedded storage lives when no location is given."""

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


@dataclass(frozen=True)
class ServerLocation:
    """A Qdrant server or cluster as a value: what another process needs to open it (picklable).

    :meth:`Storage.server_location` gives the location of an open server storage; Ray workers
    open it with :func:`open_storage`.

    Attributes:
        url: the server, ``http(s)://host:port``.
        options: the ``QdrantClient`` keyword arguments that reach it (``api_key``,
            ``timeout``, ``prefer_grpc``, ...; never shown by ``repr``). Without ``url``,
            ``location`` or ``host`` among them, :attr:`url` is the location.
    """

    url: str
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def client_options(self) -> dict[str, Any]:
        """The ``QdrantClient`` keyword arguments of this location."""
        options = {key: value for key, value in self.options.items() if value is not None}
        if not {"url", "location", "host"} & options.keys():
            options["location"] = self.url
        return options


class Storage:
    """Open storage: the backends behind a ``QdrantIndex`` (made by :func:`open_storage` only).

    Attributes:
        kind: ``"edge"``, ``"local-mode"``, ``"memory"`` or ``"server"`` (for messages).
        location: the folder or URL (never a secret).
        options: the client options, API keys masked in their ``repr``.
    """

    def __init__(
        self,
        *,
        kind: str,
        location: str,
        options: Mapping[str, Any],
        backend: Backend | None = None,
        abackend: AsyncBackend | None = None,
        make_backend: Callable[[], Backend] | None = None,
        make_abackend: Callable[[], AsyncBackend] | None = None,
        owned: tuple[Backend | AsyncBackend, ...] = (),
    ) -> None:
        self.kind = kind
        self.location = location
        self.options = RedactedOptions(options)
        self._backend = backend
        self._abackend = abackend
        self._make_backend = make_backend
        self._make_abackend = make_abackend
        # an async backend given, or made by make_abackend, is a native client, not a thread
        self._native_async = abackend is not None or make_abackend is not None
        self._lock = threading.Lock()
        self._owned: list[Backend | AsyncBackend] = list(owned)
        self._finalizer = weakref.finalize(self, _close_all, self._owned)
        _open_storages.add(self)

    def __repr__(self) -> str:
        return f"Storage(kind={self.kind!r}, location={self.location!r})"

    @property
    def local(self) -> bool:
        """Whether the storage is in this process (a folder or ``:memory:``)."""
        return self.kind != "server"

    @property
    def has_sync(self) -> bool:
        """Whether a sync backend is open (not when only an ``AsyncQdrantClient`` was given: a
        server's sync twin is made on first use; an embedded one cannot be)."""
        return self._backend is not None

    @property
    def native_async(self) -> bool:
        """Whether async calls go through an ``AsyncQdrantClient`` (no worker thread)."""
        return self._native_async

    @property
    def capabilities(self) -> Capabilities:
        """What the storage can do (the sync backend's, with native async where it is)."""
        known = self._backend if self._backend is not None else self._abackend
        if known is None:
            known = self.backend
        return replace(known.capabilities, native_async=self.native_async)

    @property
    def backend(self) -> Backend:
        """The sync backend (for a server given only an async client: made on first use)."""
        if self._backend is None:
            if self._make_backend is None:
                raise InvalidInputError(
                    "expected a QdrantClient for synchronous calls, found only an embedded "
                    "AsyncQdrantClient (embedded storage cannot be shared between clients). "
                    "Use the async methods (aingest, asearch, ...), or pass "
                    "storage=QdrantClient(...) instead."
                )
            with self._lock:
                if self._backend is None:
                    self._backend = self._own(self._make_backend())
        return self._backend

    @property
    def abackend(self) -> AsyncBackend:
        """The async backend: native for servers, a worker thread over an in-process engine."""
        if self._abackend is None:
            with self._lock:
                if self._abackend is None:
                    if self._make_abackend is not None:
                        self._abackend = self._own(self._make_abackend())
                    else:  # in process: the sync backend on a worker thread
                        self._abackend = threaded(self.backend)
        return self._abackend

    def _own(self, backend: Any) -> Any:
        self._owned.append(backend)
        return backend

    def server_location(self) -> ServerLocation:
        """This server's location, for another process to open (Ray workers).

        Raises:
            InvalidInputError: the storage is embedded (a folder or ``:memory:``), which serves
                one process.
        """
        if self.local:
            raise InvalidInputError(
                f"storage: expected a Qdrant server or cluster that other processes can write "
                f"to, found {self.kind} storage ({self.location}), which serves one process. "
                "Write to it from this process, or connect to a server (an http(s):// URL)."
            )
        return ServerLocation(self.location, dict(self.options))

    # ------------------------------------------------------- qdrant-client escape hatches
    @property
    def client(self) -> QdrantClient:
        """The sync ``QdrantClient`` (qdrant-client storages only; nothing inside uses it)."""
        client = getattr(self.backend, "client", None)
        if client is None or not _is_client(client):
            raise InvalidInputError(
                f"expected a qdrant-client storage for .client, found {self.kind} storage at "
                f"{self.location!r}. Use the QdrantIndex methods, or open a Qdrant server "
                "(an http(s):// URL) to use qdrant-client directly."
            )
        return client  # type: ignore[no-any-return]

    @property
    def async_client(self) -> AsyncQdrantClient | None:
        """The ``AsyncQdrantClient``; ``None`` when async calls run in a worker thread."""
        client = getattr(self.abackend, "client", None)
        return client if _is_client(client, "AsyncQdrantClient") else None

    # ------------------------------------------------------------------------------ closing
    def close(self) -> None:
        """Close the sync backends this storage opened (async ones need :meth:`aclose`)."""
        for owned in list(self._owned):
            if not _is_async(owned):
                owned.close()
                self._owned.remove(owned)

    async def aclose(self) -> None:
        """Close every backend this storage opened."""
        for owned in list(self._owned):
            if _is_async(owned):
                await owned.close()  # type: ignore[misc]
            else:
                owned.close()
            self._owned.remove(owned)


def _is_async(backend: Backend | AsyncBackend) -> bool:
    """Whether *backend*'s calls are coroutines (both protocols have the same names)."""
    return inspect.iscoroutinefunction(backend.close)


def _close_all(owned: list[Backend | AsyncBackend]) -> None:
    for backend in list(owned):
        if not _is_async(backend):  # an async client closes with its event loop
            with contextlib.suppress(Exception):  # closing at exit must not raise
                backend.close()
        owned.remove(backend)


_open_storages: weakref.WeakSet[Storage] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    """Close what scripts forgot to close, before the interpreter tears modules down."""
    for storage in list(_open_storages):
        storage._finalizer()


StorageLike = Union[
    str, os.PathLike[str], ServerLocation, "QdrantClient", "AsyncQdrantClient", Backend, Storage
]
"""What :func:`open_storage` opens (``None``: :data:`DEFAULT_PATH`)."""

_URL = ("http://", "https://")


def open_storage(
    where: StorageLike | None = None,
    *,
    api_key: str | None = None,
    client_options: Mapping[str, Any] | None = None,
    async_client: AsyncQdrantClient | None = None,
    edge_options: Mapping[str, Any] | None = None,
    name: str = "storage",
) -> Storage:
    """Open any location as a :class:`Storage`.

    Args:
        where: a folder (embedded storage), an ``http(s)://`` URL or a
            :class:`ServerLocation` (a server or cluster), ``":memory:"``, a ``QdrantClient``
            or ``AsyncQdrantClient`` (not closed by :meth:`Storage.close`), a storage
            :class:`~t5_vectors.storage.base.Backend` (not closed), or an open
            :class:`Storage` (returned as it is). ``None`` is :data:`DEFAULT_PATH`.
        api_key: the server's API key (URLs only).
        client_options: other ``QdrantClient`` keyword arguments (``timeout``,
            ``prefer_grpc``, ...; URLs only).
        async_client: an ``AsyncQdrantClient`` for the same server, beside a ``QdrantClient``.
        edge_options: keyword arguments of the Qdrant Edge backend of a folder
            (:class:`~t5_vectors.storage.edge.backend.EdgeBackend`: ``index_after``,
            ``quantization``, ...), applied when this process first opens the folder.
        name: how the caller's interface names *where*, for messages.

    Raises:
        InvalidInputError: options that do not fit the location (an API key for a folder).
        StorageLockedError: the folder is open in another process.
    """
    given = {
        key
        for key, value in (
            ("api_key", api_key),
            ("client_options", client_options),
            ("async_client", async_client),
            ("edge_options", edge_options),
        )
        if value
    }
    if isinstance(where, Storage):
        if given:
            raise InvalidInputError(
                f"{name}: expected no {' / '.join(sorted(given))} with an open Storage, found "
                "some. Configure the storage when you open it."
            )
        return where
    if isinstance(where, Backend):
        _refuse(given, name, "a storage Backend")
        return Storage(kind=where.kind, location=where.location, options={}, backend=where)
    if _is_client(where) or _is_client(where, "AsyncQdrantClient"):
        _refuse(given - {"async_client"}, name, "a qdrant-client client")
        return _of_clients(where, async_client)
    if async_client is not None:
        raise InvalidInputError(
            f"async_client: expected together with a QdrantClient, found it with {name}="
            f"{where!r}. Pass the AsyncQdrantClient alone as {name}, or with its QdrantClient."
        )
    if isinstance(where, ServerLocation):
        _refuse(given, name, "a ServerLocation")
        return _of_options(where.client_options())
    if where is not None and not isinstance(where, (str, os.PathLike)):
        raise InvalidInputError(
            f"{name}: expected a folder path, a server URL, ':memory:', a "
            f"qdrant_client.QdrantClient or AsyncQdrantClient, or a storage Backend, found "
            f"{type(where).__name__}."
        )
    if isinstance(where, str) and (where == ":memory:" or where.startswith(_URL)):
        _refuse(given & {"edge_options"}, name, f"{where!r}")
        return _of_options({**dict(client_options or {}), "location": where, "api_key": api_key})
    path = Path(where if where is not None else DEFAULT_PATH).expanduser()
    if api_key is not None or client_options:
        raise InvalidInputError(
            f"api_key / client_options: expected a server URL with them, found the folder "
            f"{str(path)!r}. Pass an http(s):// URL, or drop them."
        )
    if is_local_mode_folder(path):
        _refuse(given, name, "a folder written by qdrant-client's local mode")
        from t5_vectors.storage.client.local import repair_interrupted_first_open

        repair_interrupted_first_open(path)
        return _of_options({"path": os.fspath(path)})
    from t5_vectors.storage.edge.shared import lease

    backend = lease(path, edge_options or {})
    return Storage(
        kind=backend.kind,
        location=backend.location,
        options={"path": backend.location},
        backend=backend,
        owned=(backend,),
    )


def _refuse(given: set[str], name: str, what: str) -> None:
    if given:
        raise InvalidInputError(
            f"{' / '.join(sorted(given))}: expected none with {what} as {name}, found some. "
            "Configure what you pass instead."
        )


def _of_options(options: Mapping[str, Any]) -> Storage:
    """A storage over a qdrant-client this function makes (and closes) from *options*."""
    from t5_vectors.storage.client.backend import AsyncClientBackend, ClientBackend, client_kind
    from t5_vectors.storage.client.errors import translate

    options = {key: value for key, value in options.items() if value is not None}
    qdrant = _client_module()
    try:
        client: QdrantClient = qdrant.QdrantClient(**options)
    except RuntimeError as error:
        raise translate(error, str(options.get("path"))) from error
    backend = ClientBackend(client, owned=True)
    kind = client_kind(client.init_options)
    make_abackend = None
    if kind == "server":
        warn_if_insecure(client.init_options)
        twin = {**client.init_options, "check_compatibility": False}  # checked once already

        def make_abackend() -> AsyncBackend:
            return AsyncClientBackend(qdrant.AsyncQdrantClient(**twin), owned=True)

    return Storage(
        kind=kind,
        location=backend.location,
        options=client.init_options,
        backend=backend,
        make_abackend=make_abackend,
        owned=(backend,),
    )


def _of_clients(client: Any, async_client: AsyncQdrantClient | None) -> Storage:
    """A storage over a user's client(s), which stay the user's to close."""
    from t5_vectors.storage.client.backend import AsyncClientBackend, ClientBackend, client_kind

    qdrant = _client_module()
    if _is_client(client, "AsyncQdrantClient"):
        client, async_client = None, client
    if async_client is not None and not _is_client(async_client, "AsyncQdrantClient"):
        raise InvalidInputError(
            "async_client: expected a qdrant_client.AsyncQdrantClient, found "
            f"{type(async_client).__name__}."
        )
    reference: Any = client if client is not None else async_client
    options = reference.init_options
    kind = client_kind(options)
    twin = {**options, "check_compatibility": False}
    backend = ClientBackend(client) if client is not None else None
    abackend = AsyncClientBackend(async_client) if async_client is not None else None
    make_backend = make_abackend = None
    if backend is None and kind == "server":

        def make_backend() -> Backend:
            return ClientBackend(qdrant.QdrantClient(**twin), owned=True)

    if abackend is None and kind == "server":

        def make_abackend() -> AsyncBackend:
            return AsyncClientBackend(qdrant.AsyncQdrantClient(**twin), owned=True)

    if kind == "server":
        warn_if_insecure(options)
    location = (backend or abackend).location  # type: ignore[union-attr]
    return Storage(
        kind=kind,
        location=location,
        options=options,
        backend=backend,
        abackend=abackend,
        make_backend=make_backend,
        make_abackend=make_abackend,
    )


def _client_module() -> Any:
    """qdrant-client, imported when a location needs it (Qdrant Edge never does)."""
    import qdrant_client

    return qdrant_client


def _is_client(value: object, name: str = "QdrantClient") -> bool:
    """Whether *value* is qdrant-client's *name* (no import: one must exist to be given)."""
    module = sys.modules.get("qdrant_client")
    return module is not None and isinstance(value, getattr(module, name))


def is_local_mode_folder(path: str | os.PathLike[str]) -> bool:
    """Whether *path* holds a store written by qdrant-client's local mode (``meta.json``)."""
    folder = Path(path)
    return (folder / "meta.json").is_file() or (folder / "collection").is_dir()


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
