"""The curated public surface is pinned: changing it is a deliberate act."""

from __future__ import annotations

import t5_vectors


def test_all_is_pinned_and_sorted():
    assert t5_vectors.__all__ == [
        "CollectionConfigError",
        "CollectionSpec",
        "EncoderClosedError",
        "EncoderConfig",
        "EncoderMismatchError",
        "EncodingError",
        "IngestError",
        "IngestReport",
        "InsecureConnectionWarning",
        "InvalidInputError",
        "LabelError",
        "ModelLoadError",
        "ModelMismatchError",
        "ModelNotFoundError",
        "NotFittedError",
        "NotT5CheckpointError",
        "QdrantIndex",
        "RetryPolicy",
        "SourceFileError",
        "StorageError",
        "StorageFullError",
        "StorageLockedError",
        "StorageTimeoutError",
        "StorageUnavailableError",
        "T5Classifier",
        "T5Embeddings",
        "T5Encoder",
        "T5QdrantVectorStore",
        "T5VectorsError",
        "TruncationWarning",
        "UnsafeCheckpointError",
        "__version__",
    ]
    assert t5_vectors.__all__ == sorted(t5_vectors.__all__)
    for name in t5_vectors.__all__:
        assert hasattr(t5_vectors, name), name


def test_every_error_derives_from_the_root():
    errors = [getattr(t5_vectors, n) for n in t5_vectors.__all__ if n.endswith("Error")]
    assert all(issubclass(e, t5_vectors.T5VectorsError) for e in errors)


def test_core_never_imports_langchain_or_qdrant():
    import ast
    from pathlib import Path

    core = Path(t5_vectors.__file__).parent / "encoder"
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
