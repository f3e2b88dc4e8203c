"""Search and writes over HTTP: /search, /documents, /collections/{name}."""

from __future__ import annotations

import threading

import pytest

NOTES = [
    {
        "id": "fern",
        "page_content": "Ferns like shade and damp soil.",
        "metadata": {"source": "a.md", "n": 1},
    },
    {
        "id": 7,
        "page_content": "Cacti store water in their stems.",
        "metadata": {"source": "b.md", "n": 2},
    },
    {"page_content": "Orchids grow on bark.", "metadata": {"source": "c.md", "n": 3}},
]


@pytest.fixture(scope="module")
def notes(start_server):
    server = start_server(collection="notes")
    with server.client() as http:
        response = http.post("/documents", json={"documents": NOTES})
        assert response.status_code == 200, response.text
    return server, response.json()["ids"]


def test_documents_are_stored_with_their_ids_and_found(notes, encoder):
    server, ids = notes
    assert ids[:2] == ["fern", "7"]
    with server.client() as http:
        hits = http.post("/search", json={"query": "Ferns like shade and damp soil.", "k": 3})
        assert hits.status_code == 200, hits.text
        body = hits.json()
        assert body["collection"] == "notes"
        assert body["mode"] == "dense"
        first = body["results"][0]
        assert first["id"] == "fern"
        assert first["page_content"] == NOTES[0]["page_content"]
        assert first["metadata"] == NOTES[0]["metadata"]
        query = encoder.encode([NOTES[0]["page_content"]], kind="query")[0]
        document = encoder.encode([NOTES[0]["page_content"]])[0]
        assert first["score"] == pytest.approx(float(query @ document), abs=1e-4)
        assert len(body["results"]) == 3
        again = http.post("/documents", json={"documents": NOTES})  # idempotent: same ids
        assert again.json()["ids"] == ids
        info = http.get("/collections/notes", params={"sample": 3})
        assert info.status_code == 200
        assert info.json()["points"] == 3


def test_filters_in_the_command_line_form_and_as_json(notes):
    server, _ = notes
    with server.client() as http:
        for where in (["source=b.md"], "source=b.md", {"source": "b.md"}, {"n": [2]}):
            found = http.post("/search", json={"query": "water", "k": 3, "filter": where})
            assert found.status_code == 200, found.text
            assert [hit["id"] for hit in found.json()["results"]] == ["7"], where
        bad = http.post("/search", json={"query": "water", "filter": ["source"]})
        assert bad.status_code == 422
        assert bad.json()["error"]["message"].startswith("filter: expected KEY=VALUE")
        assert bad.json()["error"]["param"] == "filter"


def test_sources_come_in_pages(notes):
    server, _ = notes
    row = {"chunks": 1, "stored": None}
    with server.client() as http:
        whole = http.get("/sources").json()
        assert whole["sources"] == [{"source": s, **row} for s in ("a.md", "b.md", "c.md")]
        assert (whole["total"], whole["next_offset"]) == (3, None)
        first = http.get("/sources", params={"limit": 2}).json()
        assert [s["source"] for s in first["sources"]] == ["a.md", "b.md"]
        assert (first["total"], first["next_offset"]) == (3, 2)
        rest = http.get("/sources", params={"limit": 2, "offset": first["next_offset"]}).json()
        assert [s["source"] for s in rest["sources"]] == ["c.md"]
        assert rest["next_offset"] is None
        past = http.get("/sources", params={"offset": 5}).json()
        assert (past["sources"], past["total"], past["next_offset"]) == ([], 3, None)
        for param, value in (("limit", 0), ("offset", -1)):
            refused = http.get("/sources", params={param: value})
            assert refused.status_code == 422, refused.text
            error = refused.json()["error"]
            assert (error["param"], error["message"].split(":")[0]) == (param, param), error


def test_search_refusals_name_the_field(notes):
    server, _ = notes
    with server.client() as http:
        cases = {
            "k": {"query": "x", "k": 0},
            "top_k": {"query": "x", "top_k": 3},
            "mode": {"query": "x", "mode": "fuzzy"},
            "fusion": {"query": "x", "fusion": "rrf"},
            "prefetch": {"query": "x", "prefetch": 10},
            "query": {"k": 3},
        }
        for param, body in cases.items():
            refused = http.post("/search", json=body)
            assert refused.status_code == 422, (param, refused.text)
            error = refused.json()["error"]
            assert error["param"] == param, error
            assert error["message"].startswith(f"{param}:"), error
        sparse = http.post("/search", json={"query": "x", "mode": "sparse"})
        assert sparse.status_code == 422  # the collection stores no sparse vectors
        assert "sparse" in sparse.json()["error"]["message"]
        other = http.get("/collections/elsewhere")
        assert other.status_code == 404
        assert "'notes'" in other.json()["error"]["message"]
        missing = http.get("/nowhere")
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "not_found_error"


