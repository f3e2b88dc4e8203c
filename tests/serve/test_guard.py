"""What stands in front of the routes: the key, the limits, admission (429), health, metrics."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.serve.conftest import Gate


def test_a_wrong_or_missing_key_gets_401_and_no_data(served):
    with httpx.Client(base_url=served.url, timeout=60) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": served.key}):
            for method, path, body in (
                ("POST", "/v1/embeddings", {"input": "secret"}),
                ("POST", "/search", {"query": "x"}),
                ("GET", "/collections/docs", None),
                ("GET", "/metrics", None),
            ):
                response = http.request(method, path, json=body, headers=headers)
                assert response.status_code == 401, (path, headers)
                assert response.headers["www-authenticate"] == "Bearer"
                assert set(response.json()) == {"error"}
                assert served.key not in response.text
        tei = http.post("/embed", json={"inputs": "x"})
        assert tei.status_code == 401
        assert set(tei.json()) == {"error", "error_type"}  # TEI's shape on TEI's route
        assert http.get("/health").status_code == 200  # probes need no key
        assert http.get("/openapi.json").status_code == 200


def test_health_and_metrics(served):
    with served.client() as http:
        health = http.get("/health")
        assert health.json() == {"status": "ready", "model": "tiny-t5", "collection": "docs"}
        assert http.post("/v1/embeddings", json={"input": ["a", "b"]}).status_code == 200
        text = http.get("/metrics")
        assert text.headers["content-type"].startswith("text/plain; version=0.0.4")
        lines = text.text.splitlines()
    assert any(
        line.startswith('t5_vectors_http_requests_total{route="/v1/embeddings",method="POST",'
                        'status="200"}')
        for line in lines
    )  # fmt: skip
    assert any(
        line.startswith('t5_vectors_http_request_duration_seconds_bucket{route="/v1/embeddings"')
        for line in lines
    )
    values = dict(line.rsplit(" ", 1) for line in lines if not line.startswith("#"))
    assert float(values["t5_vectors_encoder_forward_passes_total"]) >= 1
    assert float(values["t5_vectors_encoder_texts_total"]) >= 2
    assert values["t5_vectors_admission_limit"] == "64"


@pytest.fixture(scope="module")
def small(start_server):
    """A server admitting two requests at once, with small request limits and no key."""
    return start_server(
        collection="small", api_key=None, max_concurrent=2, max_texts=3, max_chars=40,
        max_body_bytes=2000,
    )  # fmt: skip


def test_overload_gets_429_with_retry_after_and_admitted_requests_complete(small, monkeypatch):
    gate = Gate()
    index = small.service.index
    monkeypatch.setattr(index, "asearch_with_hints", gate.wrap(index.asearch_with_hints))
    results: list[httpx.Response] = []

    def search() -> None:
        with small.client() as http:
            results.append(http.post("/search", json={"query": "held", "k": 1}))

    held = [threading.Thread(target=search) for _ in range(2)]
    for thread in held:
        thread.start()
    gate.wait_entered(2)  # both slots are taken, by requests held at the gate
    with small.client() as http:
        refused = http.post("/v1/embeddings", json={"input": "one more"})
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert int(refused.headers["retry-after-ms"]) >= 1
        error = refused.json()["error"]
        assert error["type"] == "rate_limit_error"
        assert "--max-concurrent" in error["message"]
        tei = http.post("/embed", json={"inputs": "one more"})
        assert tei.status_code == 429
        assert tei.json()["error_type"] == "Overloaded"
        assert http.get("/health").status_code == 200  # not admitted: never refused
        gate.release.set()
        for thread in held:
            thread.join(timeout=60)
        assert [r.status_code for r in results] == [200, 200]
        assert http.post("/v1/embeddings", json={"input": "now"}).status_code == 200
        metrics = http.get("/metrics").text
    assert "t5_vectors_admission_rejected_total 2" in metrics.splitlines()


def test_request_limits_are_413_and_422_in_the_api_words(small):
    with small.client() as http:
        many = http.post("/v1/embeddings", json={"input": ["a", "b", "c", "d"]})
        assert many.status_code == 413
        assert many.json()["error"]["message"].startswith(
            "input: expected at most 3 items in one request (the server's --max-texts), found 4"
        )
        long = http.post("/v1/embeddings", json={"input": ["ok", "x" * 41]})
        assert long.status_code == 413
        assert long.json()["error"]["param"] == "input[1]"
        big = http.post("/v1/embeddings", json={"input": "y" * 3000})
        assert big.status_code == 413
        assert big.json()["error"]["param"] == "body"
        assert "--max-body-bytes" in big.json()["error"]["message"]
        streamed = http.post(
            "/embed",
            content=iter([b'{"inputs": "', b"z" * 2500, b'"}']),  # chunked: no Content-Length
            headers={"content-type": "application/json"},
        )
        assert streamed.status_code == 413
        assert streamed.json()["error_type"] == "Validation"
        empty = http.post("/v1/embeddings", json={"input": []})
        assert empty.status_code == 422
        assert empty.json()["error"]["message"] == (
            "input: expected at least one text, found an empty list."
        )
        broken = http.post(
            "/v1/embeddings", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert broken.status_code == 422
        assert broken.json()["error"]["message"].startswith("body: expected a JSON object")
        query = http.post("/search", json={"query": "q" * 41})
        assert query.status_code == 413
        assert query.json()["error"]["param"] == "query"


def test_read_only_refuses_writes_with_403(start_server):
    server = start_server(collection="readonly", read_only=True)
    with server.client() as http:
        write = http.post("/documents", json={"documents": [{"page_content": "x"}]})
        assert write.status_code == 403
        assert "--read-only" in write.json()["error"]["message"]
        delete = http.request("DELETE", "/documents", json={"ids": ["x"]})
        assert delete.status_code == 403
        assert http.post("/search", json={"query": "x"}).status_code == 200
