"""Token multivectors (MaxSim) in Qdrant: brute-force parity, datatypes, rerank, layout checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from t5_vectors import QdrantIndex
from t5_vectors.errors import CollectionConfigError, InvalidInputError
from t5_vectors.plan.vectors import TokenVectors
from t5_vectors.testing import SAMPLE_SENTENCES

CORPUS = list(SAMPLE_SENTENCES)
QUERY = "how are token vectors compared?"


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _maxsim(query: np.ndarray, documents: list[np.ndarray]) -> np.ndarray:
    return np.array([(query @ doc.T).max(axis=1).sum() for doc in documents])


def _brute_force(encoder: Any, dtype: type = np.float64) -> dict[str, float]:
    """MaxSim of QUERY against CORPUS, from the encoder's own token vectors."""
    query = _unit(encoder.encode_tokens([QUERY], kind="query")[0]).astype(dtype)
    documents = [_unit(rows).astype(dtype) for rows in encoder.encode_tokens(CORPUS)]
    scores = _maxsim(query.astype(np.float64), [d.astype(np.float64) for d in documents])
    return dict(zip(CORPUS, scores.tolist(), strict=True))


def _ranked(pairs: list[tuple[Any, float]]) -> list[tuple[str, float]]:
    return [(doc.page_content, score) for doc, score in pairs]


def test_maxsim_ranking_equals_numpy_brute_force(
    make_index: Callable[..., QdrantIndex], tiny_encoder: Any
) -> None:
    index = make_index(token_vectors=True)
    index.ingest(CORPUS)
    expected = _brute_force(tiny_encoder)
    found = _ranked(index.search(QUERY, k=len(CORPUS), mode="maxsim"))
    assert [text for text, _ in found] == sorted(expected, key=lambda t: -expected[t])
    for text, score in found:
        assert score == pytest.approx(expected[text], rel=1e-5)


def test_float16_tokens_score_within_rounding_and_exactly_on_rounded_values(
    make_index: Callable[..., QdrantIndex], tiny_encoder: Any
) -> None:
    index = make_index(token_vectors=TokenVectors(datatype="float16"))
    index.ingest(CORPUS)
    found = dict(_ranked(index.search(QUERY, k=len(CORPUS), mode="maxsim")))
    exact = _brute_force(tiny_encoder)
    rounded = _brute_force(tiny_encoder, np.float16)
    for text, score in found.items():
        assert score == pytest.approx(rounded[text], rel=1e-5)
        assert score == pytest.approx(exact[text], abs=1e-2)
    stored, _ = index.backend.scroll(index.collection_name, limit=1, with_vectors=True)
    rows = np.asarray(stored[0].vectors["tokens"], dtype=np.float32)  # type: ignore[index]
    assert np.array_equal(rows, rows.astype(np.float16).astype(np.float32))


def test_rerank_reorders_the_dense_candidates_by_maxsim(
    make_index: Callable[..., QdrantIndex], tiny_encoder: Any
) -> None:
    index = make_index(token_vectors=True)
    index.ingest(CORPUS)
    candidates = {doc.page_content for doc, _ in index.search(QUERY, k=5)}
    expected = _brute_force(tiny_encoder)
    found = _ranked(index.search(QUERY, k=3, mode="rerank", dense_limit=5))
    best = sorted(candidates, key=lambda t: -expected[t])[:3]
    assert [text for text, _ in found] == best
    assert [score for _, score in found] == pytest.approx([expected[t] for t in best], rel=1e-5)


async def test_async_maxsim_and_rerank_match_sync(make_index: Callable[..., QdrantIndex]) -> None:
    index = make_index(token_vectors=True)
    await index.aingest(CORPUS)
    for mode in ("maxsim", "rerank"):
        sync = _ranked(index.search(QUERY, k=4, mode=mode))
        assert _ranked(await index.asearch(QUERY, k=4, mode=mode)) == sync


