"""The layers hold, read from the code's own imports.

:data:`LAYERS` is the one declaration of the package's order, bottom first (docs/architecture.md
shows it, and tests/test_docs.py keeps the two equal). Every ``import`` statement of every module
is read with ``ast``, those under ``if TYPE_CHECKING:`` included (an annotation is a dependency
too), and these hold:

* an import from one package of ``t5_vectors`` to another points down: to a package of a lower
  layer, never to the same layer or above (so no two packages import each other);
* no module imports itself back through others (no circle of modules, inside a package either);
* only ``t5_vectors/storage/`` imports an engine (``qdrant_client``, ``qdrant_edge``) at run
  time; elsewhere only under ``if TYPE_CHECKING:``, for an annotation of an input a user gives;
* plans do no I/O: ``t5_vectors/plan/`` imports no engine at run time, no storage backend and
  nothing that sleeps, waits, retries or embeds (of storage, only the seam's types and the
  translation of engine objects a user passes in).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "t5_vectors"
ENGINES = ("qdrant_client", "qdrant_edge")

LAYERS: tuple[tuple[str, ...], ...] = (
    ("_lazy", "_version", "errors"),
    ("_checks",),
    ("encoder", "testing"),
    ("storage",),
    ("plan",),
    ("index",),
    ("files", "langchain", "transfer"),
    ("__init__",),
    ("ray", "serve"),
    ("cli",),
    ("__main__",),
)
"""The packages (and top-level modules) of ``t5_vectors``, bottom layer first. ``__init__`` is
the package's own facade (``from t5_vectors import QdrantIndex``)."""

PLAN_MAY_IMPORT = ("t5_vectors.storage.base", "t5_vectors.storage.inputs")
"""What of the storage layer plans may import: the seam's types and the translation of
qdrant-client objects a user passes as input (pure functions)."""

PLAN_MUST_NOT_IMPORT = ("time", "asyncio", "threading", "tenacity", "torch", "socket")
"""Modules whose use means I/O, waiting or model work: never in a plan."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(module: str) -> str | None:
    """The part of ``t5_vectors`` *module* belongs to (a name of :data:`LAYERS`)."""
    parts = module.split(".")
    if parts[0] != "t5_vectors":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str, bool]]:
    """``(line, module, at run time)`` of each import of *path* (relative ones resolved)."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    return _imports_in(path.read_text(), package)


def _imports_in(source: str, package: str) -> list[tuple[int, str, bool]]:
    tree = ast.parse(source)
    found: list[tuple[int, str, bool]] = []

    def visit(node: ast.AST, runtime: bool) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                visit(child, False)
            for child in node.orelse:
                visit(child, runtime)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, runtime) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from t5_vectors.x import y`` may import the submodule ``y``
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                module = candidate if _is_module(candidate) else base
                found.append((node.lineno, module, runtime))
        for child in ast.iter_child_nodes(node):
            visit(child, runtime)

    visit(tree, True)
    return found


def _is_module(name: str) -> bool:
    if not name.startswith("t5_vectors."):
        return False
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _rank() -> dict[str, int]:
    return {name: layer for layer, names in enumerate(LAYERS) for name in names}


def test_every_package_has_a_layer():
    rank = _rank()
    missing = sorted({_package_of(name) for name in _modules()} - set(rank))
    assert not missing, f"declare these in LAYERS: {missing}"


def test_no_import_runs_up_or_sideways():
    rank = _rank()
    offenders = []
    for name, path in _modules().items():
        source = _package_of(name)
        for line, module, _ in _imports(path):
            target = _package_of(module)
            if target is None or target == source:
                continue
            if rank[target] >= rank[source]:
                relative = path.relative_to(PACKAGE.parent)
                offenders.append(f"{relative}:{line} ({source}) imports {module} ({target})")
    assert not offenders, "\n".join(offenders)


def test_no_circle_of_modules():
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for _, module, _ in _imports(path):
            if module in modules and module != name and not name.startswith(f"{module}."):
                graph[name].add(module)
    circles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for following in sorted(graph[node]):
            if state.get(following) == 1:
                circles.append(" -> ".join([*stack[stack.index(following) :], following]))
            elif following not in state:
                visit(following)
        stack.pop()
        state[node] = 2

    for node in sorted(modules):
        if node not in state:
            visit(node)
    assert not circles, "\n".join(circles)


def test_no_engine_import_outside_storage():
    offenders = []
    for name, path in _modules().items():
        if _package_of(name) == "storage":
            continue
        for line, module, runtime in _imports(path):
            if runtime and module.split(".")[0] in ENGINES:
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_plans_do_no_io():
    offenders = []
    for name, path in _modules().items():
        if _package_of(name) != "plan":
            continue
        for line, module, runtime in _imports(path):
            root = module.split(".")[0]
            storage = _package_of(module) == "storage" and module not in PLAN_MAY_IMPORT
            if (root in ENGINES and runtime) or root in PLAN_MUST_NOT_IMPORT or storage:
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_the_scan_sees_what_it_must_refuse():
    code = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from qdrant_client import QdrantClient\n"
        "def f():\n    import qdrant_edge.x\n    from t5_vectors.index import index\n"
        "    from ..storage import base\n"
    )
    assert _imports_in(code, "t5_vectors.plan")[1:] == [
        (3, "qdrant_client", False),
        (5, "qdrant_edge.x", True),
        (6, "t5_vectors.index.index", True),
        (7, "t5_vectors.storage.base", True),
    ]
