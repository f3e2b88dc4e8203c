"""``t5-vectors mcp``: the collection as MCP tools over stdio, for agents in any language.

Five tools, so that an agent does the whole job through them:

* ``search(query, k=4, filter=None, mode="dense")``: the *k* best documents, each with ``id``,
  ``score``, ``page_content`` and ``metadata``, and ``warnings`` when the filter names a
  metadata key no stored document has (or compares a key with a value of another kind);
  ``mode`` is one of the modes the collection serves (its input schema's ``enum`` and its
  description list them);
* ``store(text, metadata=None)``: store a text; its id is derived from ``metadata.source`` and
  the text, so storing the same text twice keeps one copy;
* ``delete(ids=None, filter=None)``: delete by ids (as ``search`` and ``store`` return them) or
  by filter, one of the two; returns how many stored documents matched;
* ``sources(limit=None, offset=0)``: what the collection holds, by source, sorted: each one's
  chunk count and when file ingestion stored it, a page of *limit* from *offset* on (all by
  default), with the ``total`` and the ``next_offset``;
* ``info()``: points, the search modes served, the model, the tokens it reads of a text and the
  chunking file ingestion used.

``store`` and ``delete`` are left out with ``read_only``. ``filter`` is the filter language of
every interface (:mod:`t5_vectors.plan.filters`): a JSON object of metadata values, one
``KEY=VALUE`` string or a list of them; a relative ``source`` also matches it made absolute
against the server's working folder.

Every mistake comes back as a tool error of one line naming the argument, what was expected,
what was found and how to fix it. The SDK validates arguments against each tool's signature
before the tool runs, and its ``ValidationError`` would reach the agent as pydantic's report of
several lines; :class:`ToolServer` translates it (and refuses arguments a tool does not take,
which pydantic would drop silently) from the tools' :class:`Argument` tables, and turns the
library's typed errors a tool raises into the same one-line messages, the HTTP API's.

Built on the official ``mcp`` SDK (``MCPServer``, version 2), which the ``serve`` extra installs.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError

from t5_vectors.errors import T5VectorsError
from t5_vectors.plan.layout import CollectionLayout
from t5_vectors.plan.model_record import read_record
from t5_vectors.plan.modes import Mode
from t5_vectors.serve._extra import missing
from t5_vectors.serve.errors import from_library
from t5_vectors.serve.schemas import (
    DeleteResponse,
    DocumentIn,
    FilterValue,
    Hit,
    SearchRequest,
    SourcesResponse,
)
from t5_vectors.serve.service import Service

try:
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
    from mcp.types import CallToolResult, InputRequiredResult, ToolAnnotations
    from mcp.types import Tool as MCPTool
except ImportError as err:
    raise missing("the official MCP SDK (mcp 2.x)") from err


FILTER_EXPECTED = (
    'a JSON object of metadata values ({"source": "a.md", "chunk": 0}), one KEY=VALUE string '
    '("chunk=0") or a list of them (["source=a.md", "chunk=0"])'
)

FilterArgument = Annotated[
    FilterValue,
    Field(
        description=f"narrows by metadata: {FILTER_EXPECTED}; a list value matches any of its "
        "values, a relative source also its absolute path from the server's working folder"
    ),
]


@dataclass(frozen=True)
class Argument:
    """One argument of a tool, as its error messages describe it.

    Attributes:
        expected: what a value must be (``"a whole number from 1 to 1000"``).
        example: a valid value, as JSON, for the message's fix.
        choices: the values this server accepts, where its signature's type allows more
            (``search``'s ``mode``: the modes the collection serves); the tool's input schema
            lists them as its ``enum``, and the tool refuses the others when called.
    """

    expected: str
    example: str
    choices: tuple[str, ...] | None = None


# ------------------------------------------------------------------------------- results
class SearchResults(BaseModel):
    """What the ``search`` tool returns."""

    results: list[Hit]
    warnings: list[str] = Field(
        default_factory=list,
        description="what to know about the filter: metadata keys no stored document has, "
        "values of a kind their key never holds (such a condition matches nothing)",
    )


class Stored(BaseModel):
    """What the ``store`` tool returns."""

    id: str
    collection: str


class Info(BaseModel):
    """What the ``info`` tool returns."""

    collection: str
    points: int = Field(description="stored documents (chunks)")
    modes: list[str] = Field(description="the search modes the collection serves")
    model: str = Field(description="the model that embeds queries and texts")
    max_length: int = Field(description="the most tokens the model reads of a text")
    chunking: dict[str, int] | None = Field(
        description="chunk_tokens and chunk_overlap that file ingestion last used, if any"
    )
    dim: int
    distance: str
    read_only: bool = Field(description="whether store and delete are left out")


# ---------------------------------------------------------------------------------- server
class ToolServer(MCPServer[Any]):
    """An ``MCPServer`` whose tool errors are one line, argument mistakes in the tools' words.

    Args:
        arguments: ``{tool: {argument: Argument}}`` for the tools it checks.
        left_out: ``{tool: why}`` for tools this server leaves out (``store`` with
            ``--read-only``), named when called.
        **options: ``MCPServer``'s keywords.
    """

    def __init__(
        self,
        arguments: Mapping[str, Mapping[str, Argument]],
        left_out: Mapping[str, str] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.arguments = arguments
        self.left_out = dict(left_out or {})

    async def list_tools(self) -> list[MCPTool]:
        """The tools, each argument with :attr:`Argument.choices` listing them as its ``enum``."""
        tools = await super().list_tools()
        for tool in tools:
            properties = dict(tool.input_schema.get("properties", {}))
            for key, argument in self.arguments.get(tool.name, {}).items():
                if argument.choices is not None and key in properties:
                    properties[key] = {**properties[key], "enum": list(argument.choices)}
            tool.input_schema = {**tool.input_schema, "properties": properties}
        return tools

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        """Call tool *name*; every failure is a :class:`ToolError` of one line.

        Raises:
            ToolError: a tool it does not serve, an argument the tool does not take, arguments
                its signature refuses (in the words of its :class:`Argument` table), the
                tool's own refusal, or a library error the tool raised
                (:func:`~t5_vectors.serve.errors.from_library`).
        """
        tools = [tool.name for tool in await self.list_tools()]
        if name not in tools:
            why = self.left_out.get(name, "")
            raise ToolError(
                f"Expected one of this server's tools ({', '.join(tools)}), found {name!r}"
                + (f", which {why}." if why else ". Call one of those.")
            )
        table = self.arguments.get(name)
        unknown = [key for key in arguments if table is not None and key not in table]
        if table is not None and unknown:
            raise ToolError(unknown_argument(name, unknown[0], table))
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError as error:
            if not isinstance(error.__cause__, T5VectorsError):
                raise  # a crash: the SDK's one line, "Error executing tool NAME"
            # The library's typed errors, raised by the tools' calls, said as the HTTP API says.
            raise ToolError(one_line(from_library(error.__cause__).message)) from error
        except ToolError as error:
            cause = error.__cause__
            if isinstance(cause, ValidationError):
                text = invalid_arguments(name, cause.errors(include_url=False), table or {})
            else:
                text = str(cause if isinstance(cause, ToolError) else error)
            raise ToolError(one_line(text)) from error


def create_mcp_server(service: Service) -> MCPServer[Any]:
    """An MCP server with ``search``, ``sources`` and ``info``, and ``store`` and ``delete``
    unless the service is read-only."""
    name, config, index = service.collection, service.config, service.index
    spec = index.spec
    modes = CollectionLayout(
        vector_name=spec.vector_name,
        dim=index.dim,
        distance=spec.metric,
        tokens=spec.tokens,
        sparse=spec.sparse,
    ).modes
    max_length = int(service.encoder.config.max_length)
    served = ", ".join(modes)
    filter_argument = Argument(FILTER_EXPECTED, '"source=notes.md"')
    arguments: dict[str, dict[str, Argument]] = {
        "search": {
            "query": Argument("a text: what to look for", '"when is the budget meeting?"'),
            "k": Argument(f"a whole number from 1 to {config.max_k}", "4"),
            "filter": filter_argument,
            "mode": Argument(
                f"one of the modes collection {name!r} serves ({served}; the others need "
                "vectors it does not store)",
                f'"{modes[0]}"',
                choices=modes,
            ),
        },
        "sources": {
            "limit": Argument("a whole number >= 1 (sources in one page)", "100"),
            "offset": Argument(
                "a whole number >= 0 (sources to skip: next_offset of the page before)", "100"
            ),
        },
        "info": {},
    }
    if not config.read_only:
        arguments["store"] = {
            "text": Argument("the text to store", '"The budget meeting moved to Thursday."'),
            "metadata": Argument(
                "a JSON object of metadata values", '{"source": "meeting-2024-05-02"}'
            ),
        }
        arguments["delete"] = {
            "ids": Argument("a list of document ids (as search and store return them)", '["ID"]'),
            "filter": filter_argument,
        }
    left_out = {
        tool: "this server leaves out: it was started with --read-only. Start t5-vectors mcp "
        f"without --read-only to {tool}"
        for tool in ("store", "delete")
        if config.read_only
    }
    server = ToolServer(
        arguments,
        left_out,
        name="t5-vectors",
        instructions=f"Semantic search over the collection {name!r}"
        + ("." if config.read_only else "; store adds texts to it, delete removes them."),
        log_level="WARNING",
    )
    read = ToolAnnotations(read_only_hint=True)

    @server.tool(
        name="search",
        annotations=read,
        description=f"Search collection {name!r} for the documents most relevant to a query. "
        "Returns the best matches with their id, score, text (page_content) and metadata, and "
        "warnings when the filter names a metadata key no stored document has. filter narrows "
        'by metadata: {"source": "notes.md"}, "chunk=0" or ["source=notes.md", "chunk=0"]. '
        f"mode: the modes this collection serves are {served} (dense: the pooled vector; "
        "sparse: BM25 terms; hybrid: both fused; maxsim: token vectors; rerank: dense "
        "candidates re-ranked by token vectors).",
    )
    async def search(
        query: Annotated[str, Field(description="what to look for")],
        k: Annotated[int, Field(description="how many results", ge=1)] = 4,
        filter: FilterArgument = None,
        mode: Annotated[
            Mode, Field(description="how to search: one of the modes this collection serves")
        ] = "dense",
    ) -> SearchResults:
        if not 1 <= k <= config.max_k:
            raise ToolError(argument_error("search", "k", arguments["search"], _shown(k)))
        if mode not in modes:
            raise ToolError(argument_error("search", "mode", arguments["search"], _shown(mode)))
        request = SearchRequest(query=query, k=k, filter=filter, mode=mode)
        hits, hints = await service.search(request)
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

    @server.tool(
        name="sources",
        annotations=read,
        description=f"What collection {name!r} holds, by source (the file or source name in "
        "metadata.source), sorted: each with its number of chunks and when file ingestion "
        "stored it (null for texts stored otherwise). limit and offset page through them: "
        "total counts them all, next_offset is the next page's offset (null after the last).",
    )
    async def sources(
        limit: Annotated[
            int | None, Field(description="sources in one page (default: all)", ge=1)
        ] = None,
        offset: Annotated[
            int, Field(description="sources to skip: next_offset of the page before", ge=0)
        ] = 0,
    ) -> SourcesResponse:
        return await service.sources(limit=limit, offset=offset)

    @server.tool(
        name="info",
        annotations=read,
        description=f"About collection {name!r}: how many documents (points) it holds, the "
        "search modes it serves, the model, the most tokens the model reads of a text and the "
        "chunking file ingestion used.",
    )
    async def info() -> Info:
        points = await index.acount()
        record = read_record(await index.collection.adescribe())
        return Info(
            collection=name,
            points=points,
            modes=list(modes),
            model=service.model_name,
            max_length=max_length,
            chunking=dict(record.chunking) if record is not None and record.chunking else None,
            dim=index.dim,
            distance=spec.metric,
            read_only=config.read_only,
        )

    if config.read_only:
        return server

    @server.tool(
        name="store",
        annotations=ToolAnnotations(idempotent_hint=True),
        description=f"Store a text in collection {name!r} so a later search can find it. "
        'metadata is an optional JSON object, e.g. {"source": "meeting-2024-05-02", "topic": '
        '"budget"}. The id comes from metadata.source and the text, so storing the same text '
        f"again keeps one copy. The model reads the first {max_length} tokens of a text: store "
        "long texts in parts.",
    )
    async def store(
        text: Annotated[str, Field(description="the text to store")],
        metadata: Annotated[
            dict[str, Any] | None, Field(description="optional JSON object of metadata values")
        ] = None,
    ) -> Stored:
        ids = await service.add([DocumentIn(page_content=text, metadata=metadata or {})])
        return Stored(id=ids[0], collection=name)

    @server.tool(
        name="delete",
        annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=True),
        description=f"Delete documents from collection {name!r}: by ids (as search and store "
        'return them) or by filter (as in search: {"source": "notes.md"} or '
        '"source=notes.md"), one of the two. Returns how many stored documents matched.',
    )
    async def delete(
        ids: Annotated[
            list[str | int] | None,
            Field(description="ids of the documents to delete, as search and store return them"),
        ] = None,
        filter: FilterArgument = None,
    ) -> DeleteResponse:
        if (ids is None) == (filter is None):
            raise ToolError(
                "ids, filter: expected one of the two, found "
                + ("both" if ids is not None else "neither")
                + '. Call delete with "ids": ["ID"] (as search and store return them) or '
                '"filter": "source=notes.md".'
            )
        deleted = await service.delete(ids, filter)
        return DeleteResponse(deleted=deleted)

    return server


# -------------------------------------------------------------------------------- messages
def invalid_arguments(
    tool: str, errors: Sequence[Mapping[str, Any]], table: Mapping[str, Argument]
) -> str:
    """Pydantic's errors for a call of *tool*, one sentence per argument, on one line."""
    said: dict[str, str] = {}
    for item in errors:
        location = tuple(item.get("loc", ()))
        argument = str(location[0]) if location else "arguments"
        if argument in said:
            continue
        path = argument + "".join(f"[{part}]" for part in location[1:] if isinstance(part, int))
        if item.get("type") == "missing":
            found = "none"
        else:
            found = _shown(item.get("input"))
            found += f" at {path}" if path != argument else ""
        if argument in table:
            said[argument] = argument_error(tool, argument, table, found)
        else:  # not in the table: pydantic's own words
            said[argument] = f"{argument}: {item.get('msg', 'invalid')}, found {found}."
    return " ".join(said.values()) or f"{tool}: expected valid arguments, found others."


def argument_error(tool: str, argument: str, table: Mapping[str, Argument], found: str) -> str:
    """``"k: expected a whole number from 1 to 1000, found -1. Call search with, ..."``."""
    spec = table[argument]
    return (
        f"{argument}: expected {spec.expected}, found {found}. Call {tool} with, for example, "
        f'"{argument}": {spec.example}.'
    )


def unknown_argument(tool: str, key: str, table: Mapping[str, Argument]) -> str:
    """The message for an argument *tool* does not take."""
    if not table:
        return f"{key}: expected no arguments ({tool} takes none), found {key!r}. Drop it."
    return (
        f"{key}: expected one of {tool}'s arguments ({', '.join(table)}), found {key!r}, which "
        f"{tool} does not take. Drop it, or name one of those."
    )


def one_line(text: str) -> str:
    """*text* on one line (a tool error is one line in the tool result)."""
    return " ".join(text.split())


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


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
