"""A package's public names, declared once and imported on first use (PEP 562).

A package ``__init__`` lists its public names in one place, as explicit re-exports (``import x
as x``, what type checkers read), under ``if TYPE_CHECKING:`` for those imported on first use::

    if TYPE_CHECKING:
        from t5_vectors.index.index import QdrantIndex as QdrantIndex

    __getattr__, __dir__, __all__ = attach(__name__, __file__)

:func:`attach` reads that block from the source (as scientific Python's ``lazy_loader`` reads a
stub), so each name is imported from its module when first used and kept in the package's
namespace; ``__all__`` is those names, sorted. Importing the package stays cheap: no torch,
qdrant-client or Ray until a name that needs them is used.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def _declared(source: str) -> tuple[dict[str, str], list[str]]:
    """The public names of a package ``__init__``'s *source*: ``{name: module}`` of the
    explicit re-exports under ``if TYPE_CHECKING:`` (imported on first use), and the names it
    re-exports at once (``from x import y as y`` at the top level)."""
    lazy: dict[str, str] = {}
    eager: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    for alias in statement.names:
                        lazy[alias.asname or alias.name] = statement.module
        elif isinstance(node, ast.ImportFrom):
            eager.extend(alias.name for alias in node.names if alias.asname == alias.name)
    return lazy, eager


def attach(
    package: str, init_file: str, extra: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """The ``__getattr__``, ``__dir__`` and ``__all__`` of *package*.

    Args:
        package: the package's ``__name__``.
        init_file: its ``__file__``, whose explicit re-exports (``import x as x``) are the
            public names: those under ``if TYPE_CHECKING:`` are imported on first use.
        extra: public names imported otherwise (a ``*`` import of a module's ``__all__``).
    """
    sources, eager = _declared(Path(init_file).read_text(encoding="utf-8"))
    public = sorted({*sources, *eager, *extra})

    def __getattr__(name: str) -> Any:
        module = sources.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(public))

    return __getattr__, __dir__, public
