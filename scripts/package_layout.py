"""Print the package's layout (every module and its docstring's first line), or check a doc.

``python scripts/package_layout.py`` prints the layout block; ``--write docs/architecture.md``
replaces the block between ``<!-- layout:begin -->`` and ``<!-- layout:end -->`` in that file;
``--check docs/architecture.md`` exits 1 when the block there differs from the package
(``tests/test_docs.py`` runs the check, so the map cannot go stale).
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "t5_vectors"
BEGIN, END = "<!-- layout:begin -->", "<!-- layout:end -->"
WIDTH = 100


def _summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    first = " ".join(doc.strip().split("\n\n")[0].split())
    sentence = first.split(". ")[0].rstrip(".")
    return sentence.replace("``", "`")


def layout() -> str:
    """The layout block: one line per module, grouped by package, in path order."""
    lines = ["```text"]
    for folder in sorted([PACKAGE, *(p for p in PACKAGE.rglob("*") if p.is_dir())]):
        if folder.name == "__pycache__":
            continue
        modules = sorted(folder.glob("*.py"))
        if not modules:
            continue
        name = folder.relative_to(ROOT).as_posix() + "/"
        init = folder / "__init__.py"
        lines.append(_fit(f"{name:<28} {_summary(init)}" if init.exists() else name))
        for module in modules:
            if module.name != "__init__.py":
                lines.append(_fit(f"  {module.name:<26} {_summary(module)}"))
    lines.append("```")
    return "\n".join(lines)


def _fit(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 3] + "..."


def _replace(document: str, block: str) -> str:
    start, end = document.index(BEGIN) + len(BEGIN), document.index(END)
    return document[:start] + "\n" + block + "\n" + document[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="DOC", help="replace the layout block in DOC")
    group.add_argument("--check", metavar="DOC", help="exit 1 when DOC's block is stale")
    args = parser.parse_args(argv)
    block = layout()
    if args.write:
        path = Path(args.write)
        path.write_text(_replace(path.read_text(), block))
        return 0
    if args.check:
        document = Path(args.check).read_text()
        if _replace(document, block) != document:
            print(
                f"{args.check}: the layout block is stale; run "
                f"python scripts/package_layout.py --write {args.check}",
                file=sys.stderr,
            )
            return 1
        return 0
    print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
