"""A checkpoint's identity by content, so the same checkpoint in another folder is the same model.

:func:`checkpoint_digest` hashes what decides the vectors a folder gives: every file of the
checkpoint (configuration, tokenizer, weights, the sentence-transformers modules and heads) by
its path inside the folder and its bytes. Small files are hashed whole; a large file (a weights
file) by its size and 64 KiB read at 16 offsets spread over it, so digesting a 900 MB checkpoint
reads about 1 MB per weights file. Training moves every weight, so two checkpoints that differ
in any trained tensor differ in the sampled bytes; a copy (``cp -r``, the hub snapshot and a
downloaded folder of it) has the same digest wherever it lies. ``T5Encoder.save_pretrained``
writes other files (its own layout), so a re-saved model has another digest: a collection
recognises it by its probe vectors instead (:mod:`t5_vectors.plan.model_record`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_WHOLE = 1 << 20
"""Files up to this size are hashed whole."""
_SAMPLES = 16
_SAMPLE = 64 * 1024
_SKIPPED = {"README.md", ".gitattributes"}


def checkpoint_digest(root: Path) -> str:
    """The hex SHA-256 identity of the checkpoint folder *root* (see the module docstring).

    Hidden files and folders (``.cache``, ``.git``), ``README.md`` and ``.gitattributes`` are
    left out: they do not change the vectors.
    """
    digest = hashlib.sha256()
    files = sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and path.name not in _SKIPPED
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(_file_digest(path))
    return digest.hexdigest()


def _file_digest(path: Path) -> bytes:
    size = path.stat().st_size
    file_hash = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        if size <= _WHOLE:
            file_hash.update(handle.read())
        else:
            step = (size - _SAMPLE) // (_SAMPLES - 1)
            for n in range(_SAMPLES):
                handle.seek(n * step)
                file_hash.update(handle.read(_SAMPLE))
    return file_hash.digest()
