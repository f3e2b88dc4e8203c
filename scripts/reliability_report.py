"""Generate docs/reliability.md from a run of the reliability tests.

Runs ``pytest tests/reliability`` (and ``integration_tests/test_faults.py`` when ``QDRANT_URL``
is set) with ``--junitxml`` to a temporary file, reads the ``reliability`` property each case
records (area, case, expected, outcome, lost: computed by the test from what happened) and the
case's result, and writes one table per area. Cases that failed or errored before recording a
row are listed too, with pytest's message. Apart from the date, the output depends only on what
the tests observed.

Usage::

    .venv/bin/python scripts/reliability_report.py            # writes docs/reliability.md
    .venv/bin/python scripts/reliability_report.py --junit run.xml --output -   # reuse a run
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import astuple, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AREAS = (
    "faults",
    "retry policy",
    "crash/resume",
    "worker loss",
    "bad input",
    "concurrency",
    "security",
)
PACKAGES = (
    "t5-vectors",
    "qdrant-client",
    "qdrant-edge-py",
    "torch",
    "transformers",
    "langchain-core",
    "tenacity",
)
NOTHING = ("nothing", "n/a", "0 ")
MODULE_AREAS = {
    "test_faults": "faults",
    "test_faultproxy": "fault proxy (self-test)",
    "test_crash_resume": "crash/resume",
    "test_worker": "worker loss",
}


@dataclass(frozen=True)
class Row:
    area: str
    case: str
    expected: str
    outcome: str
    lost: str
    result: str  # passed | FAILED | ERROR | skipped


def pytest_command(junit: Path, basetemp: Path) -> list[str]:
    """The pytest command the report comes from."""
    targets = ["tests/reliability"]
    if os.environ.get("QDRANT_URL"):
        targets.append("integration_tests/test_faults.py")
    return [
        sys.executable,
        "-m",
        "pytest",
        *targets,
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "-o",
        "junit_family=xunit1",  # xunit2 drops record_property
        f"--basetemp={basetemp}",
        f"--junitxml={junit}",
    ]


def _result(case: ET.Element) -> tuple[str, str]:
    for tag, label in (("failure", "FAILED"), ("error", "ERROR"), ("skipped", "skipped")):
        element = case.find(tag)
        if element is not None:
            message = (element.get("message") or element.text or "").strip().splitlines()
            return label, message[0] if message else ""
    return "passed", ""


def read_rows(junit: Path, basetemp: Path | None = None) -> list[Row]:
    """Every recorded row, plus one per case that failed before recording.

    Paths under pytest's *basetemp* are shown as ``<tmp>``, so that runs compare equal.
    """
    rows = _read_rows(junit)
    if basetemp is None:
        return rows
    prefix = str(basetemp)
    return [Row(*(value.replace(prefix, "<tmp>") for value in astuple(row))) for row in rows]


def _read_rows(junit: Path) -> list[Row]:
    rows: list[Row] = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        result, message = _result(case)
        recorded = [
            json.loads(prop.get("value") or "{}")
            for prop in case.iter("property")
            if prop.get("name") == "reliability"
        ]
        for row in recorded:
            outcome = row["outcome"] if result == "passed" else f"{row['outcome']} ({message})"
            rows.append(
                Row(row["area"], row["case"], row["expected"], outcome, row["lost"], result)
            )
        if not recorded and result in ("FAILED", "ERROR"):
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            module = case.get("classname", "").rsplit(".", 1)[-1]
            area = MODULE_AREAS.get(module, "other")
            rows.append(Row(area, name, "(no row recorded)", message, "unknown", result))
    return rows


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _versions() -> str:
    found = []
    for package in PACKAGES:
        try:
            found.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{package} (not installed)")
    return ", ".join([f"Python {platform.python_version()}", *found])


ENGINES = (("qdrant edge", "edge"), ("local mode", "local-mode"), ("memory",), ("server",))
"""Engines by the words a case names them with: Qdrant Edge, the default, comes first in every
table; cases that name no engine follow."""


def _engine_rank(row: Row) -> int:
    case = row.case.lower()
    for rank, words in enumerate(ENGINES):
        if any(case.startswith(w) or f"{w}," in case or f"{w}:" in case for w in words):
            return rank
    return len(ENGINES)


def render(rows: list[Row], command: str, exit_code: int) -> str:
    """The markdown document."""
    passed = sum(row.result == "passed" for row in rows)
    problems = [row for row in rows if row.result != "passed"]
    lossy = [row for row in rows if not row.lost.startswith(NOTHING)]
    lines = [
        "# Reliability report",
        "",
        "Generated by `scripts/reliability_report.py` from the reliability tests; do not edit by "
        "hand. Every outcome and every *lost* cell is what the test observed in that run (counts "
        "and ids found afterwards, the exception raised), not a fixed string.",
        "",
        f"- Date: {dt.datetime.now(dt.UTC).date().isoformat()}",
        f"- Versions: {_versions()}",
        f"- Platform: {platform.system()} {platform.machine()}",
        f"- Command: `{command}` (exit code {exit_code})",
        f"- Cases: {len(rows)}, passed {passed}, not passed {len(problems)}; cases whose "
        f"*Lost* cell reports a loss: {len(lossy)}",
    ]
    if not os.environ.get("QDRANT_URL"):
        lines.append(
            "- Not run: `integration_tests/test_faults.py` (the TCP fault proxy in front of a "
            "real server) needs `QDRANT_URL`."
        )
    order = {area: i for i, area in enumerate(AREAS)}
    areas = sorted({row.area for row in rows}, key=lambda a: (order.get(a, len(order)), a))
    for area in areas:
        lines += [
            "",
            f"## {area[0].upper()}{area[1:]}",
            "",
            "| Case | Expected | What happened | Lost | Result |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in sorted((r for r in rows if r.area == area), key=_engine_rank):
            cells = (row.case, row.expected, row.outcome, row.lost, row.result)
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(ROOT / "docs" / "reliability.md"))
    parser.add_argument("--junit", help="read this JUnit XML instead of running pytest")
    args = parser.parse_args(argv)
    if args.junit:
        exit_code, command = 0, f"(read from {Path(args.junit).name})"
        rows = read_rows(Path(args.junit))
    else:
        with tempfile.TemporaryDirectory(prefix="t5v-reliability-") as folder:
            junit, basetemp = Path(folder) / "junit.xml", Path(folder) / "basetemp"
            call = pytest_command(junit, basetemp)
            exit_code = subprocess.run(call, cwd=ROOT, check=False).returncode
            shown = ["python", *call[1:-2], "--basetemp=<tmp>", "--junitxml=<tmp>/junit.xml"]
            command = " ".join(shown)
            rows = read_rows(junit, basetemp)
    text = render(rows, command, exit_code)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}: {len(rows)} cases", file=sys.stderr)
    return 0 if exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
