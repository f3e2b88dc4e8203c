"""LangChain adapters: embeddings and the Qdrant vector store."""

from __future__ import annotations

from t5_vectors.langchain.embeddings import T5Embeddings
from t5_vectors.langchain.vectorstore import T5QdrantVectorStore

__all__ = ["T5Embeddings", "T5QdrantVectorStore"]
