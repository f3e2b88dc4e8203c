"""The ``t5-vectors`` command line run as a separate process, as a user runs it.

Offline (``HF_HUB_OFFLINE=1``), with this checkout first on ``PYTHONPATH``. :data:`BOUND` only
bounds a command that would otherwise hang; no test waits on it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOUND = 300  # seconds


def cli_argv(*words: str) -> list[str]:
    """The process arguments of ``t5-vectors WORDS...``."""
    return [sys.executable, "-m", "t5_vectors", *words]


def cli_env(**extra: str) -> dict[str, str]:
    """This process's environment, offline, with this checkout importable, plus *extra*."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", **extra}


def run_cli(
    *words: str, cwd: str | os.PathLike[str] | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``t5-vectors WORDS...`` to its end (output captured as text, never checked)."""
    return run_python(cli_argv(*words), cwd=cwd, **env)


def run_python(
    argv: list[str], *, cwd: str | os.PathLike[str] | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run *argv* in :func:`cli_env` to its end (output captured as text, never checked)."""
    return subprocess.run(
        argv,
        cwd=cwd,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )
