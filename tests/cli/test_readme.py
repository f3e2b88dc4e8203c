"""The README's commands are real: they parse, the quickstart works on examples/docs, the offline
path builds the demo model and its collection, and every Python block of the README and of
docs/python.md (which goes on from it) runs as a script where those commands ran."""

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
README = ROOT / "README.md"
DOCS_WITH_COMMANDS = (README, ROOT / "docs" / "cli.md", ROOT / "docs" / "storage.md")
PYTHON_DOCS = (README, ROOT / "docs" / "python.md")


def _commands(path: Path = README) -> list[list[str]]:
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", path.read_text(), flags=re.DOTALL):
        for line in block.splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if words and words[0].endswith("t5-vectors"):
                    commands.append(words[1:])
    return commands


def test_readme_commands_parse():
    assert {words[0] for words in _commands()} >= {"ingest", "search", "info"}
    for path in DOCS_WITH_COMMANDS:
        commands = _commands(path)
        assert commands, path
        for words in commands:
            _parser().parse_args(words)  # argparse exits (SystemExit) on an unknown option


def test_the_quickstart_on_the_sample_docs(cli):
    ingest, search = (w for w in _commands()[:2])
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


def _collection(words: list[str]) -> str | None:
    return words[words.index("--collection") + 1] if "--collection" in words else None


def _demo_commands() -> list[list[str]]:
    """The README's offline path with the demo model: the commands on its collection."""
    commands = _commands()
    ingest = next(words for words in commands if "--demo-model" in words)
    return [words for words in commands if _collection(words) == _collection(ingest)]


def _demo_folder() -> str:
    ingest = _demo_commands()[0]
    return ingest[ingest.index("--demo-model") + 1]


def _python_blocks() -> list[tuple[str, str]]:
    return [
        (f"{path.name}[{number}]", block)
        for path in PYTHON_DOCS
        for number, block in enumerate(
            re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)
        )
    ]


BLOCKS = _python_blocks()


def _run(argv: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def readme_folder(tmp_path_factory, st5_path) -> Path:
    """A folder laid out as a fresh clone after the README's commands: examples/docs, the
    quickstart's ingest (the tiny test model in place of the hub id), and the offline path's
    commands on the demo model, as written."""
    folder = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples" / "docs", folder / "examples" / "docs")
    cli = [sys.executable, "-m", "t5_vectors"]
    argv = [*cli, "ingest", "examples/docs", "--collection", "docs", "--model", str(st5_path)]
    done = _run([*argv, "--quiet"], folder)
    assert done.returncode == 0, done.stderr
    for words in _demo_commands():
        done = _run([*cli, *words], folder)
        assert done.returncode == 0, (words, done.stderr)
    return folder


def test_the_offline_path_and_the_python_quickstart_share_a_collection():
    demo = _demo_commands()
    assert [words[0] for words in demo] == ["ingest", "search", "info"]
    quickstart = _python_blocks()[0][1]
    assert f'collection_name="{_collection(demo[0])}"' in quickstart
    assert f'from_pretrained("{_demo_folder()}")' in quickstart


def test_the_docs_have_python_blocks():
    assert len(BLOCKS) >= 6
    # Each block runs on a model the tests have: the hub id (replaced by the tiny test model)
    # or the demo model the README's offline path built.
    assert all(HUB_MODEL in block or _demo_folder() in block for _, block in BLOCKS)


@pytest.mark.parametrize("block", [block for _, block in BLOCKS], ids=[name for name, _ in BLOCKS])
def test_python_block_runs_as_a_script(block, readme_folder, st5_path):
    if 'url=os.environ.get("QDRANT_URL"' in block and not os.environ.get("QDRANT_URL"):
        pytest.skip("needs a Qdrant server: set QDRANT_URL (make integration)")
    script = readme_folder / "block.py"
    script.write_text(block.replace(HUB_MODEL, str(st5_path)))
    done = _run([sys.executable, str(script)], readme_folder)
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
