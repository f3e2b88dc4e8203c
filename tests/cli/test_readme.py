"""The README's commands are real: they parse, and the quickstart works on examples/docs."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from t5_vectors.cli import _parser

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL):
        for line in block.splitlines():
            for part in line.split("&&"):
                words = shlex.split(part)
                if words and words[0].endswith("t5-vectors"):
                    commands.append(words[1:])
    return commands


def test_readme_commands_parse():
    commands = _readme_commands()
    assert {words[0] for words in commands} >= {"ingest", "search", "embed"}
    for words in commands:
        _parser().parse_args(words)  # argparse exits (SystemExit) on an unknown option


def test_the_quickstart_on_the_sample_docs(cli):
    ingest, search = (w for w in _readme_commands()[:2])
    assert ingest[:2] == ["ingest", "examples/docs"]
    run = cli(*[str(ROOT / w) if w == "examples/docs" else w for w in ingest], "--json")
    assert run.status == 0, run.err
    summary = run.json()
    assert summary["files"] == len(list((ROOT / "examples" / "docs").iterdir()))
    assert summary["binary_skipped"] == []
    assert summary["lossy"] == []
    found = cli(*search, "--json", model=None)
    assert found.status == 0, found.err
    assert len(found.json()["results"]) == 4


HUB_MODEL = "sentence-transformers/sentence-t5-base"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)


@pytest.fixture(scope="module")
def readme_folder(tmp_path_factory, st5_path) -> Path:
    """A folder laid out as a fresh clone after the quickstart: examples/docs and the ingest."""
    folder = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples" / "docs", folder / "examples" / "docs")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    argv = [sys.executable, "-m", "t5_vectors", "ingest", "examples/docs", "--collection", "docs"]
    done = subprocess.run(
        [*argv, "--model", str(st5_path), "--quiet"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return folder


def test_the_readme_has_python_blocks():
    blocks = _python_blocks()
    assert len(blocks) >= 5
    assert all(HUB_MODEL in block for block in blocks)


@pytest.mark.parametrize("number", range(5))
def test_readme_python_block_runs_as_a_script(number, readme_folder, st5_path):
    block = _python_blocks()[number]
    if 'url=os.environ.get("QDRANT_URL"' in block and not os.environ.get("QDRANT_URL"):
        pytest.skip("needs a Qdrant server: set QDRANT_URL (make integration)")
    script = readme_folder / f"block_{number}.py"
    script.write_text(block.replace(HUB_MODEL, str(st5_path)))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=readme_folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    stderr = _without_known_exit_noise(done.stderr)
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr


# qdrant-client's local mode closes its store from __del__ while the interpreter shuts down and
# prints this; t5-vectors must close its stores at exit instead (t5_vectors/qdrant, not the CLI's
# files). It shows only now and then (it depends on the order objects are freed at exit), so it
# is filtered here and reported.
_EXIT_NOISE = re.compile(
    r"Exception ignored in: <function QdrantClient\.__del__.*?"
    r"ImportError: sys\.meta_path is None, Python is likely shutting down\n",
    flags=re.DOTALL,
)


def _without_known_exit_noise(stderr: str) -> str:
    return _EXIT_NOISE.sub("", stderr)
