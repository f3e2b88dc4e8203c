"""``t5-vectors mcp``: the collection as MCP tools over stdio, for agents in any language.

Two tools, like mcp-server-qdrant's find and store:

* ``search(query, k=4, filter=None)``: the *k* best documents, each with ``id``, ``score``,
  ``page_content`` and ``metadata`` (structured output, and the same as JSON text);
* ``store(text, metadata=None)``: store a text; its id is derived from ``metadata.source`` and
  the text, so storing the same text twice keeps one copy. Left out with ``read_only``.

The filter takes the HTTP API's forms: a JSON object of metadata values, or the command line's
``KEY=VALUE`` strings. Refusals (a bad filter, a text over the limits) come back as tool errors
whose message says what to change, which the model reads.

Built on the official ``mcp`` SDK (``MCPServer``, version 2), which the ``serve`` extra installs.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError

from t5_vectors.errors import T5VectorsError
from t5_vectors.serve._extra import missing
from t5_vectors.serve.errors import from_library
from t5_vectors.serve.schemas import DocumentIn, Hit, SearchRequest
from t5_vectors.serve.service import Service

try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
except ImportError as err:
    raise missing("the official MCP SDK (mcp 2.x)") from err


SEARCH_DESCRIPTION = (
    "Search the knowledge base for documents relevant to a query (semantic search). Returns "
    "the best matches with their text (page_content), metadata and score. filter narrows the "
    'search by metadata, e.g. {"source": "notes.md"}.'
)
STORE_DESCRIPTION = (
    "Store a text in the knowledge base so a later search can find it. metadata is an "
    'optional JSON object, e.g. {"source": "meeting-2024-05-02", "topic": "budget"}.'
)


class SearchResults(BaseModel):
    """What the ``search`` tool returns."""

    results: list[Hit]
    warnings: list[str] = []


class Stored(BaseModel):
    """What the ``store`` tool returns."""

    id: str
    collection: str


def create_mcp_server(service: Service) -> MCPServer[Any]:
    """An MCP server with the ``search`` tool, and ``store`` unless the service is read-only."""
    server: MCPServer[Any] = MCPServer(
        name="t5-vectors",
        instructions=f"Semantic search over the collection {service.collection!r}"
        + ("." if service.config.read_only else "; store adds texts to it."),
        log_level="WARNING",
    )

    @server.tool(name="search", description=SEARCH_DESCRIPTION)
    async def search(
        query: Annotated[str, Field(description="what to look for")],
        k: Annotated[int, Field(description="how many results", ge=1)] = 4,
        filter: Annotated[
            dict[str, Any] | list[str] | None,
            Field(description='metadata values ({"source": "a.md"}) or ["source=a.md"]'),
        ] = None,
    ) -> SearchResults:
        try:
            request = SearchRequest(query=query, k=k, filter=filter)
            hits, hints = await service.search(request)
        except (T5VectorsError, ValidationError) as error:
            raise ToolError(_message(error)) from error
        return SearchResults(
            results=[
                Hit(
                    id=document.id,
                    score=float(score),
                    page_content=document.page_content,
                    metadata=document.metadata,
                )
                for document, score in hits
            ],
            warnings=hints,
        )

    if not service.config.read_only:

        @server.tool(name="store", description=STORE_DESCRIPTION)
        async def store(
            text: Annotated[str, Field(description="the text to remember")],
            metadata: Annotated[
                dict[str, Any] | None, Field(description="optional JSON metadata")
            ] = None,
        ) -> Stored:
            try:
                document = DocumentIn(page_content=text, metadata=metadata or {})
                ids = await service.add([document])
            except (T5VectorsError, ValidationError) as error:
                raise ToolError(_message(error)) from error
            return Stored(id=ids[0], collection=service.collection)

    return server


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return f"Invalid arguments: {error.errors()[0].get('msg', error)}"
    return from_library(error).message


def run_mcp(service: Service) -> int:
    """Serve *service* over stdio until the client closes it or SIGTERM; close the store."""
    server = create_mcp_server(service)

    async def main() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None:
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            await server.run_stdio_async()
        except asyncio.CancelledError:
            pass  # SIGTERM: stop serving, then close the store below
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
            await service.aclose()

    asyncio.run(main())
    return 0
