"""The README's commands are real: they parse, and the quickstart works on examples/docs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

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
