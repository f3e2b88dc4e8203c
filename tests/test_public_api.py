"""The public surface is declared once, in each package's ``__init__``, and has one path per name.

The names are not listed again here: a package ``__init__`` declares its public names as explicit
re-exports (:mod:`t5_vectors._lazy`), and these tests hold what must be true of them: ``__all__``
is sorted, every name resolves (to the object its module defines), no public name of
:mod:`t5_vectors` is re-exported by a subpackage too, and the errors all derive from the root.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import t5_vectors

PACKAGE = Path(t5_vectors.__file__).parent


def _packages() -> list[str]:
    return sorted(
        ".".join(path.relative_to(PACKAGE.parent).parent.parts)
        for path in PACKAGE.rglob("__init__.py")
    )


def test_every_package_all_is_sorted_and_resolves():
    for name in _packages():
        try:
            package = importlib.import_module(name)
        except ImportError:  # an optional extra that is not installed
            continue
        public = getattr(package, "__all__", [])
        assert public == sorted(public), name
        for attribute in public:
            assert hasattr(package, attribute), f"{name}.{attribute}"


def test_the_facade_declares_the_main_names():
    for name in ("QdrantIndex", "T5Encoder", "T5Embeddings", "T5QdrantVectorStore", "open_storage"):
        assert name in t5_vectors.__all__
    assert t5_vectors.__version__
    assert "__version__" in t5_vectors.__all__


def test_one_import_path_per_public_name():
    """A name the facade exports is not exported by a subpackage as well."""
    facade = set(t5_vectors.__all__)
    twice = []
    for name in _packages():
        if name == "t5_vectors":
            continue
        source = (PACKAGE.parent / name.replace(".", "/") / "__init__.py").read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom):
                twice += [f"{name}.{a.asname}" for a in node.names if a.asname in facade]
    assert not twice, twice


def test_every_error_derives_from_the_root():
    errors = [getattr(t5_vectors, n) for n in t5_vectors.__all__ if n.endswith("Error")]
    assert errors
    assert all(issubclass(e, t5_vectors.T5VectorsError) for e in errors)


def test_core_never_imports_langchain_or_qdrant():
    core = PACKAGE / "encoder"
    for path in core.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(
                    ("langchain", "qdrant", "t5_vectors.langchain", "t5_vectors.index")
                ), f"{path.name} imports {name}"
