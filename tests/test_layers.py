"""The layers hold: only ``t5_vectors/storage/`` imports an engine at run time.

Read from the source (every ``import`` statement of every module, by ``ast``): an import of
``qdrant_client`` or ``qdrant_edge`` outside ``t5_vectors/storage/`` is allowed only under
``if TYPE_CHECKING:`` (for an annotation such as ``client: QdrantClient``). Former module paths
(``t5_vectors.qdrant.*``) still import, with a ``DeprecationWarning``, as the new modules.
"""

from __future__ import annotations

import ast
import importlib
import sys
import warnings
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "t5_vectors"
ENGINES = ("qdrant_client", "qdrant_edge")


def _engine_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, module)`` of each engine import that runs (not under ``if TYPE_CHECKING``)."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found.extend((node.lineno, n) for n in names if n.split(".")[0] in ENGINES)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_no_engine_import_outside_storage():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "storage":
            continue
        for line, module in _engine_imports(ast.parse(path.read_text(), str(path))):
            offenders.append(f"t5_vectors/{relative}:{line} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_the_scan_sees_imports_it_must_refuse():
    code = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from qdrant_client import QdrantClient\n"
        "def f():\n    import qdrant_edge.x\n    from qdrant_client import models\n"
    )
    assert _engine_imports(ast.parse(code)) == [(5, "qdrant_edge.x"), (6, "qdrant_client")]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("t5_vectors.qdrant.index", "t5_vectors.index.index"),
        ("t5_vectors.qdrant.ids", "t5_vectors.plan.ids"),
        ("t5_vectors.qdrant.connection", "t5_vectors.storage.open"),
        ("t5_vectors.qdrant.storage", "t5_vectors.plan.footprint"),
    ],
)
def test_former_module_paths_warn_and_are_the_new_modules(old, new):
    for name in [name for name in sys.modules if name.startswith("t5_vectors.qdrant")]:
        del sys.modules[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    messages = [str(w.message) for w in caught if w.category is DeprecationWarning]
    assert any(old in m and new in m for m in messages), messages
    from t5_vectors.qdrant import QdrantIndex

    assert QdrantIndex is importlib.import_module("t5_vectors").QdrantIndex
