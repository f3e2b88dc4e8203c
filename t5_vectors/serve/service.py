"""One encoder and one index, shared by every request of every API (HTTP and MCP).

:class:`Service` holds the server's single :class:`~t5_vectors.T5Encoder` (its micro-batcher
coalesces concurrent requests into shared forward passes) and single
:class:`~t5_vectors.QdrantIndex` (one open store), and does what the endpoints ask through their
async API, so the event loop never waits on a forward pass or on the store. It knows nothing of
HTTP: its checks raise :class:`~t5_vectors.serve.errors.ApiError` with the status and the field,
and library errors pass through for the HTTP layer to map (:func:`errors.from_library`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from t5_vectors.errors import InvalidInputError
from t5_vectors.plan.filters import to_filter
from t5_vectors.serve.config import ServerConfig
from t5_vectors.serve.errors import ApiError
from t5_vectors.serve.schemas import Source, SourcesResponse

if TYPE_CHECKING:
    from langchain_core.documents import Document

    from t5_vectors import QdrantIndex, T5Encoder
    from t5_vectors.encoder.core import Kind
    from t5_vectors.serve.schemas import DocumentIn, SearchRequest


Describe = Callable[[str, int], dict[str, Any]]
"""``describe(collection, sample)``: what ``t5-vectors info`` says about a collection."""

MAX_SAMPLE = 10_000
"""Points ``GET /collections/{name}?sample=N`` may read to measure bytes per chunk."""

_INLINE_CHARS = 20_000
"""Texts shorter than this in total are token-counted on the event loop, longer on a thread."""


class Service:
    """What every endpoint does, over one encoder and one index.

    Args:
        encoder: the encoder (shared: every request's texts go through its micro-batcher).
        index: the collection (its embedding must be *encoder*).
        config: limits and mode.
        describe: what ``GET /collections/{name}`` returns; ``None`` returns the point count.

    Attributes:
        draining: set when the server stops: ``/health`` answers 503.
    """

    def __init__(
        self,
        encoder: T5Encoder,
        index: QdrantIndex,
        config: ServerConfig,
        *,
        describe: Describe | None = None,
    ) -> None:
        self.encoder = encoder
        self.index = index
        self.config = config
        self.collection = index.collection_name
        self.draining = False
        self._describe = describe

    @property
    def model_name(self) -> str:
        return self.config.model_name

    @property
    def dim(self) -> int:
        return int(self.encoder.dim)

    # ---------------------------------------------------------------------------- checks
    def texts(self, value: Any, *, param: str) -> list[str]:
        """*value* (a text or a list of texts) as a list, within the limits.

        Raises:
            ApiError: 422 for another shape (token-id arrays named as such), 413 for too many
                texts or one too long.
        """
        if isinstance(value, str):
            items = [value]
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            items = value
        elif _token_ids(value):
            raise ApiError(
                422,
                f"{param}: expected a text or a list of texts, found token ids (a list of "
                "integers). The server tokenizes with its T5 model's own tokenizer and cannot "
                "read another tokenizer's ids: send the texts. With LangChain's "
                "OpenAIEmbeddings, pass check_embedding_ctx_length=False.",
                param=param,
            )
        else:
            found = (
                f"a list whose item {_first_bad(value)} is not a str"
                if isinstance(value, list)
                else type(value).__name__
            )
            raise ApiError(
                422, f"{param}: expected a text or a list of texts, found {found}.", param=param
            )
        if not items:
            raise ApiError(
                422, f"{param}: expected at least one text, found an empty list.", param=param
            )
        self.check_count(len(items), param=param)
        for number, text in enumerate(items):
            self.check_chars(text, param=f"{param}[{number}]" if len(items) > 1 else param)
        return items

    def check_count(self, count: int, *, param: str) -> None:
        if count > self.config.max_texts:
            raise ApiError(
                413,
                f"{param}: expected at most {self.config.max_texts} items in one request (the "
                f"server's --max-texts), found {count}. Split the request.",
                param=param,
            )

    def check_chars(self, text: str, *, param: str) -> None:
        if len(text) > self.config.max_chars:
            raise ApiError(
                413,
                f"{param}: expected at most {self.config.max_chars} characters in one text (the "
                f"server's --max-chars), found {len(text)}. Split the text into chunks.",
                param=param,
            )

    def check_dimensions(self, dimensions: int | None, *, param: str = "dimensions") -> None:
        if dimensions is not None and dimensions != self.dim:
            raise ApiError(
                422,
                f"{param}: expected the model's size, {self.dim} (T5 vectors cannot be "
                f"shortened), found {dimensions}. Leave {param} out.",
                param=param,
            )

    def filter(self, value: Any, *, param: str = "filter") -> Any:
        """The request's filter, checked here so that a mistake names the field: a JSON object
        of metadata values or ``KEY=VALUE`` strings (the filter language of every interface,
        :mod:`t5_vectors.plan.filters`), as given."""
        if value is None or value == {} or value == []:
            return None
        if not isinstance(value, (dict, str, list)):
            raise ApiError(
                422,
                f'{param}: expected a JSON object of metadata values ({{"source": "a.md"}}) or '
                f'KEY=VALUE strings (["source=a.md"]), found {type(value).__name__}.',
                param=param,
            )
        try:
            to_filter(value, where=param)
        except InvalidInputError as error:
            raise ApiError(422, str(error), param=param) from error
        return value

    # --------------------------------------------------------------------------- embedding
    async def embed(self, texts: Sequence[str], *, kind: Kind = "document") -> np.ndarray:
        """Vectors of *texts*, float32 ``(len(texts), dim)``, through the shared encoder."""
        return await self.encoder.aencode(texts, kind=kind)

    async def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts of *texts* (``</s>`` included), off the event loop when long."""
        if sum(len(text) for text in texts) < _INLINE_CHARS:
            return self.encoder.count_tokens(texts)
        return await asyncio.to_thread(self.encoder.count_tokens, texts)

    # --------------------------------------------------------------------------- retrieval
    async def search(
        self, request: SearchRequest
    ) -> tuple[list[tuple[Document, float]], list[str]]:
        """The request's hits, best first, and what to tell about its filter (the metadata keys
        it names that no stored document has; values of a kind their key never holds)."""
        config = self.config
        self.check_chars(request.query, param="query")
        if not 1 <= request.k <= config.max_k:
            raise ApiError(
                422,
                f"k: expected 1 to {config.max_k} results (the server's --max-k), found "
                f"{request.k}.",
                param="k",
            )
        if request.fusion is not None and request.mode != "hybrid":
            raise ApiError(
                422,
                f'fusion: expected together with "mode": "hybrid", found mode {request.mode!r}. '
                "Drop fusion.",
                param="fusion",
            )
        prefetch = request.prefetch
        if prefetch is not None:
            if request.mode not in ("hybrid", "rerank"):
                raise ApiError(
                    422,
                    f'prefetch: expected with "mode": "hybrid" or "rerank", found mode '
                    f"{request.mode!r}. Drop prefetch.",
                    param="prefetch",
                )
            if not request.k <= prefetch <= config.max_k:
                raise ApiError(
                    422,
                    f"prefetch: expected k ({request.k}) to {config.max_k} candidates per list, "
                    f"found {prefetch}.",
                    param="prefetch",
                )
        where = self.filter(request.filter)
        return await self.index.asearch_with_hints(
            request.query,
            k=request.k,
            filter=where,
            mode=request.mode,
            fusion=request.fusion or "rrf",
            dense_limit=prefetch,
            sparse_limit=prefetch,
            score_threshold=request.score_threshold,
        )

    # ------------------------------------------------------------------------------ writes
    def check_writable(self) -> None:
        if self.config.read_only:
            raise ApiError(
                403,
                "Expected a server that accepts writes, found one started with --read-only. "
                "Write through a server started without it.",
            )

    async def add(self, documents: Sequence[DocumentIn]) -> list[str]:
        """Upsert *documents*; returns their ids. Unchanged documents are not written again."""
        from langchain_core.documents import Document

        self.check_writable()
        if not documents:
            raise ApiError(
                422, "documents: expected at least one document, found none.", param="documents"
            )
        self.check_count(len(documents), param="documents")
        for number, document in enumerate(documents):
            self.check_chars(document.page_content, param=f"documents[{number}].page_content")
        batch = [Document(d.page_content, metadata=d.metadata) for d in documents]
        return await self.index.aadd(batch, ids=[d.id for d in documents])

    async def delete(self, ids: Sequence[str | int] | None, where: Any) -> int:
        """Delete by *ids* or by the filter *where* (one of the two); returns how many matched."""
        self.check_writable()
        if (ids is None) == (where is None):
            raise ApiError(
                422,
                "Expected ids or filter (one of the two), found "
                + ("both." if ids is not None else "neither.")
                + ' Send {"ids": [...]} or {"filter": {...}}.',
                param="ids",
            )
        if ids is not None:
            if not ids:
                raise ApiError(422, "ids: expected at least one id, found none.", param="ids")
            self.check_count(len(ids), param="ids")
            matched = len(await self.index.aget(list(ids)))
            await self.index.adelete(list(ids))
            return matched
        condition = self.filter(where)
        if condition is None:
            raise ApiError(
                422,
                "filter: expected at least one condition, found an empty filter (which would "
                "delete everything). Name the documents to delete.",
                param="filter",
            )
        matched = await self.index.acount(filter=condition)
        if matched:
            await self.index.adelete(filter=condition)
        return matched

    # ------------------------------------------------------------------------------ others
    async def sources(self, *, limit: int | None = None, offset: int = 0) -> SourcesResponse:
        """What the collection holds, by source (sorted; documents without one last): *limit*
        sources (all when ``None``) from *offset* on. Each call reads every point once."""
        if limit is not None and limit < 1:
            raise ApiError(
                422,
                f"limit: expected a whole number >= 1 (sources in one page), found {limit}. "
                "Leave limit out for every source.",
                param="limit",
            )
        if offset < 0:
            raise ApiError(
                422,
                f"offset: expected a whole number >= 0 (sources to skip), found {offset}.",
                param="offset",
            )
        listed = await self.index.asources()
        end = len(listed) if limit is None else offset + limit
        return SourcesResponse(
            collection=self.collection,
            sources=[
                Source(source=s.source, chunks=s.chunks, stored=s.stored)
                for s in listed[offset:end]
            ],
            total=len(listed),
            next_offset=end if end < len(listed) else None,
        )

    async def describe(self, name: str, sample: int) -> dict[str, Any]:
        """What ``t5-vectors info`` says about the served collection."""
        if name != self.collection:
            raise ApiError(
                404,
                f"Expected the served collection, {self.collection!r}, found {name!r}. This "
                "server serves one collection.",
                param="name",
            )
        if not 0 <= sample <= MAX_SAMPLE:
            raise ApiError(
                422,
                f"sample: expected 0 to {MAX_SAMPLE} points to measure, found {sample}.",
                param="sample",
            )
        if self._describe is None:
            return {"name": name, "points": await self.index.acount()}
        return await asyncio.to_thread(self._describe, name, sample)

    async def aclose(self) -> None:
        """Build the index of what was written and close the store (the encoder is the caller's)."""
        await self.index.aclose()


def _token_ids(value: Any) -> bool:
    """Whether *value* is OpenAI's token-id input: a list of ints, or a list of such lists."""
    if not isinstance(value, list) or not value:
        return False
    flat = value if not isinstance(value[0], list) else [x for row in value for x in row]
    return bool(flat) and all(isinstance(x, int) and not isinstance(x, bool) for x in flat)


def _first_bad(value: list[Any]) -> str:
    for number, item in enumerate(value):
        if not isinstance(item, str):
            return f"[{number}] ({type(item).__name__})"
    return "?"


def model_label(name_or_path: str) -> str:
    """The name a model is reported by: a hub id as it is, a local folder by its last part."""
    path = Path(name_or_path)
    return path.name if path.is_absolute() and path.name else name_or_path
