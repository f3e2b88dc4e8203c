"""``t5-vectors mcp`` through the official MCP SDK's stdio client."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

mcp = pytest.importorskip("mcp", reason="the serve extra is not installed: pip install '.[serve]'")

from mcp import ClientSession, StdioServerParameters, stdio_client  # noqa: E402

from t5_vectors import QdrantIndex  # noqa: E402
from t5_vectors.serve import ServerConfig, Service, create_mcp_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NOTE = "The budget meeting moved to Thursday at ten."


async def test_search_and_store_over_stdio(tmp_path, st5_path, tiny_encoder):
    db = tmp_path / "db"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "t5_vectors", "mcp", "--collection", "memory", "--qdrant-path", str(db),
              "--model", str(st5_path), "--device", "cpu", "--dtype", "float32"],
        env={"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
             "HOME": os.environ.get("HOME", str(tmp_path))},
        cwd=tmp_path,
    )  # fmt: skip
    with (tmp_path / "server.err").open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            assert set(tools) == {"search", "store"}
            assert {"query", "k", "filter"} <= set(tools["search"].input_schema["properties"])
            stored = await session.call_tool(
                "store", {"text": NOTE, "metadata": {"source": "meeting"}}
            )
            assert not stored.is_error, stored.content
            assert stored.structured_content["collection"] == "memory"
            again = await session.call_tool(
                "store", {"text": NOTE, "metadata": {"source": "meeting"}}
            )
            assert again.structured_content["id"] == stored.structured_content["id"]
            found = await session.call_tool(
                "search", {"query": "when is the budget meeting?", "filter": {"source": "meeting"}}
            )
            assert not found.is_error, found.content
            results = found.structured_content["results"]
            assert [hit["page_content"] for hit in results] == [NOTE]
            assert results[0]["metadata"] == {"source": "meeting"}
            assert results[0]["id"] == stored.structured_content["id"]
            bad = await session.call_tool("search", {"query": "x", "filter": ["source"]})
            assert bad.is_error
            assert "filter: expected KEY=VALUE" in bad.content[0].text
    assert "MCP server on stdio" in (tmp_path / "server.err").read_text()
    # The client closed stdin: the server closed the store, which holds the note once.
    index = QdrantIndex(tiny_encoder, collection_name="memory", create_if_missing=False, storage=db)
    try:
        assert index.count() == 1
        read_only = create_mcp_server(Service(tiny_encoder, index, ServerConfig(read_only=True)))
        assert [tool.name for tool in await read_only.list_tools()] == ["search"]
    finally:
        index.close()