def test_one_forward_pass_per_batch_gives_pooled_and_token_vectors(
    make_index: Callable[..., QdrantIndex], tiny_encoder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = make_index(token_vectors=True)  # creating the collection may probe the model
    calls: list[str] = []
    original = tiny_encoder.encode_with_tokens

    def spy(texts: Any, **kwargs: Any) -> Any:
        calls.append("both")
        return original(texts, **kwargs)

    monkeypatch.setattr(tiny_encoder, "encode_with_tokens", spy)
    monkeypatch.setattr(tiny_encoder, "encode", lambda *a, **k: pytest.fail("second pass"))
    monkeypatch.setattr(tiny_encoder, "encode_tokens", lambda *a, **k: pytest.fail("second pass"))
    index.ingest(CORPUS, batch_size=8)
    assert calls == ["both", "both"]


def test_pooled_vectors_from_the_shared_pass_equal_encode(tiny_encoder: Any) -> None:
    pooled, tokens = tiny_encoder.encode_with_tokens(CORPUS[:3])
    np.testing.assert_allclose(pooled, tiny_encoder.encode(CORPUS[:3]), rtol=1e-5, atol=1e-6)
    for rows, alone in zip(tokens, tiny_encoder.encode_tokens(CORPUS[:3]), strict=True):
        np.testing.assert_allclose(rows, alone, rtol=1e-5, atol=1e-6)
    assert [len(rows) for rows in tokens] == [len(ids) for ids in tiny_encoder.tokenize(CORPUS[:3])]


def test_chunks_stored_without_token_vectors_are_rewritten_once(
    make_index: Callable[..., QdrantIndex],
) -> None:
    rich = make_index(token_vectors=True)
    plain = make_index(collection_name=rich.collection_name)
    assert plain.ingest(CORPUS).written == len(CORPUS)  # stored without token vectors
    assert rich.search(QUERY, k=3, mode="maxsim") == []
    assert rich.ingest(CORPUS).written == len(CORPUS)
    assert rich.ingest(CORPUS).written == 0
    assert len(rich.search(QUERY, k=3, mode="maxsim")) == 3
    assert plain.fingerprint == plain.embedder.fingerprint  # dense-only hashes are unchanged


def test_storage_reports_bytes_per_chunk(
    make_index: Callable[..., QdrantIndex], tiny_encoder: Any
) -> None:
    lengths = [len(rows) for rows in tiny_encoder.tokenize(CORPUS)]
    mean = sum(lengths) / len(lengths)
    for datatype, width in (("float32", 4), ("float16", 2)):
        index = make_index(token_vectors=TokenVectors(datatype=datatype, quantization="scalar"))
        index.ingest(CORPUS)
        report = index.storage()
        assert report.points == len(CORPUS)
        assert report.token_count == pytest.approx(mean)
        assert report.token_bytes == pytest.approx(mean * tiny_encoder.d_model * width)
        assert report.token_quantized_bytes == pytest.approx(mean * tiny_encoder.d_model)
        assert report.dense_bytes == tiny_encoder.dim * 4
        assert report.sparse_bytes == 0


def test_existing_collection_without_matching_multivector_is_refused(
    make_index: Callable[..., QdrantIndex], client: QdrantClient, tiny_encoder: Any
) -> None:
    plain = make_index()
    with pytest.raises(CollectionConfigError, match="token multivector 'tokens'"):
        make_index(collection_name=plain.collection_name, token_vectors=True)
    half = make_index(token_vectors=TokenVectors(datatype="float16"))
    with pytest.raises(CollectionConfigError, match=r"TokenVectors\(datatype='float16'\)"):
        make_index(collection_name=half.collection_name, token_vectors=True)
    client.create_collection(
        "wrong_size",
        vectors_config={
            "": models.VectorParams(size=tiny_encoder.dim, distance=models.Distance.COSINE),
            "tokens": models.VectorParams(
                size=8,
                distance=models.Distance.DOT,
                multivector_config=models.MultiVectorConfig(
                    comparator=models.MultiVectorComparator.MAX_SIM
                ),
            ),
        },
    )
    with pytest.raises(CollectionConfigError, match="size 8"):
        make_index(collection_name="wrong_size", token_vectors=True)
    assert make_index(collection_name=half.collection_name).count() == 0  # dense-only reads it


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (lambda: {"token_vectors": TokenVectors(datatype="uint8")}, "casts query values to u8"),
        (lambda: {"token_vectors": "yes"}, "expected True, False or a TokenVectors"),
        (lambda: {"token_vectors": TokenVectors(name="a b")}, "without spaces"),
        (
            lambda: {"token_vectors": TokenVectors(name="x"), "vector_name": "x"},
            "a name of its own",
        ),
    ],
)
def test_bad_token_options_are_refused(
    make_index: Callable[..., QdrantIndex], options: Callable[[], dict[str, Any]], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        make_index(**options())


def test_modes_needing_token_vectors_are_refused_without_them(
    make_index: Callable[..., QdrantIndex], vector_table: Any
) -> None:
    index = make_index()
    with pytest.raises(InvalidInputError, match="token_vectors=True"):
        index.search(QUERY, mode="maxsim")
    rich = make_index(token_vectors=True)
    with pytest.raises(InvalidInputError, match="expected a query text"):
        rich.search([0.0] * rich.dim, mode="rerank")
    with pytest.raises(InvalidInputError, match="expected a T5Encoder"):
        make_index(vector_table({"a": [1.0, 0.0]}), token_vectors=True)
