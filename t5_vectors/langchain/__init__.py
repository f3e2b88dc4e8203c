"""LangChain adapters: embeddings (and the Qdrant vector store)."""

from __future__ import annotations

from t5_vectors.langchain.embeddings import T5Embeddings

__all__ = ["T5Embeddings"]
