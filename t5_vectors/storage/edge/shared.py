"""One Qdrant Edge backend per folder in a process, leased to every storage that opens it.

A folder is held against other processes (:class:`~t5_vectors.storage.edge.locks.FolderLock`)
for as long as a backend has it open. Inside one process, the indexes, vector stores and CLI
commands that open the same folder by path (two collections of one folder, a ``QdrantIndex``
and a ``T5QdrantVectorStore.from_texts`` on it, a test opening what a command wrote) share one
:class:`~t5_vectors.storage.edge.backend.EdgeBackend`: :func:`lease` hands each of them an
:class:`EdgeLease`, and the backend closes (pending index builds, flush, unlock) when the last
lease is closed. An ``EdgeBackend`` made directly is not shared: a second one on the same folder
is a :class:`~t5_vectors.errors.StorageLockedError`, as in another process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from t5_vectors.errors import InvalidInputError
from t5_vectors.storage.base import CALLS, Backend
from t5_vectors.storage.edge.backend import EdgeBackend, closed_error


class _Folder:
    """A folder's shared backend and how many leases hold it (under its own lock)."""

    def __init__(self) -> None:
        # Re-entrant: a storage collected while this thread opens the folder closes its lease
        # (a weakref finalizer) from inside the open.
        self.lock = threading.RLock()
        self.backend: EdgeBackend | None = None
        self.options: dict[str, Any] = {}
        self.leases = 0


_registry_lock = threading.Lock()
_folders: dict[Path, _Folder] = {}


class EdgeLease(Backend):
    """A share of the folder's :class:`EdgeBackend`; :meth:`close` gives the share back.

    Every call of the storage protocol goes to the shared backend (:attr:`backend`) while the
    lease is open; a closed lease refuses calls as a closed backend does.
    """

    kind = "edge"

    def __init__(self, backend: EdgeBackend, folder: _Folder) -> None:
        self.backend = backend
        self.location = backend.location
        self.capabilities = backend.capabilities
        self._folder = folder
        self._closed = False

    def __repr__(self) -> str:
        return f"EdgeLease({self.location!r})"

    def close(self) -> None:
        """Give the share back; the last one closes the backend (builds, flush, unlock)."""
        folder = self._folder
        with folder.lock:
            if self._closed:
                return
            self._closed = True
            folder.leases -= 1
            if folder.leases:
                return
            backend, folder.backend = folder.backend, None
            if backend is not None:
                backend.close()  # under the folder's lock: a new opener waits for the unlock

    def _shared(self) -> EdgeBackend:
        if self._closed:
            raise closed_error(self.location)
        return self.backend


def _forward(name: str) -> Callable[..., Any]:
    def call(self: EdgeLease, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._shared(), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


for _name in CALLS:
    if _name != "close":
        setattr(EdgeLease, _name, _forward(_name))


def lease(path: Path, options: Mapping[str, Any] | None = None) -> EdgeLease:
    """A lease on the Edge backend of *path*, opening it if no storage in this process has.

    Args:
        path: the folder.
        options: :class:`EdgeBackend` keyword arguments, for the process's first opening of
            the folder; a later lease must ask the same (or none).

    Raises:
        StorageLockedError: another process holds the folder.
        InvalidInputError: *path* is a file, or other options than the open backend's.
    """
    key = path.resolve()  # one entry whatever the spelling of the path (./x, x/, a link)
    wanted = dict(options or {})
    with _registry_lock:
        folder = _folders.setdefault(key, _Folder())
    with folder.lock:
        if folder.backend is None:
            folder.backend = EdgeBackend(path, **wanted)
            folder.options = wanted
        elif wanted and wanted != folder.options:
            raise InvalidInputError(
                f"edge_options: expected the options the open store at {str(path)!r} has "
                f"({folder.options or 'the defaults'}), found {wanted}. Close every storage "
                "of the folder first, or open it with the same options."
            )
        folder.leases += 1
        return EdgeLease(folder.backend, folder)  # type: ignore[abstract]  # methods set above


def open_leases(path: Path) -> int:
    """How many open leases share the backend of *path* in this process (0: not open)."""
    folder = _folders.get(path.resolve())
    return 0 if folder is None else folder.leases
