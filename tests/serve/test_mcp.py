"""``t5-vectors mcp`` through the official MCP SDK's stdio client: the tools and their errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

mcp = pytest.importorskip("mcp", reason="the serve extra is not installed: pip install '.[serve]'")

from t5_vectors import QdrantIndex  # noqa: E402
from tests.serve.mcp_stdio import ROOT, call, mcp_session, refusal  # noqa: E402

NOTE = "The budget meeting moved to Thursday at ten."
TOOLS = {"search", "store", "delete", "sources", "info"}


async def test_search_and_store_over_stdio(tmp_path, st5_path, tiny_encoder):
    db = tmp_path / "db"
    flags = ["--collection", "memory", "--qdrant-path", str(db)]
    async with mcp_session(tmp_path, st5_path, *flags) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert set(tools) == TOOLS
        properties = tools["search"].input_schema["properties"]
        assert {"query", "k", "filter", "mode"} <= set(properties)
        # The schema offers the modes this collection serves: dense vectors only.
        assert properties["mode"]["enum"] == ["dense"]
        assert properties["mode"]["default"] == "dense"
        assert {"ids", "filter"} == set(tools["delete"].input_schema["properties"])
        stored = await call(session, "store", {"text": NOTE, "metadata": {"source": "meeting"}})
        assert stored["collection"] == "memory"
        again = await call(session, "store", {"text": NOTE, "metadata": {"source": "meeting"}})
        assert again["id"] == stored["id"]
        asked = {"query": "when is the budget meeting?", "filter": {"source": "meeting"}}
        found = await call(session, "search", asked)
        results = found["results"]
        assert [hit["page_content"] for hit in results] == [NOTE]
        assert results[0]["metadata"] == {"source": "meeting"}
        assert results[0]["id"] == stored["id"]
    assert "MCP server on stdio" in (tmp_path / "server.err").read_text()
    # The client closed stdin: the server closed the store, which holds the note once.
    index = QdrantIndex(tiny_encoder, collection_name="memory", create_if_missing=False, storage=db)
    try:
        assert index.count() == 1
    finally:
        index.close()


async def test_filter_takes_an_object_a_key_value_string_or_a_list(tmp_path, st5_path):
    notes = str(tmp_path.resolve() / "notes.md")
    documents = [
        ("Budget: the meeting moved to Thursday.", {"source": notes, "chunk": 0}),
        ("Budget: the hotel is booked for Friday.", {"source": notes, "chunk": 1}),
        ("Budget: lunch is at noon.", {"source": "meeting", "chunk": 0}),
    ]
    flags = ["--collection", "notes", "--qdrant-path", str(tmp_path / "db")]
    async with mcp_session(tmp_path, st5_path, *flags) as session:
        for text, metadata in documents:
            await call(session, "store", {"text": text, "metadata": metadata})

        async def texts(filter: object) -> set[str]:
            found = await call(session, "search", {"query": "budget", "k": 10, "filter": filter})
            assert found["warnings"] == []
            return {hit["page_content"] for hit in found["results"]}

        first_chunks = {documents[0][0], documents[2][0]}
        assert await texts("chunk=0") == first_chunks
        assert await texts({"chunk": 0}) == first_chunks
        assert await texts(["chunk=0"]) == first_chunks
        # A relative source matches the stored absolute path from the server's working folder.
        assert await texts(["source=notes.md", "chunk=1"]) == {documents[1][0]}
        assert await texts("source=meeting") == {documents[2][0]}
        misspelt = await call(session, "search", {"query": "budget", "filter": "chunks=0"})
        assert misspelt["results"] == []
        assert len(misspelt["warnings"]) == 1
        assert "'chunks', which no stored document has" in misspelt["warnings"][0]


async def test_argument_mistakes_are_one_line_naming_the_argument(tmp_path, st5_path):
    flags = ["--collection", "memory", "--qdrant-path", str(tmp_path / "db"), "--max-k", "50"]
    async with mcp_session(tmp_path, st5_path, *flags) as session:
        cases: list[tuple[str, dict[str, object], str]] = [
            ("search", {"query": "x", "filter": ["source"]},
             "filter: expected KEY=VALUE (for example source=docs/a.md or chunk=0), found "
             "'source'"),
            ("search", {"query": "x", "filter": 5}, "filter: expected a JSON object"),
            ("search", {"query": "x", "k": -1},
             "k: expected a whole number from 1 to 50, found -1."),
            ("search", {"query": "x", "k": 51},
             "k: expected a whole number from 1 to 50, found 51."),
            ("search", {"query": "x", "k": "many"},
             'k: expected a whole number from 1 to 50, found "many".'),
            ("search", {"k": 3}, "query: expected a text: what to look for, found none."),
            ("search", {"query": 5}, "query: expected a text: what to look for, found 5."),
            ("search", {"query": "x", "top_k": 3},
             "top_k: expected one of search's arguments (query, k, filter, mode), found 'top_k'"),
            ("search", {"query": "x", "mode": "hybrid"},
             "mode: expected one of the modes collection 'memory' serves (dense; the others need "
             'vectors it does not store), found "hybrid".'),
            ("search", {"query": "x", "mode": "fuzzy"},
             "mode: expected one of the modes collection 'memory' serves (dense;"),
            ("store", {"text": "x", "metadata": "nope"},
             'metadata: expected a JSON object of metadata values, found "nope".'),
            ("store", {"metadata": {"source": "a"}},
             "text: expected the text to store, found none."),
            ("delete", {}, "ids, filter: expected one of the two, found neither."),
            ("delete", {"ids": ["a"], "filter": "chunk=0"},
             "ids, filter: expected one of the two, found both."),
            ("delete", {"ids": "abc"},
             "ids: expected a list of document ids (as search and store return them), found "
             '"abc".'),
            ("delete", {"ids": ["a", None]}, "found null at ids[1]."),
            ("delete", {"filter": {}}, "filter: expected at least one condition, found an empty"),
            ("info", {"verbose": True}, "verbose: expected no arguments (info takes none)"),
            ("find", {"query": "x"},
             "Expected one of this server's tools (search, sources, info, store, delete), found "
             "'find'."),
        ]  # fmt: skip
        for tool, arguments, start in cases:
            text = await refusal(session, tool, arguments)
            assert start in text, (tool, arguments, text)
            if tool != "find":
                assert text.split(":")[0] in {*arguments, "query", "text", "ids, filter"}, text
        # A refusal changed nothing: the collection is still empty.
        assert (await call(session, "info", {}))["points"] == 0


async def test_delete_sources_and_info(tmp_path, st5_path, tiny_encoder):
    flags = ["--collection", "memory", "--qdrant-path", str(tmp_path / "db")]
    async with mcp_session(tmp_path, st5_path, *flags) as session:
        ids = [
            (await call(session, "store", {"text": text, "metadata": {"source": source}}))["id"]
            for text, source in [("one", "a.md"), ("two", "a.md"), ("three", "b.md")]
        ]
        listed = (await call(session, "sources", {}))["sources"]
        assert sorted((s["source"], s["chunks"], s["stored"]) for s in listed) == [
            ("a.md", 2, None),
            ("b.md", 1, None),
        ]
        page = await call(session, "sources", {"limit": 1})
        assert [s["source"] for s in page["sources"]] == ["a.md"]
        assert (page["total"], page["next_offset"]) == (2, 1)
        last = await call(session, "sources", {"limit": 1, "offset": page["next_offset"]})
        assert ([s["source"] for s in last["sources"]], last["next_offset"]) == (["b.md"], None)
        refused = await refusal(session, "sources", {"limit": 0})
        assert refused.startswith("limit: expected a whole number >= 1"), refused
        info = await call(session, "info", {})
        assert info == {
            "collection": "memory",
            "points": 3,
            "modes": ["dense"],
            "model": st5_path.name,
            "max_length": tiny_encoder.config.max_length,
            "chunking": None,
            "dim": tiny_encoder.dim,
            "distance": "cosine",
            "read_only": False,
        }
        assert await call(session, "delete", {"ids": [ids[2], "never-stored"]}) == {"deleted": 1}
        assert await call(session, "delete", {"filter": "source=a.md"}) == {"deleted": 2}
        assert await call(session, "delete", {"filter": {"source": "a.md"}}) == {"deleted": 0}
        assert (await call(session, "info", {}))["points"] == 0
        assert (await call(session, "sources", {}))["sources"] == []


def test_a_bad_limit_is_one_line_before_the_model_loads(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "t5_vectors", "mcp", "--collection", "memory", "--max-k", "0",
         "--qdrant-path", str(tmp_path / "db"), "--model", str(tmp_path / "no-model")],
        env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"},
        capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "t5-vectors: error: --max-k: expected a positive int, found 0.\n"
    assert done.stdout == ""
    assert not (tmp_path / "db").exists()
