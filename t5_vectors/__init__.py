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

This module is the one place the public names are declared: the errors of
:mod:`t5_vectors.errors` (a light module, imported at once) and the names below, each imported
from its module on first use (PEP 562, :mod:`t5_vectors._lazy`), so ``import t5_vectors`` loads
none of torch, transformers, Qdrant or LangChain, and the command line starts at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from t5_vectors import errors as _errors
from t5_vectors._lazy import attach
from t5_vectors._version import __version__ as __version__
from t5_vectors.errors import *  # noqa: F403  (the errors are public names of the package)

if TYPE_CHECKING:
    from t5_vectors.encoder.config import EncoderConfig as EncoderConfig
    from t5_vectors.encoder.config import TruncationWarning as TruncationWarning
    from t5_vectors.encoder.core import T5Encoder as T5Encoder
    from t5_vectors.encoder.precision_check import compare_dtypes as compare_dtypes
    from t5_vectors.index.index import QdrantIndex as QdrantIndex
    from t5_vectors.langchain.embeddings import T5Embeddings as T5Embeddings
    from t5_vectors.langchain.vectorstore import T5QdrantVectorStore as T5QdrantVectorStore
    from t5_vectors.plan.collection import CollectionSpec as CollectionSpec
    from t5_vectors.plan.vectors import SparseVectors as SparseVectors
    from t5_vectors.plan.vectors import TokenVectors as TokenVectors
    from t5_vectors.storage.open import Storage as Storage
    from t5_vectors.storage.open import open_storage as open_storage
    from t5_vectors.storage.retry import RetryPolicy as RetryPolicy
    from t5_vectors.transfer.classifier import T5Classifier as T5Classifier

__getattr__, __dir__, __all__ = attach(__name__, __file__, _errors.__all__)
