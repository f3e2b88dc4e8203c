"""The embeddings endpoints through the clients people have: openai, LangChain, TEI's."""

from __future__ import annotations

import numpy as np
import pytest

openai = pytest.importorskip("openai")
langchain_openai = pytest.importorskip("langchain_openai")

TEXTS = ["Ferns like shade and damp soil.", "Cacti store water in their stems.", ""]


def _close(a, b) -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=np.float32), b, rtol=1e-5, atol=1e-6)


def test_openai_client_base64_by_default_and_float(served, encoder):
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key=served.key, max_retries=0)
    expected = encoder.encode(TEXTS)
    response = client.embeddings.create(input=TEXTS, model="text-embedding-3-small")
    assert [item.index for item in response.data] == [0, 1, 2]
    assert all(item.object == "embedding" for item in response.data)
    _close([item.embedding for item in response.data], expected)  # decoded from base64
    assert response.model == "tiny-t5"
    assert response.usage.prompt_tokens == sum(encoder.count_tokens(TEXTS))
    assert response.usage.total_tokens == response.usage.prompt_tokens
    floats = client.embeddings.create(input=TEXTS[0], model="any", encoding_format="float")
    assert len(floats.data) == 1
    _close(floats.data[0].embedding, expected[0])


def test_openai_client_asks_for_the_query_prefix_with_input_type(served, encoder):
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key=served.key, max_retries=0)
    query = encoder.encode([TEXTS[0]], kind="query")[0]
    document = encoder.encode([TEXTS[0]])[0]
    assert not np.allclose(query, document, atol=1e-3)  # the checkpoint's prompts differ
    got = client.embeddings.create(
        input=[TEXTS[0]], model="any", extra_body={"input_type": "query"}
    )
    _close(got.data[0].embedding, query)


def test_openai_client_token_ids_and_dimensions_are_refused_in_its_words(served):
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key=served.key, max_retries=0)
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        client.embeddings.create(input=[[101, 2023, 102]], model="any")
    error = refused.value.body
    assert error["param"] == "input"
    assert "token ids" in error["message"]
    assert "check_embedding_ctx_length=False" in error["message"]
    with pytest.raises(openai.UnprocessableEntityError, match="dimensions"):
        client.embeddings.create(input="a", model="any", dimensions=8)


def test_langchain_openai_embeddings_work_as_they_are(served, encoder):
    embeddings = langchain_openai.OpenAIEmbeddings(
        model="t5",
        base_url=f"{served.url}/v1",
        api_key=served.key,
        check_embedding_ctx_length=False,
        max_retries=0,
    )
    _close(embeddings.embed_documents(TEXTS[:2]), encoder.encode(TEXTS[:2]))
    _close(embeddings.embed_query(TEXTS[1]), encoder.encode([TEXTS[1]])[0])
    queries = langchain_openai.OpenAIEmbeddings(
        model="t5",
        base_url=f"{served.url}/v1",
        api_key=served.key,
        check_embedding_ctx_length=False,
        max_retries=0,
        model_kwargs={"extra_body": {"input_type": "query"}},
    )
    _close(queries.embed_query(TEXTS[1]), encoder.encode([TEXTS[1]], kind="query")[0])


async def test_langchain_openai_embeddings_async(served, encoder):
    embeddings = langchain_openai.OpenAIEmbeddings(
        model="t5", base_url=f"{served.url}/v1", api_key=served.key,
        check_embedding_ctx_length=False, max_retries=0,
    )  # fmt: skip
    _close(await embeddings.aembed_documents(TEXTS[:2]), encoder.encode(TEXTS[:2]))


def test_huggingface_inference_client_against_post_root(served, encoder, monkeypatch):
    """huggingface_hub's InferenceClient (what HuggingFaceEndpointEmbeddings calls) posts to /."""
    from huggingface_hub import InferenceClient, constants

    # The suite sets HF_HUB_OFFLINE=1 so nothing reaches the hub; this client only calls the
    # loopback server, which offline mode would refuse too.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    client = InferenceClient(model=served.url, token=served.key)
    vectors = client.feature_extraction(TEXTS[0])
    _close(vectors, encoder.encode([TEXTS[0]]))
    queries = client.feature_extraction(TEXTS[0], prompt_name="query")
    _close(queries, encoder.encode([TEXTS[0]], kind="query"))


def test_tei_embed_normalizes_truncates_and_refuses_in_tei_words(served, encoder):
    with served.client() as http:
        response = http.post("/embed", json={"inputs": TEXTS[:2], "normalize": True})
        assert response.status_code == 200
        _close(response.json(), encoder.encode(TEXTS[:2]))
        long = "fern " * (encoder.max_length * 2)
        refused = http.post("/embed", json={"inputs": ["short", long]})
        assert refused.status_code == 413
        body = refused.json()
        assert body["error_type"] == "Validation"
        assert body["error"].startswith("inputs[1]: expected at most")
        assert '"truncate": true' in body["error"]
        cut = http.post("/embed", json={"inputs": long, "truncate": True})
        assert cut.status_code == 200
        assert len(cut.json()[0]) == encoder.dim
        left = http.post("/embed", json={"inputs": "a", "truncation_direction": "Left"})
        assert left.status_code == 422
        assert left.json()["error"].startswith("truncation_direction:")
        wrong = http.post("/embed", json={"inputs": 3})
        assert wrong.status_code == 422
        assert wrong.json() == {
            "error": "inputs: expected a text or a list of texts, found int.",
            "error_type": "Validation",
        }
