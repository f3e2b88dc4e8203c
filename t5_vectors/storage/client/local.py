"""Crash safety of embedded (on-disk) Qdrant: what a SIGKILL can leave behind, and the repair.

qdrant-client's local mode keeps a folder with ``meta.json`` (collections and their settings) and
one SQLite file per collection holding one pickled row per point. Killing the process at any
point (measured by ``tests/reliability/test_crash_resume.py``) leaves:

* **points**: each point is written in its own SQLite transaction, so a kill in the middle of a
  batch leaves the batch's first points stored, complete and exact, and none of the rest (a
  point whose transaction did not commit is rolled back when the file is next opened). Each
  stored point carries its content hash, so running the same ingestion again skips exactly
  those points and writes the rest: nothing is lost or duplicated.
* **the lock**: ``.lock`` stays on disk, but the lock on it is released by the kernel with the
  process; the folder opens again at once.
* **meta.json on collection changes**: written to a temporary file and renamed over the old
  one, so it is always complete (old or new).
* **meta.json on first open**: written in place, once, when a folder is first opened. A kill in
  that instant leaves an empty ``meta.json`` and qdrant-client then refuses to open the folder
  (``JSONDecodeError``). No collection can exist yet, so :func:`repair_interrupted_first_open`
  writes the empty ``meta.json`` qdrant-client meant to write, before opening the folder.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

logger = logging.getLogger("t5_vectors")

_META = "meta.json"
_EMPTY_META: dict[str, dict[str, str]] = {"collections": {}, "aliases": {}}


def repair_interrupted_first_open(path: str | os.PathLike[str]) -> bool:
    """Rewrite an empty ``meta.json`` left by a kill during a folder's first open.

    Only an empty ``meta.json`` next to no collection data is repaired (nothing can be lost);
    anything else is left for qdrant-client to open or refuse.

    Returns:
        whether the folder was repaired.
    """
    folder = Path(path)
    meta = folder / _META
    try:
        if not meta.is_file() or meta.stat().st_size > 0:
            return False
        collections = folder / "collection"
        if collections.is_dir() and any(collections.iterdir()):
            return False
        temporary = folder / f"{_META}.tmp"
        temporary.write_text(json.dumps(_EMPTY_META))
        os.replace(temporary, meta)
    except OSError:
        return False
    logger.warning(
        "Embedded Qdrant folder %s had an empty meta.json (a process was killed while first "
        "opening it); rewrote it as an empty store. No collection had been created.",
        folder,
    )
    return True
