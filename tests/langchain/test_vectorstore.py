"""T5QdrantVectorStore: ids and metadata exact, constructors, retrievers, relevance, T5 path."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from qdrant_client import QdrantClient, models

from t5_vectors import (
    CollectionConfigError,
    InvalidInputError,
    QdrantIndex,
    T5Embeddings,
    open_storage,
)
from t5_vectors.langchain.vectorstore import T5QdrantVectorStore

_names = itertools.count()


class Table(Embeddings):
    """Chosen vectors for chosen texts."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.table.get(text, [0.0, 0.0, 1.0])


@pytest.fixture
def client():
    client = QdrantClient(":memory:")
    yield client
    client.close()


@pytest.fixture(params=["edge", "memory"])
def where(request, tmp_path):
    """Where the stores of a test live: Qdrant Edge (the default engine) first, then
    qdrant-client's ``:memory:`` engine (one backend or client shared by the test's stores)."""
    if request.param == "memory":
        yield {"storage": request.getfixturevalue("client")}
        return
    storage = open_storage(tmp_path / "edge-store")
    yield {"storage": storage}
    storage.close()


@pytest.fixture
def store(tiny_encoder, where) -> T5QdrantVectorStore:
    return T5QdrantVectorStore(
        T5Embeddings(encoder=tiny_encoder), **where, collection_name=f"s{next(_names)}"
    )


NEAR_DUPLICATES = {
    "query": [1.0, 0.0, 0.0],
    "best": [1.0, 0.0, 0.0],
    "best again": [0.99, 0.14, 0.0],
    "different": [0.7, 0.0, 0.71],
    "opposite": [-1.0, 0.0, 0.0],
}


@pytest.fixture
def table_store(where) -> T5QdrantVectorStore:
    store = T5QdrantVectorStore(Table(NEAR_DUPLICATES), **where, collection_name="table")
    store.add_texts(["best", "best again", "different"], ids=["best", "dup", "diverse"])
    return store


def test_ids_and_metadata_come_back_exactly(store):
    documents = [
        Document(page_content="one", metadata={"nested": {"k": [1, 2]}, "source": "a"}),
        Document(page_content="two", metadata={}),
        Document(page_content="three", metadata={"id": 3}),
    ]
    ids = store.add_documents(documents, ids=["chapter/1#intro", "e3b0c442" * 8, "42"])
    assert ids == ["chapter/1#intro", "e3b0c442" * 8, "42"]
    expected = [
        Document(id=doc_id, page_content=doc.page_content, metadata=doc.metadata)
        for doc_id, doc in zip(ids, documents, strict=True)
    ]
    assert store.get_by_ids(ids) == expected
    found = {doc.id: doc for doc in store.similarity_search("one", k=3)}
    assert found == {doc.id: doc for doc in expected}
    assert all(
        "_id" not in doc.metadata and "_collection_name" not in doc.metadata
        for doc in found.values()
    )


def test_document_ids_are_honoured_and_ids_argument_wins(store):
    documents = [Document(page_content="a", id="doc-a"), Document(page_content="b")]
    ids = store.add_documents(documents)
    assert ids[0] == "doc-a"
    assert store.add_documents(documents, ids=["x", None]) == ["x", ids[1]]
    assert documents[1].id is None  # inputs are never modified


def test_add_texts_and_validation_before_writing(store):
    ids = store.add_texts(["a", "b"], [{"n": 1}, {"n": 2}], ids=["1", "2"])
    assert [d.metadata for d in store.get_by_ids(ids)] == [{"n": 1}, {"n": 2}]
    before = store.index.count()
    with pytest.raises(InvalidInputError, match="metadatas: expected one per text"):
        store.add_texts(["x", "y"], [{"n": 1}])
    with pytest.raises(InvalidInputError, match="expected one id per document"):
        store.add_documents([Document(page_content="x")], ids=["1", "2"])
    with pytest.raises(InvalidInputError, match="Wrap it in a list"):
        store.add_texts("not a list")
    with pytest.raises(InvalidInputError, match=r"texts\[1\]"):
        store.add_texts(["ok", None])
    with pytest.raises(InvalidInputError, match="unexpected argument"):
        store.add_texts(["x"], upsert_kwargs=True)
    assert store.index.count() == before


def test_readding_unchanged_documents_encodes_nothing(store, tiny_encoder, monkeypatch):
    documents = [Document(page_content=f"text {i}", metadata={"i": i}) for i in range(6)]
    first = store.add_documents(documents)
    encoded: list[str] = []
    encode = tiny_encoder.encode
    monkeypatch.setattr(
        tiny_encoder, "encode", lambda texts, **kw: encoded.extend(texts) or encode(texts, **kw)
    )
    assert store.add_documents(documents) == first
    assert encoded == []
    assert store.index.count() == 6


