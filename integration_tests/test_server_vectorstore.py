"""The langchain-tests standard suite and the store's own guarantees, on a real Qdrant server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.documents import Document
from langchain_core.indexing import InMemoryRecordManager, index
from langchain_tests.integration_tests.vectorstores import VectorStoreIntegrationTests
from qdrant_client import AsyncQdrantClient, QdrantClient

from t5_vectors import T5Embeddings
from t5_vectors.langchain.vectorstore import T5QdrantVectorStore

from .conftest import client_options


class TestServerSyncClient(VectorStoreIntegrationTests):
    """Sync client; async methods use an AsyncQdrantClient twin built from its options."""

    @pytest.fixture
    def vectorstore(self, server: QdrantClient, new_name) -> Iterator[T5QdrantVectorStore]:
        store = T5QdrantVectorStore(
            self.get_embeddings(), client=server, collection_name=new_name()
        )
        yield store
        store.index.drop()


class TestServerAsyncClient(VectorStoreIntegrationTests):
    """Only an AsyncQdrantClient; sync methods use a sync twin built from its options."""

    @pytest.fixture
    def vectorstore(self, server: QdrantClient, new_name) -> Iterator[T5QdrantVectorStore]:
        client = AsyncQdrantClient(**client_options())
        store = T5QdrantVectorStore(
            self.get_embeddings(), async_client=client, collection_name=new_name()
        )
        yield store
        server.delete_collection(store.collection_name)


class TestServerT5(VectorStoreIntegrationTests):
    """T5Embeddings over the tiny encoder, connecting by URL."""

    @pytest.fixture
    def vectorstore(self, tiny_encoder, new_name) -> Iterator[T5QdrantVectorStore]:
        options = client_options()
        store = T5QdrantVectorStore(
            T5Embeddings(encoder=tiny_encoder),
            collection_name=new_name(),
            url=options.pop("url"),
            api_key=options.pop("api_key"),
            client_options=options,
        )
        yield store
        store.index.drop()
        store.index.close()


def test_indexing_api_with_sha256_keys(tiny_encoder, server, new_name):
    store = T5QdrantVectorStore(
        T5Embeddings(encoder=tiny_encoder), client=server, collection_name=new_name()
    )
    manager = InMemoryRecordManager("t5v/server")
    manager.create_schema()
    docs = [
        Document(page_content=f"text {i}", metadata={"source": f"{i % 2}.md"}) for i in range(6)
    ]
    options = {"source_id_key": "source", "key_encoder": "sha256"}
    assert index(docs, manager, store, cleanup="incremental", **options)["num_added"] == 6
    assert index(docs, manager, store, cleanup="incremental", **options)["num_skipped"] == 6
    result = index(docs[:2], manager, store, cleanup="full", **options)
    assert result["num_deleted"] == 4
    assert store.index.count() == 2
