"""t5-vectors: T5 encoders as a first-class embedding engine for LangChain and Qdrant.

Public API::

    from t5_vectors import QdrantIndex, T5Embeddings, T5Encoder, T5QdrantVectorStore

    encoder = T5Encoder.from_pretrained("sentence-transformers/sentence-t5-base")
    vectors = encoder.encode(["a text", "another"])        # float32 (2, 768)
    embeddings = T5Embeddings(encoder=encoder)              # LangChain Embeddings
    index = QdrantIndex(encoder, collection_name="docs")    # embedded Qdrant by default
    report = index.ingest(loader.lazy_load())               # streaming, idempotent
    store = T5QdrantVectorStore(index=index)                # LangChain VectorStore
    clf = T5Classifier(encoder).fit(texts, labels)          # head on frozen features

Names are imported on first use (PEP 562), so ``import t5_vectors`` loads none of torch,
transformers, Qdrant or LangChain, and the command line starts at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from t5_vectors._lazy import lazy_exports

if TYPE_CHECKING:
    from t5_vectors.encoder import EncoderConfig, T5Encoder, TruncationWarning
    from t5_vectors.errors import (
        CollectionConfigError,
        EncoderClosedError,
        EncoderMismatchError,
        EncodingError,
        IngestError,
        InsecureConnectionWarning,
        InvalidInputError,
        LabelError,
        ModelLoadError,
        ModelMismatchError,
        ModelNotFoundError,
        NotFittedError,
        NotT5CheckpointError,
        SourceFileError,
        StorageError,
        StorageFullError,
        StorageLockedError,
        StorageTimeoutError,
        StorageUnavailableError,
        T5VectorsError,
        UnsafeCheckpointError,
    )
    from t5_vectors.index import CollectionSpec, IngestReport, QdrantIndex, RetryPolicy
    from t5_vectors.langchain import T5Embeddings, T5QdrantVectorStore
    from t5_vectors.transfer import T5Classifier

__version__ = "0.1.0"

_ERRORS = "t5_vectors.errors"
_LAZY: dict[str, str] = {
    "CollectionConfigError": _ERRORS,
    "CollectionSpec": "t5_vectors.index",
    "EncoderClosedError": _ERRORS,
    "EncoderConfig": "t5_vectors.encoder",
    "EncoderMismatchError": _ERRORS,
    "EncodingError": _ERRORS,
    "IngestError": _ERRORS,
    "IngestReport": "t5_vectors.index",
    "InsecureConnectionWarning": _ERRORS,
    "InvalidInputError": _ERRORS,
    "LabelError": _ERRORS,
    "ModelLoadError": _ERRORS,
    "ModelMismatchError": _ERRORS,
    "ModelNotFoundError": _ERRORS,
    "NotFittedError": _ERRORS,
    "NotT5CheckpointError": _ERRORS,
    "QdrantIndex": "t5_vectors.index",
    "RetryPolicy": "t5_vectors.index",
    "SourceFileError": _ERRORS,
    "StorageError": _ERRORS,
    "StorageFullError": _ERRORS,
    "StorageLockedError": _ERRORS,
    "StorageTimeoutError": _ERRORS,
    "StorageUnavailableError": _ERRORS,
    "T5Classifier": "t5_vectors.transfer",
    "T5Embeddings": "t5_vectors.langchain",
    "T5Encoder": "t5_vectors.encoder",
    "T5QdrantVectorStore": "t5_vectors.langchain",
    "T5VectorsError": _ERRORS,
    "TruncationWarning": "t5_vectors.encoder",
    "UnsafeCheckpointError": _ERRORS,
}
"""Each public name and the module it is imported from on first use."""

__all__ = [
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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
