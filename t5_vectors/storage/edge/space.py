"""Free space, checked before Qdrant Edge writes: a full disk is an error, not a signal.

Qdrant Edge writes through memory-mapped files (its write-ahead log, vector chunks, payload
pages). When the disk under them fills, the kernel cannot back a page the engine touches and
kills the process with ``SIGBUS``: no exception, no message, a "Bus error" ending a long ingest.
So the backend asks the filesystem before each write (``statvfs``, microseconds) and raises
:class:`~t5_vectors.errors.StorageFullError` naming the folder, the bytes free and the bytes the
write needs while nothing of it has reached the engine; every write acknowledged before stays,
and the process lives on.

What a write needs, measured on Qdrant Edge 0.9 (768-d vectors, 560-byte payloads, a tmpfs):

* points: the WAL and the appendable segment take 2.1-2.4x the raw bytes of a batch (vectors at
  4 bytes a value, or 2 for float16 token vectors, sparse at 8 bytes a stored piece, payload
  JSON), so :func:`write_bytes` counts :data:`WRITE_FACTOR` times the raw bytes;
* an index build (``optimize``) writes the new indexed segment (vectors, quantized copy, HNSW
  links) before the old one goes: the shard's peak was 1.55x its size before the build (5,000
  and 20,000 points), so :func:`build_bytes` counts :data:`BUILD_FACTOR` times the shard's
  bytes on disk;
* the write-ahead log grows by whole segments of :data:`WAL_SEGMENT` (32 MiB), allocated at
  once where the filesystem can (tmpfs, for one): a write that fills the current segment, and
  opening a shard, may allocate the next one;
* a new collection: its segment files, about 3.2 MB at creation;
* so every check keeps :data:`RESERVE` spare on top of what the write needs: a WAL segment and
  a margin for the engine's own files and what other processes write meanwhile. A store's disk
  needs at least that much free to be opened for writing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from t5_vectors.errors import StorageFullError
from t5_vectors.storage.base import Point, SparseVector

MIB = 1 << 20
WAL_SEGMENT = 32 * MIB
"""The size of one segment of Qdrant Edge's write-ahead log (fixed by the engine)."""
RESERVE = WAL_SEGMENT + 8 * MIB
"""Bytes kept free beyond what a write needs: the next WAL segment and a margin."""
WRITE_FACTOR = 3.0
"""Disk bytes per raw byte of written points (measured 2.1-2.4)."""
BUILD_FACTOR = 0.75
"""Disk bytes an index build adds, per byte of the shard before it (measured 0.55)."""
PAYLOAD_BYTES = 1024
"""Bytes counted for a payload's metadata and bookkeeping keys (besides its text)."""
CREATE_BYTES = 8 * MIB
"""Disk bytes a new collection takes before any point (measured 3.2 MB)."""


def write_bytes(points: Sequence[Point]) -> int:
    """Disk bytes writing *points* may take (:data:`WRITE_FACTOR` times their raw bytes).

    A payload counts as 4 bytes a character of its ``page_content`` (UTF-8 at its widest) and
    :data:`PAYLOAD_BYTES` for the rest: serializing every payload to measure it would cost an
    ingest more than the check is worth.
    """
    raw = 0
    for point in points:
        for value in point.vectors.values():
            if isinstance(value, SparseVector):
                raw += 8 * len(value.indices)
            else:
                raw += int(np.asarray(value).nbytes)
        text = point.payload.get("page_content")
        raw += 4 * len(text) if isinstance(text, str) else 0
        raw += PAYLOAD_BYTES
    return int(raw * WRITE_FACTOR)


def folder_bytes(folder: Path) -> int:
    """Bytes the files under *folder* occupy on disk (allocated blocks, not sizes)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:  # a file the engine removed meanwhile
                continue
    return total


def build_bytes(shard: Path) -> int:
    """Disk bytes an index build of the shard in *shard* may add."""
    return int(folder_bytes(shard) * BUILD_FACTOR)


def require(folder: Path, needed: int, what: str) -> None:
    """Raise :class:`StorageFullError` unless *folder*'s disk has *needed* bytes and
    :data:`RESERVE` to spare.

    Args:
        folder: the store's folder (its disk is asked).
        needed: the bytes the write needs.
        what: the write, for the message (``"writing 256 points to 'docs'"``).
    """
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    wanted = needed + RESERVE
    if free >= wanted:
        return
    raise StorageFullError(
        f"embedded store {folder}: expected {_size(wanted)} free for {what} (with "
        f"{_size(RESERVE)} to spare), found {_size(free)} free on its disk. Nothing of this "
        "write reached the engine and every write before it is kept. Free space on that disk "
        "(or move the store elsewhere: t5-vectors copy), then run the same ingest again: it "
        "resumes where it stopped.",
        path=str(folder),
        free=free,
        needed=wanted,
    )


def _size(count: int) -> str:
    return f"{count / MIB:,.1f} MiB"