def test_delete_by_ids_and_by_filter(start_server):
    server = start_server(collection="deletions")
    with server.client() as http:
        assert http.post("/documents", json={"documents": NOTES}).status_code == 200
        gone = http.request("DELETE", "/documents", json={"ids": ["fern", "nothing"]})
        assert gone.status_code == 200, gone.text
        assert gone.json() == {"deleted": 1}
        by_filter = http.request("DELETE", "/documents", json={"filter": {"source": "b.md"}})
        assert by_filter.json() == {"deleted": 1}
        left = http.post("/search", json={"query": "plants", "k": 5}).json()["results"]
        assert [hit["metadata"]["source"] for hit in left] == ["c.md"]
        for body in ({}, {"ids": ["x"], "filter": {"n": 1}}, {"filter": {}}, {"ids": []}):
            refused = http.request("DELETE", "/documents", json=body)
            assert refused.status_code == 422, body
        conflict = [{"id": "x", "page_content": "one"}, {"id": "x", "page_content": "two"}]
        refused = http.post("/documents", json={"documents": conflict})
        assert refused.status_code == 422, refused.text
        surrogate = b'{"documents": [{"page_content": "x", "metadata": {"a": "\\ud800"}}]}'
        refused = http.post(
            "/documents", content=surrogate, headers={"content-type": "application/json"}
        )
        assert refused.status_code == 422, refused.text  # the library's input rules hold
        assert "surrogate" in refused.json()["error"]["message"]


def test_concurrent_writers_lose_and_duplicate_nothing(start_server):
    """Eight clients write at once, overlapping on shared ids: every id once, none missing."""
    server = start_server(collection="writers")
    writers, rounds = 8, 5
    errors: list[str] = []
    start = threading.Barrier(writers)

    def write(writer: int) -> None:
        start.wait(timeout=60)
        with server.client() as http:
            for n in range(rounds):
                documents = [
                    {"id": f"w{writer}-{n}", "page_content": f"writer {writer} note {n}"},
                    {"id": f"shared-{n}", "page_content": f"shared note {n}"},
                ]
                response = http.post("/documents", json={"documents": documents})
                if response.status_code != 200:
                    errors.append(response.text)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    expected = {f"w{w}-{n}" for w in range(writers) for n in range(rounds)}
    expected |= {f"shared-{n}" for n in range(rounds)}
    index = server.service.index
    assert index.count() == len(expected)
    stored = index.get(sorted(expected))
    assert sorted(d.id for d in stored) == sorted(expected)
    assert {d.page_content for d in stored if d.id == "shared-0"} == {"shared note 0"}


def test_a_qdrant_server_out_of_reach_is_a_503_in_the_services_words(notes, monkeypatch):
    """The store's own message speaks to a Python caller (``storage=``); a client gets 503."""
    from t5_vectors import BatchFailure, IngestError, IngestReport, StorageUnavailableError

    server, _ = notes
    where = "http://qdrant.internal:6333"

    async def unreachable(*args, **kwargs):
        raise StorageUnavailableError(
            f"Expected a Qdrant server at {where}, found none reachable: check the URL, or "
            "pass a folder as storage= for embedded storage.",
            location=where,
        )

    monkeypatch.setattr(server.service.index, "asearch_with_hints", unreachable)
    with server.client() as http:
        response = http.post("/search", json={"query": "ferns", "k": 1})
    assert response.status_code == 503, response.text
    message = response.json()["error"]["message"]
    assert message.startswith(f"Expected the Qdrant server behind this service ({where})")
    assert "storage=" not in message
    assert "Send the request again later" in message

    async def stopped(*args, **kwargs):  # a write the lost server stopped, as the index raises it
        try:
            await unreachable()
        except StorageUnavailableError as lost:
            failure = BatchFailure(0, 0, 0, 1, "uploading", str(lost))
            raise IngestError(
                "Ingestion stopped: run the same ingestion again.",
                report=IngestReport(failed=1, failures=(failure,)),
                failure=failure,
            ) from lost

    monkeypatch.setattr(server.service.index, "aadd", stopped)
    with server.client() as http:
        response = http.post("/documents", json={"documents": NOTES[:1]})
    assert response.status_code == 503, response.text
    message = response.json()["error"]["message"]
    assert message.startswith(f"Expected the Qdrant server behind this service ({where})")
    assert "ingestion" not in message
