"""langchain-tests' standard VectorStore suite, on every engine, Qdrant Edge first.

* with ``T5Embeddings`` over the tiny T5 encoder on Qdrant Edge (a new folder: the default);
* a sync ``QdrantClient(":memory:")`` with the suite's own deterministic embeddings (async
  methods run embedded Qdrant inline);
* an ``AsyncQdrantClient(":memory:")``: the native async path (sync calls are impossible on an
  embedded async client, so the sync half does not apply);
* with ``T5Embeddings`` on a folder written by qdrant-client's local mode (langchain-qdrant
  ``path=``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_tests.integration_tests.vectorstores import VectorStoreIntegrationTests
from qdrant_client import AsyncQdrantClient, QdrantClient

from t5_vectors import T5Embeddings
from t5_vectors.langchain.vectorstore import T5QdrantVectorStore


class TestT5OnDisk(VectorStoreIntegrationTests):
    """Qdrant Edge: what a new folder opens as."""

    @pytest.fixture
    def vectorstore(self, tiny_encoder, tmp_path) -> Iterator[T5QdrantVectorStore]:
        store = T5QdrantVectorStore(
            T5Embeddings(encoder=tiny_encoder), path=tmp_path / "qdrant", collection_name="standard"
        )
        assert store.index.connection.kind == "edge"
        yield store
        store.index.close()


class TestInMemory(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self) -> Iterator[T5QdrantVectorStore]:
        client = QdrantClient(":memory:")
        yield T5QdrantVectorStore(self.get_embeddings(), client=client, collection_name="standard")
        client.close()


class TestAsyncClient(VectorStoreIntegrationTests):
    @property
    def has_sync(self) -> bool:
        return False

    @pytest.fixture
    def vectorstore(self) -> T5QdrantVectorStore:
        client = AsyncQdrantClient(":memory:")
        return T5QdrantVectorStore(
            self.get_embeddings(), async_client=client, collection_name="standard"
        )


class TestT5LocalModeFolder(VectorStoreIntegrationTests):
    """A folder qdrant-client's local mode wrote, opened as it is."""

    @pytest.fixture
    def vectorstore(self, tiny_encoder, tmp_path) -> Iterator[T5QdrantVectorStore]:
        QdrantClient(path=str(tmp_path / "qdrant")).close()
        store = T5QdrantVectorStore(
            T5Embeddings(encoder=tiny_encoder), path=tmp_path / "qdrant", collection_name="standard"
        )
        assert store.index.connection.kind == "local-mode"
        yield store
        store.index.close()
