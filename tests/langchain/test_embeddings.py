"""T5Embeddings: langchain-tests standard suites, plus the behaviour specific to it."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from t5_vectors import InvalidInputError, T5Embeddings
from tests.checkpoints import shared_st5_checkpoint


class _Params:
    @property
    def embeddings_class(self) -> type[T5Embeddings]:
        return T5Embeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model_name": str(shared_st5_checkpoint()), "device": "cpu", "dtype": "float32"}


class TestT5EmbeddingsUnit(_Params, EmbeddingsUnitTests):
    pass


class TestT5EmbeddingsIntegration(_Params, EmbeddingsIntegrationTests):
    pass


@pytest.fixture
def embeddings(tiny_encoder) -> T5Embeddings:
    return T5Embeddings(encoder=tiny_encoder)


def test_shares_the_encoder_instance(tiny_encoder):
    a = T5Embeddings(encoder=tiny_encoder)
    b = T5Embeddings(encoder=tiny_encoder)
    assert a.encoder is b.encoder is tiny_encoder
    assert a.dim == tiny_encoder.dim


def test_returns_python_floats_equal_to_the_encoder(embeddings, tiny_encoder):
    docs = embeddings.embed_documents(["alpha", "beta gamma"])
    assert all(type(x) is float for row in docs for x in row)
    np.testing.assert_array_equal(
        np.asarray(docs, dtype=np.float32), tiny_encoder.encode(["alpha", "beta gamma"])
    )
    query = embeddings.embed_query("alpha")
    np.testing.assert_array_equal(
        np.asarray(query, dtype=np.float32), tiny_encoder.encode(["alpha"], kind="query")[0]
    )


def test_queries_and_documents_use_their_prefixes(st5_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(st5_path))
    emb = T5Embeddings(
        st5_path,
        device="cpu",
        dtype="float32",
        query_prefix="query: ",
        document_prefix="passage: ",
    )
    try:
        assert emb.encoder.tokenize(["x"], kind="query")[0] == tokenizer("query: x")["input_ids"]
        assert emb.encoder.tokenize(["x"])[0] == tokenizer("passage: x")["input_ids"]
        q = np.asarray(emb.embed_query("x"), dtype=np.float32)
        d = np.asarray(emb.embed_documents(["x"])[0], dtype=np.float32)
        assert not np.allclose(q, d, atol=1e-4)
    finally:
        emb.encoder.close()


async def test_native_async_is_coalesced_without_threads(embeddings, tiny_encoder):
    import threading

    threads_before = threading.active_count()
    before = tiny_encoder._batcher.batches_run
    queries = [f"question number {i}" for i in range(40)]
    out = await asyncio.gather(*(embeddings.aembed_query(q) for q in queries))
    passes = tiny_encoder._batcher.batches_run - before
    assert threading.active_count() <= threads_before  # no executor thread per call
    assert passes < 20
    expected = tiny_encoder.encode(queries, kind="query")
    np.testing.assert_allclose(np.asarray(out, dtype=np.float32), expected, atol=1e-5)
    docs = await embeddings.aembed_documents(queries[:3])
    np.testing.assert_allclose(
        np.asarray(docs, dtype=np.float32), tiny_encoder.encode(queries[:3]), atol=1e-5
    )


def test_bad_inputs(embeddings, tiny_encoder):
    with pytest.raises(InvalidInputError, match="single str"):
        embeddings.embed_documents("not a list")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="expected one str"):
        embeddings.embed_query(["a list"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="either encoder"):
        T5Embeddings("some/model", encoder=tiny_encoder)
    with pytest.raises(InvalidInputError, match="T5Encoder"):
        T5Embeddings(encoder=object())  # type: ignore[arg-type]
