"""Locks for the Edge backend: one process per data folder, and readers/writer in process.

* :class:`FolderLock` holds an exclusive ``flock`` on ``<folder>/edge/.lock`` for as long as a
  backend is open, so that a second process (or a second backend in this process) gets a
  :class:`~t5_vectors.errors.StorageLockedError` naming the folder and the fix, instead of
  Qdrant Edge's raw ``WouldBlock`` message about its write-ahead log. The kernel releases the
  lock when the holder dies, even by SIGKILL.
* :class:`ReadWriteLock` lets searches run in parallel while a write (a batch upsert, a delete,
  an index build) runs alone, so concurrent threads see each batch whole: results equal some
  serial order of the calls.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from t5_vectors.errors import StorageLockedError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: Qdrant Edge's own WAL lock still applies
    fcntl = None  # type: ignore[assignment]


def locked_message(folder: Path | str) -> str:
    """The message of a :class:`StorageLockedError` for ``folder``."""
    return (
        f"the embedded store {folder} is open in another process (or another t5-vectors "
        "backend in this one): expected it to be free, found it locked; fix: wait for the other "
        "process to finish, or run a Qdrant server and connect every process to it "
        "(--qdrant-url on the command line, url= in Python)"
    )


class FolderLock:
    """An exclusive, non-blocking lock on a data folder, held until :meth:`release`."""

    def __init__(self, folder: Path, lock_file: Path) -> None:
        self._folder = folder
        self._lock_file = lock_file
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock (creating the lock file), or raise at once.

        Raises:
            StorageLockedError: another process or backend holds it.
        """
        if self._fd is not None:
            return
        fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as err:
                os.close(fd)
                raise StorageLockedError(
                    locked_message(self._folder), path=str(self._folder)
                ) from err
        self._fd = fd

    def release(self) -> None:
        """Let the lock go (the file stays; a lock file without a holder is free)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class ReadWriteLock:
    """Many readers or one writer; a waiting writer holds new readers back (no starvation)."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        """Hold the lock shared."""
        with self._condition:
            while self._writer or self._writers_waiting:
                self._condition.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                if not self._readers:
                    self._condition.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the lock exclusively."""
        with self._condition:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._condition.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._condition:
                self._writer = False
                self._condition.notify_all()
