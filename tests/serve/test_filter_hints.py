"""The HTTP API over a socket: a filter naming a key no stored document has still runs and says
so in a ``warnings`` field; ``GET /sources`` lists what the collection holds."""

from __future__ import annotations

import httpx


def test_the_http_api_answers_with_warnings_and_lists_sources(start_server):
    running = start_server(collection="http-notes")
    with running.client() as client:
        stored = client.post(
            "/documents",
            json={"documents": [{"page_content": "ferns", "metadata": {"source": "a.md", "n": 1}}]},
        )
        assert stored.status_code == 200, stored.text
        for given in ({"sorce": "a.md"}, ["sorce=a.md"], "sorce=a.md"):
            answer = client.post("/search", json={"query": "ferns", "filter": given})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["results"] == []
            assert len(body["warnings"]) == 1, given
            assert "'sorce'" in body["warnings"][0]
            assert "n, source" in body["warnings"][0]
        fine = client.post("/search", json={"query": "ferns", "filter": "n=1"}).json()
        assert (len(fine["results"]), fine["warnings"]) == (1, [])
        sources = client.get("/sources")
        assert sources.status_code == 200
        assert sources.json()["sources"] == [{"source": "a.md", "chunks": 1, "stored": None}]
    with httpx.Client(base_url=running.url, timeout=60) as stranger:
        assert stranger.get("/sources").status_code == 401  # the server key guards it


def test_a_server_leaves_the_processs_warning_filters_alone(start_server):
    """Hints go into the answers; the library's FilterWarning still reaches other callers."""
    import warnings

    before = list(warnings.filters)
    start_server(collection="quiet-filters")
    assert warnings.filters == before
