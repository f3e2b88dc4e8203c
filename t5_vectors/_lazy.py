"""Public names imported on first use (PEP 562), for the package ``__init__`` modules.

Each package lists where its public names live; importing the package stays cheap (no torch,
qdrant-client or Ray until a name that needs them is used), and a name once imported is kept in
the package's namespace.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, sources: Mapping[str, str], public: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of *package*.

    Args:
        package: the package's ``__name__``.
        sources: each lazily imported name and the full name of the module that defines it.
        public: the package's ``__all__`` (listed by ``dir()`` before they are imported).

    Example:
        ``__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)``
    """
    names = set(public) | set(sources)

    def __getattr__(name: str) -> Any:
        module = sources.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | names)

    return __getattr__, __dir__
