"""Interoperability: langchain-qdrant reads our collections and we read theirs; the indexing API."""

from __future__ import annotations

import uuid

import pytest
from langchain_core.documents import Document
from langchain_core.indexing import InMemoryRecordManager, aindex, index
from langchain_qdrant import QdrantVectorStore
from qdrant_client import AsyncQdrantClient, QdrantClient

from t5_vectors import T5Embeddings
from t5_vectors.langchain.vectorstore import T5QdrantVectorStore
from t5_vectors.plan.ids import point_id

TEXTS = [
    "Qdrant keeps points with vectors and a JSON payload.",
    "T5 is an encoder-decoder transformer.",
    "Cosine similarity compares the directions of two vectors.",
    "LangChain documents carry page content and metadata.",
]
METADATAS = [{"source": "a.md", "n": i, "tags": ["x", str(i)]} for i in range(len(TEXTS))]


def _strip(document: Document) -> Document:
    """langchain-qdrant adds its bookkeeping to metadata; drop it to compare content."""
    extra = {"_id", "_collection_name"}
    metadata = {k: v for k, v in document.metadata.items() if k not in extra}
    return Document(page_content=document.page_content, metadata=metadata)


@pytest.fixture
def embeddings(tiny_encoder) -> T5Embeddings:
    return T5Embeddings(encoder=tiny_encoder)


def test_we_read_and_manage_a_collection_langchain_qdrant_wrote(embeddings, tmp_path):
    theirs = QdrantVectorStore.from_texts(
        TEXTS, embeddings, METADATAS, path=str(tmp_path), collection_name="lc"
    )
    expected = theirs.similarity_search_with_score("transformer models", k=4)
    foreign_ids = [doc.metadata["_id"] for doc, _ in expected]
    theirs.client.close()

    ours = T5QdrantVectorStore.from_existing_collection("lc", embeddings, path=tmp_path)
    found = ours.similarity_search_with_score("transformer models", k=4)
    assert [doc for doc, _ in found] == [
        Document(id=foreign, page_content=doc.page_content, metadata=_strip(doc).metadata)
        for (doc, _), foreign in zip(expected, foreign_ids, strict=True)
    ]
    assert [s for _, s in found] == pytest.approx([s for _, s in expected], abs=1e-6)
    # Their ids (uuid4 hex) work for lookups and deletes.
    assert [d.id for d in ours.get_by_ids(foreign_ids[:2])] == foreign_ids[:2]
    ours.delete([foreign_ids[0]])
    assert ours.index.count() == 3
    # We add to it without disturbing their points, and reading stays uniform.
    ours.add_texts(["A new text written by t5-vectors."], [{"source": "b.md"}], ids=["ours-1"])
    assert ours.get_by_ids(["ours-1"])[0].metadata == {"source": "b.md"}
    assert ours.index.count() == 4
    ours.index.close()


def test_langchain_qdrant_reads_a_collection_we_wrote(embeddings):
    client = QdrantClient(":memory:")
    ours = T5QdrantVectorStore(embeddings, client=client, collection_name="ours")
    ids = ours.add_texts(TEXTS, METADATAS, ids=["a", "b", "c", "d"])
    expected = ours.similarity_search_with_score("payload and vectors", k=4)

    theirs = QdrantVectorStore(client=client, collection_name="ours", embedding=embeddings)
    found = theirs.similarity_search_with_score("payload and vectors", k=4)
    assert [_strip(doc) for doc, _ in found] == [_strip(doc) for doc, _ in expected]
    assert [s for _, s in found] == pytest.approx([s for _, s in expected], abs=1e-6)
    # The point ids they see are our uuid5 point ids; they can write next to us, and we read it.
    assert {doc.metadata["_id"] for doc, _ in found} == {point_id(i) for i in ids}
    theirs.add_texts(["written by langchain-qdrant"], [{"source": "lc"}], ids=[str(uuid.uuid4())])
    assert ours.similarity_search("written by langchain-qdrant", k=1)[0].metadata == {
        "source": "lc"
    }
    client.close()


def _docs(version: int = 0) -> list[Document]:
    return [
        Document(
            page_content=f"{text} (v{version if i == 0 else 0})", metadata={"source": f"{i}.md"}
        )
        for i, text in enumerate(TEXTS)
    ]


def test_indexing_api_incremental_and_full_with_sha256_keys(embeddings, tiny_encoder, monkeypatch):
    client = QdrantClient(":memory:")
    store = T5QdrantVectorStore(embeddings, client=client, collection_name="indexed")
    manager = InMemoryRecordManager("t5v/indexed")
    manager.create_schema()
    options = {"source_id_key": "source", "key_encoder": "sha256"}

    first = index(_docs(), manager, store, cleanup="incremental", **options)
    assert first == {"num_added": 4, "num_updated": 0, "num_skipped": 0, "num_deleted": 0}
    assert store.index.count() == 4
    keys = manager.list_keys()
    assert all(len(key) == 64 for key in keys)  # sha256 hex ids, not UUIDs
    assert {d.id for d in store.get_by_ids(keys)} == set(keys)

    encoded: list[str] = []
    encode = tiny_encoder.encode
    monkeypatch.setattr(
        tiny_encoder, "encode", lambda texts, **kw: encoded.extend(texts) or encode(texts, **kw)
    )
    again = index(_docs(), manager, store, cleanup="incremental", **options)
    assert again == {"num_added": 0, "num_updated": 0, "num_skipped": 4, "num_deleted": 0}
    assert encoded == []

    changed = index(_docs(version=1), manager, store, cleanup="incremental", **options)
    assert changed == {"num_added": 1, "num_updated": 0, "num_skipped": 3, "num_deleted": 1}
    assert encoded == [_docs(version=1)[0].page_content]
    assert store.index.count() == 4

    full = index(_docs(version=1)[:2], manager, store, cleanup="full", **options)
    assert full == {"num_added": 0, "num_updated": 0, "num_skipped": 2, "num_deleted": 2}
    assert store.index.count() == 2
    assert {d.page_content for d in store.similarity_search("anything", k=10)} == {
        d.page_content for d in _docs(version=1)[:2]
    }
    client.close()


async def test_async_indexing_api_over_an_async_client(embeddings):
    client = AsyncQdrantClient(":memory:")
    store = T5QdrantVectorStore(embeddings, async_client=client, collection_name="aindexed")
    manager = InMemoryRecordManager("t5v/aindexed")
    await manager.acreate_schema()
    options = {"source_id_key": "source", "key_encoder": "sha256"}
    first = await aindex(_docs(), manager, store, cleanup="incremental", **options)
    assert first["num_added"] == 4
    full = await aindex(_docs()[:1], manager, store, cleanup="full", **options)
    assert (full["num_skipped"], full["num_deleted"]) == (1, 3)
    assert await store.index.acount() == 1
    await client.close()
