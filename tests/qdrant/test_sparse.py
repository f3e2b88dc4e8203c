"""Sparse vectors from T5 tokenizer pieces: BM25 weights, Qdrant's IDF, and layout checks."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from qdrant_client import QdrantClient, models

from t5_vectors import QdrantIndex
from t5_vectors.encoder.sparse import SparseConfig, SparseEncoder
from t5_vectors.errors import CollectionConfigError, InvalidInputError
from t5_vectors.plan.vectors import SparseVectors
from t5_vectors.testing import SAMPLE_SENTENCES

CORPUS = list(SAMPLE_SENTENCES)


def _kept(tokenizer: Any, text: str) -> list[int]:
    """Piece ids of *text*, lower-cased, without special tokens and the lone word boundary."""
    pieces = tokenizer.convert_ids_to_tokens(tokenizer(text.lower())["input_ids"])
    return [
        tokenizer.convert_tokens_to_ids(piece)
        for piece in pieces
        if piece not in tokenizer.all_special_tokens and piece != "\u2581"
    ]


def test_document_weights_follow_bm25(tiny_encoder: Any) -> None:
    config = SparseConfig(k1=1.5, b=0.5, avg_length=10)
    encoder = SparseEncoder(tiny_encoder.tokenizer, config)
    text = "Vector vector VECTOR databases store vectors."
    (terms,) = encoder.documents([text])
    kept = _kept(tiny_encoder.tokenizer, text)
    counts = Counter(kept)
    norm = 1.5 * (1 - 0.5 + 0.5 * len(kept) / 10)
    assert terms.indices == sorted(counts)
    assert terms.values == pytest.approx(
        [tf * 2.5 / (tf + norm) for _, tf in sorted(counts.items())]
    )
    assert max(counts.values()) >= 3  # repeated pieces are counted, not just present
    special = set(tiny_encoder.tokenizer.all_special_ids)
    assert not special & set(terms.indices)


def test_query_weights_are_binary_and_case_folded(tiny_encoder: Any) -> None:
    encoder = SparseEncoder(tiny_encoder.tokenizer)
    (upper,), (lower,) = encoder.queries(["Vector VECTOR"]), encoder.queries(["vector vector"])
    assert upper == lower
    assert set(upper.values) == {1.0}
    assert len(set(upper.indices)) == len(upper.indices)
    (empty,) = encoder.documents([""])
    assert len(empty) == 0
    cased = SparseEncoder(tiny_encoder.tokenizer, SparseConfig(lowercase=False))
    assert cased.queries(["Vector"]) != cased.queries(["vector"])


def test_qdrant_sparse_scores_equal_bm25_by_hand(
    make_index: Callable[..., QdrantIndex], tiny_encoder: Any
) -> None:
    index = make_index(sparse_vectors=True)
    index.ingest(CORPUS)
    encoder = SparseEncoder(tiny_encoder.tokenizer)
    documents = dict(zip(CORPUS, encoder.documents(CORPUS), strict=True))
    query = "vectors and the tokens"
    (terms,) = encoder.queries([query])
    n = len(CORPUS)
    frequency = Counter(i for doc in documents.values() for i in doc.indices)
    expected = {}
    for text, doc in documents.items():
        weights = dict(zip(doc.indices, doc.values, strict=True))
        score = sum(
            math.log((n - frequency[t] + 0.5) / (frequency[t] + 0.5) + 1) * weights[t]
            for t in terms.indices
            if t in weights
        )
        if score > 0:
            expected[text] = score
    found = index.search(query, k=n, mode="sparse")
    assert {doc.page_content: score for doc, score in found} == pytest.approx(expected, rel=1e-5)
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)


async def test_async_sparse_matches_sync(make_index: Callable[..., QdrantIndex]) -> None:
    index = make_index(sparse_vectors=True)
    await index.aingest(CORPUS)
    sync = index.search("quick brown fox", k=3, mode="sparse")
    assert await index.asearch("quick brown fox", k=3, mode="sparse") == sync


def test_a_query_without_known_pieces_finds_nothing(make_index: Callable[..., QdrantIndex]) -> None:
    index = make_index(sparse_vectors=True)
    index.ingest(CORPUS)
    assert index.search("", k=3, mode="sparse") == []


def test_existing_collection_without_matching_sparse_vector_is_refused(
    make_index: Callable[..., QdrantIndex], client: QdrantClient, tiny_encoder: Any
) -> None:
    plain = make_index()
    with pytest.raises(CollectionConfigError, match="no sparse vectors"):
        make_index(collection_name=plain.collection_name, sparse_vectors=True)
    named = make_index(sparse_vectors=SparseVectors(name="bm25"))
    with pytest.raises(CollectionConfigError, match=r"SparseVectors\(name='bm25'\)"):
        make_index(collection_name=named.collection_name, sparse_vectors=True)
    client.create_collection(
        "no_idf",
        vectors_config=models.VectorParams(size=tiny_encoder.dim, distance=models.Distance.COSINE),
        sparse_vectors_config={"langchain-sparse": models.SparseVectorParams()},
    )
    with pytest.raises(CollectionConfigError, match="modifier none"):
        make_index(collection_name="no_idf", sparse_vectors=True)


def test_storage_counts_stored_pieces(
    make_index: Callable[..., QdrantIndex], tiny_encoder: Any
) -> None:
    index = make_index(sparse_vectors=True)
    index.ingest(CORPUS)
    nnz = [len(t) for t in SparseEncoder(tiny_encoder.tokenizer).documents(CORPUS)]
    report = index.storage()
    assert report.sparse_nnz == pytest.approx(sum(nnz) / len(nnz))
    assert report.sparse_bytes == pytest.approx(8 * report.sparse_nnz)
    assert report.token_bytes == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"k1": -1}, "k1: expected a number >= 0"),
        ({"b": 1.5}, r"b: expected a number in \[0, 1\]"),
        ({"avg_length": 0}, "avg_length: expected a positive number"),
        ({"lowercase": "yes"}, "lowercase: expected True or False"),
        ({"k1": float("nan")}, "k1: expected a finite number"),
    ],
)
def test_bad_weighting_is_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        SparseVectors(**options)


def test_sparse_modes_are_refused_without_sparse_vectors(
    make_index: Callable[..., QdrantIndex], vector_table: Any
) -> None:
    index = make_index()
    with pytest.raises(InvalidInputError, match="sparse_vectors=True"):
        index.search("a", mode="hybrid")
    with pytest.raises(InvalidInputError, match="mode: expected one of"):
        index.search("a", mode="bm25")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="expected a T5Encoder"):
        make_index(vector_table({"a": [1.0, 0.0]}), sparse_vectors=True)
