"""Hybrid dense + sparse search: the rare exact term, fusion against a reference, the store."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_qdrant import RetrievalMode

from t5_vectors import QdrantIndex, T5QdrantVectorStore
from t5_vectors.errors import InvalidInputError
from t5_vectors.testing import SAMPLE_SENTENCES

# A chunk about something else that shares one rare exact term with the query. With the random
# tiny model the dense vectors are arbitrary, and this one is not among the two nearest.
NEEDLE = (
    "The recipe needs flour, butter, sugar and eggs, baked for forty minutes until golden; "
    "batch code zqxj."
)
CORPUS = [*SAMPLE_SENTENCES, NEEDLE]
QUERY = "vector search with token pieces"


@pytest.fixture
def index(make_index: Callable[..., QdrantIndex]) -> QdrantIndex:
    index = make_index(sparse_vectors=True)
    index.ingest(CORPUS)
    return index


def _texts(pairs: list[tuple[Any, float]]) -> list[str]:
    return [doc.page_content for doc, _ in pairs]


def test_rare_exact_term_is_found_by_sparse_and_hybrid_not_dense(index: QdrantIndex) -> None:
    assert NEEDLE not in _texts(index.search("zqxj", k=2))
    assert _texts(index.search("zqxj", k=1, mode="sparse")) == [NEEDLE]
    assert _texts(index.search("zqxj", k=1, mode="hybrid")) == [NEEDLE]
    assert _texts(index.search("zqxj", k=1, mode="hybrid", fusion="dbsf")) == [NEEDLE]


def _lists(index: QdrantIndex, limit: int) -> tuple[list[tuple[str, float]], ...]:
    dense = index.search(QUERY, k=limit)
    sparse = index.search(QUERY, k=limit, mode="sparse")
    return tuple([(doc.page_content, score) for doc, score in pairs] for pairs in (dense, sparse))


@pytest.mark.parametrize("rrf_k", [None, 60])
def test_rrf_equals_the_reference_fusion(index: QdrantIndex, rrf_k: int | None) -> None:
    constant = 2 if rrf_k is None else rrf_k  # Qdrant's default k is 2
    expected: dict[str, float] = {}
    for ranked in _lists(index, 6):
        for rank, (text, _) in enumerate(ranked):
            expected[text] = expected.get(text, 0.0) + 1.0 / (constant + rank)
    found = index.search(
        QUERY, k=len(expected), mode="hybrid", dense_limit=6, sparse_limit=6, rrf_k=rrf_k
    )
    # Qdrant Edge returns float32 scores, qdrant-client's engine float64
    assert {doc.page_content: s for doc, s in found} == pytest.approx(expected, rel=1e-6)
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)


def test_dbsf_equals_the_reference_fusion(index: QdrantIndex) -> None:
    expected: dict[str, float] = {}
    for ranked in _lists(index, 5):
        scores = [score for _, score in ranked]
        mean, sd = statistics.fmean(scores), statistics.stdev(scores)  # sample sd, as Qdrant
        low, high = mean - 3 * sd, mean + 3 * sd
        for text, score in ranked:
            expected[text] = expected.get(text, 0.0) + (score - low) / (high - low)
    found = index.search(
        QUERY, k=len(expected), mode="hybrid", fusion="dbsf", dense_limit=5, sparse_limit=5
    )
    assert {doc.page_content: s for doc, s in found} == pytest.approx(expected, rel=1e-6)


def test_prefetch_limits_are_separate(index: QdrantIndex) -> None:
    dense, sparse = _lists(index, 3)
    found = _texts(index.search(QUERY, k=20, mode="hybrid", dense_limit=3, sparse_limit=1))
    assert set(found) == {text for text, _ in dense} | {sparse[0][0]}


def test_filters_apply_to_every_prefetch(make_index: Callable[..., QdrantIndex]) -> None:
    index = make_index(sparse_vectors=True)
    tagged = [
        Document(page_content=text, metadata={"tag": "kept" if i % 5 == 0 else "other"})
        for i, text in enumerate(CORPUS)
    ]
    index.add(tagged)
    kept = {doc.page_content for doc in tagged if doc.metadata["tag"] == "kept"}
    for limit in (1, 2):
        found = index.search(
            QUERY, k=10, mode="hybrid", filter={"tag": "kept"}, dense_limit=limit, sparse_limit=1
        )
        assert set(_texts(found)) <= kept
        assert len(found) >= limit  # each prefetch spent its limit on matching points


async def test_async_hybrid_matches_sync(index: QdrantIndex) -> None:
    for fusion in ("rrf", "dbsf"):
        sync = index.search(QUERY, k=4, mode="hybrid", fusion=fusion)
        assert await index.asearch(QUERY, k=4, mode="hybrid", fusion=fusion) == sync


def test_bad_fusion_options_are_refused(index: QdrantIndex) -> None:
    with pytest.raises(InvalidInputError, match="fusion: expected 'rrf' or 'dbsf'"):
        index.search(QUERY, mode="hybrid", fusion="max")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="rrf_k: expected only with fusion='rrf'"):
        index.search(QUERY, mode="hybrid", fusion="dbsf", rrf_k=60)
    with pytest.raises(InvalidInputError, match="dense_limit: expected a positive int"):
        index.search(QUERY, mode="hybrid", dense_limit=0)


def test_vector_store_retrieval_modes(tiny_encoder: Any, client: Any) -> None:
    store = T5QdrantVectorStore(
        tiny_encoder, collection_name="store_hybrid", client=client, retrieval_mode="hybrid"
    )
    store.add_texts(CORPUS)
    assert store.index.spec.sparse_vectors is not None
    assert store.similarity_search("zqxj", k=1)[0].page_content == NEEDLE
    assert NEEDLE not in [
        d.page_content for d in store.similarity_search("zqxj", k=2, mode="dense")
    ]
    with pytest.raises(InvalidInputError, match="retrieval_mode='dense'"):
        store.similarity_search_with_relevance_scores("zqxj", k=1)
    sparse = T5QdrantVectorStore(
        tiny_encoder,
        collection_name="store_hybrid",
        client=client,
        retrieval_mode=RetrievalMode.SPARSE,
    )
    assert sparse.retrieval_mode == "sparse"
    assert sparse.as_retriever(search_kwargs={"k": 1}).invoke("zqxj")[0].page_content == NEEDLE
    with pytest.raises(InvalidInputError, match="expected an index with token_vectors"):
        T5QdrantVectorStore(index=store.index, retrieval_mode="rerank")
    with pytest.raises(InvalidInputError, match="mode: expected one of"):
        T5QdrantVectorStore(tiny_encoder, client=client, retrieval_mode="bm25")  # type: ignore[arg-type]
