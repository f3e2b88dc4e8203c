"""``t5_vectors.serve`` is cheap to import, and its public names resolve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import t5_vectors.serve

ROOT = Path(__file__).resolve().parents[2]


def test_public_names_are_sorted_and_resolve():
    assert t5_vectors.serve.__all__ == sorted(t5_vectors.serve.__all__)
    for name in t5_vectors.serve.__all__:
        assert getattr(t5_vectors.serve, name) is not None, name


def test_importing_the_package_and_the_cli_loads_no_server_framework():
    code = (
        "import json, sys\n"
        "import t5_vectors.serve, t5_vectors.serve.config\n"
        "from t5_vectors.cli import _parser\n"
        "_parser().parse_args(['serve', '--collection', 'c'])\n"
        "print(json.dumps([m for m in ('fastapi', 'uvicorn', 'mcp', 'torch') "
        "if m in sys.modules]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