def test_t5_scores_match_the_encoder(store, tiny_encoder):
    texts = ["the quick brown fox", "vector databases", "T5 is a transformer", "hello world"]
    store.add_texts(texts)
    pairs = store.similarity_search_with_score("vector search", k=4)
    documents = tiny_encoder.encode(texts)
    query = tiny_encoder.encode(["vector search"], kind="query")[0]
    cosine = documents @ query / np.linalg.norm(documents, axis=1) / np.linalg.norm(query)
    assert [doc.page_content for doc, _ in pairs] == [texts[i] for i in np.argsort(-cosine)]
    assert [score for _, score in pairs] == pytest.approx(sorted(cosine, reverse=True), abs=1e-5)
    vector = store.embeddings.embed_query("vector search")
    by_vector = store.similarity_search_by_vector(vector, k=4)
    assert by_vector == [doc for doc, _ in pairs]
    scored = store.similarity_search_with_score_by_vector(vector, k=1)
    assert scored[0][1] == pytest.approx(pairs[0][1], abs=1e-6)


def test_filters_through_search_and_retriever(store):
    store.add_texts(["red", "green", "blue"], [{"c": "warm"}, {"c": "cold"}, {"c": "cold"}])
    assert {d.page_content for d in store.similarity_search("red", k=3, filter={"c": "cold"})} == {
        "green",
        "blue",
    }
    qdrant_filter = models.Filter(
        must=[models.FieldCondition(key="metadata.c", match=models.MatchValue(value="warm"))]
    )
    assert [d.page_content for d in store.similarity_search("x", filter=qdrant_filter)] == ["red"]
    retriever = store.as_retriever(search_kwargs={"k": 3, "filter": {"c": "warm"}})
    assert [d.page_content for d in retriever.invoke("blue")] == ["red"]


def test_mmr_uses_langchain_lambda_semantics(table_store):
    least_diverse = table_store.max_marginal_relevance_search("query", k=2, lambda_mult=1.0)
    most_diverse = table_store.max_marginal_relevance_search("query", k=2, lambda_mult=0.0)
    assert [d.id for d in least_diverse] == ["best", "dup"]
    assert [d.id for d in most_diverse] == ["best", "diverse"]
    by_vector = table_store.max_marginal_relevance_search_by_vector(
        [1.0, 0.0, 0.0], k=2, lambda_mult=0.0
    )
    assert [d.id for d in by_vector] == ["best", "diverse"]
    retriever = table_store.as_retriever(
        search_type="mmr", search_kwargs={"k": 2, "fetch_k": 3, "lambda_mult": 0.0}
    )
    assert [d.id for d in retriever.invoke("query")] == ["best", "diverse"]


async def test_async_mmr_and_retrievers(table_store):
    docs = await table_store.amax_marginal_relevance_search("query", k=2, lambda_mult=1.0)
    assert [d.id for d in docs] == ["best", "dup"]
    docs = await table_store.amax_marginal_relevance_search_by_vector(
        [1.0, 0.0, 0.0], k=2, lambda_mult=0.0
    )
    assert [d.id for d in docs] == ["best", "diverse"]
    retriever = table_store.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.8, "k": 3}
    )
    assert [d.id for d in await retriever.ainvoke("query")] == ["best", "dup", "diverse"]
    assert [d.id for d in await table_store.asimilarity_search_by_vector([1.0, 0, 0], k=1)] == [
        "best"
    ]
    pairs = await table_store.asimilarity_search_with_score_by_vector([1.0, 0, 0], k=1)
    assert pairs[0][1] == pytest.approx(1.0)


def test_relevance_scores_are_in_zero_one_and_thresholds_work(table_store):
    table_store.add_texts(["opposite"], ids=["opp"])
    pairs = table_store.similarity_search_with_relevance_scores("query", k=4)
    assert [d.id for d, _ in pairs] == ["best", "dup", "diverse", "opp"]
    assert pairs[0][1] == pytest.approx(1.0)
    assert pairs[-1][1] == pytest.approx(0.0, abs=1e-6)
    assert all(0.0 <= score <= 1.0 for _, score in pairs)
    retriever = table_store.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.95}
    )
    assert [d.id for d in retriever.invoke("query")] == ["best", "dup"]


@pytest.mark.parametrize("distance", ["cosine", "dot", "euclid", "manhattan"])
def test_relevance_is_monotonic_for_every_distance(where, distance):
    store = T5QdrantVectorStore(
        Table(NEAR_DUPLICATES), **where, collection_name=distance, distance=distance
    )
    store.add_texts(["best", "best again", "different", "opposite"])
    pairs = store.similarity_search_with_relevance_scores("query", k=4)
    assert [d.page_content for d, _ in pairs] == ["best", "best again", "different", "opposite"]
    scores = [score for _, score in pairs]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(1.0, abs=1e-6)
    assert all(0.0 <= score <= 1.0 for score in scores)


def test_unknown_search_arguments_are_rejected(table_store):
    with pytest.raises(InvalidInputError, match=r"unexpected search argument\(s\) \['fliter'\]"):
        table_store.similarity_search("query", fliter={"a": 1})
    with pytest.raises(InvalidInputError, match="unexpected argument"):
        table_store.delete(["x"], cascade=True)


