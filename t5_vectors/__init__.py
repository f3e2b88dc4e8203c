"""t5-vectors: T5 encoders as a first-class embedding engine for LangChain and Qdrant.

Public API::

    from t5_vectors import T5Encoder, T5Embeddings

    encoder = T5Encoder.from_pretrained("sentence-transformers/sentence-t5-base")
    vectors = encoder.encode(["a text", "another"])        # float32 (2, 768)
    embeddings = T5Embeddings(encoder=encoder)              # LangChain Embeddings
"""

from __future__ import annotations

from t5_vectors.encoder import EncoderConfig, T5Encoder, TruncationWarning
from t5_vectors.errors import (
    CollectionConfigError,
    EncoderClosedError,
    EncodingError,
    InvalidInputError,
    ModelLoadError,
    ModelNotFoundError,
    NotT5CheckpointError,
    T5VectorsError,
    UnsafeCheckpointError,
)
from t5_vectors.langchain import T5Embeddings

__version__ = "0.1.0"

__all__ = [
    "CollectionConfigError",
    "EncoderClosedError",
    "EncoderConfig",
    "EncodingError",
    "InvalidInputError",
    "ModelLoadError",
    "ModelNotFoundError",
    "NotT5CheckpointError",
    "T5Embeddings",
    "T5Encoder",
    "T5VectorsError",
    "TruncationWarning",
    "UnsafeCheckpointError",
    "__version__",
]
