"""Checkpoints for test classes whose parameters are class properties (langchain-tests suites).

Built once per test process in a temporary folder removed at exit.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from t5_vectors.testing import build_sentence_transformers_checkpoint


@functools.cache
def shared_st5_checkpoint() -> Path:
    root = Path(tempfile.mkdtemp(prefix="t5v-shared-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return build_sentence_transformers_checkpoint(root / "st5", seed=11)
