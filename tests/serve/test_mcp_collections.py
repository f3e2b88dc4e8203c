"""``t5-vectors mcp`` over collections that exist: ingested files, and langchain-qdrant's."""

from __future__ import annotations

import pytest

mcp = pytest.importorskip("mcp", reason="the serve extra is not installed: pip install '.[serve]'")

from t5_vectors import CollectionSpec, QdrantIndex, T5Embeddings  # noqa: E402
from t5_vectors.files.chunking import ChunkSettings  # noqa: E402
from t5_vectors.files.ingest import ingest_files  # noqa: E402
from tests.serve.mcp_stdio import call, mcp_session, refusal  # noqa: E402

BUDGET = "The budget meeting moved to Thursday at ten."
CATS = "Cats sleep most of the afternoon."


async def test_read_only_over_ingested_files_with_sparse_vectors(tmp_path, st5_path, tiny_encoder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "budget.md").write_text(BUDGET + " " + "The agenda lists the figures. " * 6)
    (docs / "cats.md").write_text(CATS)
    db = tmp_path / "db"
    spec = CollectionSpec(sparse_vectors=True)
    index = QdrantIndex(tiny_encoder, collection_name="docs", storage=db, spec=spec)
    try:
        ingest_files(index, [docs], chunking=ChunkSettings(chunk_tokens=32, chunk_overlap=4))
        chunks = index.count()
    finally:
        index.close()
    assert chunks > 2  # budget.md is more than one chunk

    flags = ["--collection", "docs", "--qdrant-path", str(db), "--read-only"]
    async with mcp_session(tmp_path, st5_path, *flags) as session:
        assert {tool.name for tool in (await session.list_tools()).tools} == {
            "search",
            "sources",
            "info",
        }
        search = next(t for t in (await session.list_tools()).tools if t.name == "search")
        assert search.input_schema["properties"]["mode"]["enum"] == ["dense", "sparse", "hybrid"]
        info = await call(session, "info", {})
        assert info["points"] == chunks
        assert info["modes"] == ["dense", "sparse", "hybrid"]
        assert info["chunking"] == {"chunk_tokens": 32, "chunk_overlap": 4}
        assert info["read_only"] is True
        listed = {s["source"]: s for s in (await call(session, "sources", {}))["sources"]}
        budget, cats = str((docs / "budget.md").resolve()), str((docs / "cats.md").resolve())
        assert set(listed) == {budget, cats}
        assert listed[cats]["chunks"] == 1
        assert listed[budget]["chunks"] == chunks - 1
        assert all(s["stored"] for s in listed.values())  # file ingestion recorded when

        for mode in ("sparse", "hybrid"):
            asked = {"query": "cats sleep", "mode": mode, "filter": "source=docs/cats.md"}
            found = await call(session, "search", asked)
            assert [hit["page_content"] for hit in found["results"]] == [CATS], mode
        maxsim = await refusal(session, "search", {"query": "cats", "mode": "maxsim"})
        assert maxsim.startswith(
            "mode: expected one of the modes collection 'docs' serves (dense, sparse, hybrid;"
        )
        store = await refusal(session, "store", {"text": "x"})
        assert "found 'store', which this server leaves out: it was started with --read-only" in (
            store
        )


async def test_a_langchain_qdrant_collection_with_its_own_vector_name(
    tmp_path, st5_path, tiny_encoder
):
    from langchain_qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    db = str(tmp_path / "db")
    embedding = T5Embeddings(encoder=tiny_encoder)
    store = QdrantVectorStore.from_texts(
        [BUDGET, CATS],
        embedding,
        metadatas=[{"source": "meeting"}, {"source": "pets"}],
        collection_name="lc",
        path=db,
        vector_name="custom-vector",
    )
    store.client.close()
    added = "The offsite is planned for the first week of June."

    flags = ["--collection", "lc", "--qdrant-path", db]
    async with mcp_session(tmp_path, st5_path, *flags) as session:
        found = await call(session, "search", {"query": "when is the budget meeting?", "k": 2})
        assert {hit["page_content"] for hit in found["results"]} == {BUDGET, CATS}
        assert found["results"][0]["page_content"] == BUDGET
        assert found["results"][0]["metadata"] == {"source": "meeting"}
        pets = await call(session, "search", {"query": "cats", "filter": "source=pets"})
        assert [hit["page_content"] for hit in pets["results"]] == [CATS]
        await call(session, "store", {"text": added, "metadata": {"source": "plans"}})
        deleted = await call(session, "delete", {"ids": [pets["results"][0]["id"]]})
        assert deleted == {"deleted": 1}
        assert (await call(session, "info", {}))["points"] == 2

    # langchain-qdrant reads what the server wrote, under its own vector name.
    client = QdrantClient(path=db)
    try:
        reopened = QdrantVectorStore(
            client=client, collection_name="lc", embedding=embedding, vector_name="custom-vector"
        )
        hits = reopened.similarity_search("offsite in June", k=3)
        assert {hit.page_content for hit in hits} == {BUDGET, added}
        assert next(h for h in hits if h.page_content == added).metadata["source"] == "plans"
    finally:
        client.close()
