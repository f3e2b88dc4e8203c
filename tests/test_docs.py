"""The docs say what the code does: the package map is generated from the package, the README
names every package, the README and docs/ link only files that exist, and every figure the
README's Speed section quotes is in the benchmark summary."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
FIGURES = re.compile(r"<!-- figures:begin -->\n(.*?)<!-- figures:end -->", re.DOTALL)


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + len(heading) + 2)
    return text[start : end if end != -1 else None]


def test_the_package_map_in_docs_architecture_is_current():
    done = subprocess.run(
        [sys.executable, "scripts/package_layout.py", "--check", "docs/architecture.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_docs_architecture_shows_the_layers_the_test_holds():
    from tests.test_layers import LAYERS

    document = (ROOT / "docs" / "architecture.md").read_text()
    table = document[document.index("LAYERS, bottom first") :].split("```")[0]
    shown = []
    for line in table.splitlines()[2:]:
        names = re.split(r"\s{2,}", line.strip())[0]
        names = names.replace("t5_vectors (the package's __init__)", "__init__")
        shown.append({name.strip().rstrip("/") for name in names.split(",")})
    assert shown == [set(layer) for layer in LAYERS]


def test_the_readme_layout_names_every_package_and_nothing_else():
    layout = _section(README, "## Layout")
    packages = {p.name for p in (ROOT / "t5_vectors").iterdir() if (p / "__init__.py").is_file()}
    named = set(re.findall(r"`(?:t5_vectors/)?([a-z_]+)/`", layout))
    assert packages <= named, packages - named
    assert named - {"t5_vectors", "edge", "client"} <= packages | {"edge", "client"}
    assert all((ROOT / "t5_vectors" / "storage" / sub).is_dir() for sub in ("edge", "client"))


def test_every_file_the_readme_links_exists():
    links = re.findall(r"\]\(((?:docs|examples|tests|benchmarks|scripts)/[^)#]+)", README)
    assert links
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, missing


def test_every_file_the_docs_link_exists():
    missing = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        for link in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not link.startswith(("http://", "https://")) and not (page.parent / link).exists():
                missing.append(f"{page.name}: {link}")
    assert not missing, missing


def test_the_readme_speed_figures_are_the_benchmark_summarys():
    summary = FIGURES.search((ROOT / "docs" / "benchmarks.md").read_text())
    assert summary is not None
    rows = [line for line in summary.group(1).splitlines() if line.startswith("| ")]
    assert len(rows) >= 5
    speed = _section(README, "## Speed")
    assert "docs/benchmarks.md" in speed
    figures = re.findall(r"\d+(?:[.,]\d+)*x?", speed)
    assert len(figures) >= 8
    quoted = [
        f for f in figures if not re.search(rf"(?<![\d.,]){re.escape(f)}(?![\d])", summary[1])
    ]
    assert not quoted, f"README figures not in the docs/benchmarks.md summary: {quoted}"
