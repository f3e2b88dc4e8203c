"""A real ``t5-vectors mcp`` process, driven through the official MCP SDK's stdio client."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client

ROOT = Path(__file__).resolve().parents[2]


@contextlib.asynccontextmanager
async def mcp_session(
    cwd: Path, model: Path, *flags: str, errlog: Path | None = None
) -> AsyncIterator[ClientSession]:
    """An initialized session with ``t5-vectors mcp FLAGS --model MODEL`` started in *cwd*.

    The server's standard error goes to *errlog* (default ``cwd / "server.err"``). Leaving the
    block closes the server's stdin, which stops it and closes its store.
    """
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "t5_vectors", "mcp", *flags,
              "--model", str(model), "--device", "cpu", "--dtype", "float32"],
        env={"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
             "HOME": os.environ.get("HOME", str(cwd))},
        cwd=cwd,
    )  # fmt: skip
    with (errlog or cwd / "server.err").open("w") as log:
        async with (
            stdio_client(params, errlog=log) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


async def call(session: ClientSession, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The structured result of a call that must succeed."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def refusal(session: ClientSession, tool: str, arguments: dict[str, Any]) -> str:
    """The text of a call that must fail: one line, in the tool's words, no pydantic report."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    assert len(result.content) == 1
    text = result.content[0].text
    assert "\n" not in text, text
    assert "pydantic" not in text, text
    assert "validation error" not in text, text
    assert "Error executing tool" not in text, text
    assert "expected" in text.lower(), text
    assert "found" in text, text
    return text
