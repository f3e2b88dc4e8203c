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
"""

from __future__ import annotations

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
    T5VectorsError,
    UnsafeCheckpointError,
)
from t5_vectors.langchain import T5Embeddings, T5QdrantVectorStore
from t5_vectors.qdrant import CollectionSpec, IngestReport, QdrantIndex, RetryPolicy
from t5_vectors.transfer import T5Classifier

__version__ = "0.1.0"

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
    "T5Classifier",
    "T5Embeddings",
    "T5Encoder",
    "T5QdrantVectorStore",
    "T5VectorsError",
    "TruncationWarning",
    "UnsafeCheckpointError",
    "__version__",
]