def test_raw_score_threshold_and_search_params(table_store):
    pairs = table_store.similarity_search_with_score("query", k=3, score_threshold=0.95)
    assert [d.id for d, _ in pairs] == ["best", "dup"]


def test_delete_and_get(table_store):
    assert table_store.delete(["dup", "missing"]) is True
    assert [d.id for d in table_store.get_by_ids(["best", "dup", "diverse"])] == ["best", "diverse"]
    assert table_store.delete() is True
    assert table_store.similarity_search("query") == []


def test_from_texts_from_documents_and_existing_collection(tiny_encoder, tmp_path):
    path = tmp_path / "db"
    store = T5QdrantVectorStore.from_texts(
        ["alpha", "beta"],
        tiny_encoder,
        [{"n": 1}, {"n": 2}],
        ids=["a", "b"],
        path=path,
        collection_name="docs",
    )
    assert isinstance(store.embeddings, T5Embeddings)  # a T5Encoder is wrapped for LangChain
    assert store.embeddings.encoder is tiny_encoder
    store.index.close()
    store = T5QdrantVectorStore.from_documents(
        [Document(page_content="gamma", id="c")],
        T5Embeddings(encoder=tiny_encoder),
        path=path,
        collection_name="docs",
    )
    store.index.close()
    reopened = T5QdrantVectorStore.from_existing_collection(
        "docs", T5Embeddings(encoder=tiny_encoder), path=path
    )
    assert [d.id for d in reopened.get_by_ids(["a", "b", "c"])] == ["a", "b", "c"]
    with pytest.raises(CollectionConfigError, match="does not exist"):
        T5QdrantVectorStore.from_existing_collection(
            "nope", T5Embeddings(encoder=tiny_encoder), storage=reopened.index.connection
        )
    with pytest.raises(CollectionConfigError, match="vectors of size 6"):
        T5QdrantVectorStore.from_existing_collection(
            "docs", DeterministicFakeEmbedding(size=6), storage=reopened.index.connection
        )
    reopened.index.close()


async def test_afrom_texts_and_afrom_documents(tiny_encoder):
    from qdrant_client import AsyncQdrantClient

    client = AsyncQdrantClient(":memory:")
    store = await T5QdrantVectorStore.afrom_texts(
        ["alpha"], T5Embeddings(encoder=tiny_encoder), ids=["a"], async_client=client
    )
    assert [d.id for d in await store.aget_by_ids(["a"])] == ["a"]
    store = await T5QdrantVectorStore.afrom_documents(
        [Document(page_content="beta", id="b")],
        T5Embeddings(encoder=tiny_encoder),
        async_client=client,
    )
    assert next(d.page_content for d in await store.asimilarity_search("beta", k=2)) == "beta"
    await client.close()


def test_built_over_an_index(tiny_encoder, where):
    index = QdrantIndex(tiny_encoder, **where, collection_name="over-index")
    store = T5QdrantVectorStore(index=index)
    assert store.index is index
    assert store.collection_name == "over-index"
    assert "over-index" in repr(store)
    with pytest.raises(InvalidInputError, match="either index"):
        T5QdrantVectorStore(tiny_encoder, index=index)
    with pytest.raises(InvalidInputError, match="embedding: expected"):
        T5QdrantVectorStore(client=client)
    with pytest.raises(InvalidInputError, match="index: expected a QdrantIndex"):
        T5QdrantVectorStore(index=object())  # type: ignore[arg-type]


def test_retriever_tags_name_the_store_and_embeddings(store):
    retriever = store.as_retriever()
    assert retriever.tags == ["T5QdrantVectorStore", "T5Embeddings"]


async def test_every_async_method_is_native_over_an_async_client(tiny_encoder, monkeypatch):
    from qdrant_client import AsyncQdrantClient

    loop = asyncio.get_running_loop()

    def refuse(*args, **kwargs):
        raise AssertionError("a thread was used")

    monkeypatch.setattr(loop, "run_in_executor", refuse)
    monkeypatch.setattr("asyncio.to_thread", refuse)
    client = AsyncQdrantClient(":memory:")
    store = T5QdrantVectorStore(
        T5Embeddings(encoder=tiny_encoder), async_client=client, collection_name="native"
    )
    ids = await store.aadd_documents(
        [Document(page_content="alpha", metadata={"k": 1}), Document(page_content="beta")]
    )
    assert await store.aadd_texts(["gamma"], ids=["g"]) == ["g"]
    assert [d.id for d in await store.aget_by_ids(["g", *ids])] == ["g", *ids]
    assert (await store.asimilarity_search("alpha", k=1))[0].page_content == "alpha"
    assert len(await store.asimilarity_search_with_score("alpha", k=2)) == 2
    assert len(await store.asimilarity_search_with_relevance_scores("alpha", k=3)) == 3
    assert len(await store.amax_marginal_relevance_search("alpha", k=2, fetch_k=3)) == 2
    retriever = store.as_retriever(search_type="mmr", search_kwargs={"k": 1})
    assert len(await retriever.ainvoke("beta")) == 1
    assert await store.adelete(["g"]) is True
    assert await store.index.acount() == 2
    await client.close()
