"""Deprecated: ``t5_vectors.qdrant`` was split into :mod:`t5_vectors.index` (``QdrantIndex``),
:mod:`t5_vectors.plan` (the pure planning code) and :mod:`t5_vectors.storage` (the engines).

Importing this package, or one of its former public modules (``t5_vectors.qdrant.index``,
``.collection``, ``.connection``, ``.ids``, ``.payload``, ``.retry``, ``.retrieval``,
``.vectors``, ``.layout``, ``.report``, ``.storage``), still works for this release and warns
with a :class:`DeprecationWarning` naming the new place. A former module is the new module
itself (the same object), not a copy. Import public names from :mod:`t5_vectors` instead.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any

from t5_vectors import index as _index

__all__ = list(_index.__all__)

MOVED = {
    "index": "t5_vectors.index.index",
    "collection": "t5_vectors.plan.collection",
    "connection": "t5_vectors.storage.open",
    "ids": "t5_vectors.plan.ids",
    "payload": "t5_vectors.plan.payload",
    "retry": "t5_vectors.storage.retry",
    "retrieval": "t5_vectors.plan.retrieval",
    "vectors": "t5_vectors.plan.vectors",
    "layout": "t5_vectors.plan.layout",
    "report": "t5_vectors.plan.report",
    "storage": "t5_vectors.plan.footprint",
}
"""Each former public module and where it lives now."""


def _warn(old: str, new: str) -> None:
    warnings.warn(
        f"{old} is deprecated and will be removed in the next release: it moved to {new}. "
        "Import public names from t5_vectors (for example `from t5_vectors import "
        "QdrantIndex`).",
        DeprecationWarning,
        stacklevel=3,
    )


class _Moved(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``t5_vectors.qdrant.<former module>`` as the module that holds it now."""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        parent, _, name = fullname.rpartition(".")
        if parent != __name__ or name not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = MOVED[spec.name.rpartition(".")[2]]
        _warn(spec.name, new)
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """The module was imported at its new place."""


if not any(isinstance(finder, _Moved) for finder in sys.meta_path):
    sys.meta_path.insert(0, _Moved())

_warn(__name__, "t5_vectors.index (QdrantIndex), t5_vectors.plan and t5_vectors.storage")


def __getattr__(name: str) -> Any:
    return getattr(_index, name)
