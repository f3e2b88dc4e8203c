"""Request and response bodies: OpenAI's embeddings, TEI's ``/embed``, and t5-vectors' own.

The OpenAI and TEI bodies follow those APIs so their clients work unchanged; unknown fields are
ignored there, as those servers do. t5-vectors' own bodies (``/search``, ``/documents``) refuse
unknown fields, so a misspelt ``top_k`` is a 422 naming it rather than a silent default.

Fields whose accepted shapes need a clear message of their own (``input``, ``inputs``,
``filter``) are typed loosely here and checked by :mod:`t5_vectors.serve.service`; their JSON
schema, which ``/docs`` shows, still lists the shapes accepted.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, WithJsonSchema

from t5_vectors.plan.modes import Fusion, Mode

_TEXTS_SCHEMA = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
}
_FILTER_SCHEMA = {
    "anyOf": [
        {"type": "object", "description": 'metadata values: {"source": "a.md", "chunk": 0}'},
        {"type": "array", "items": {"type": "string"}, "description": '["source=a.md"]'},
        {"type": "string", "description": '"source=a.md"'},
        {"type": "null"},
    ]
}

Texts = Annotated[Any, WithJsonSchema(_TEXTS_SCHEMA)]
FilterValue = Annotated[Any, WithJsonSchema(_FILTER_SCHEMA)]
DocumentId = StrictStr | StrictInt


class _Own(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------ OpenAI / TEI
class EmbeddingsRequest(BaseModel):
    """``POST /v1/embeddings``: OpenAI's request, plus ``input_type``."""

    input: Texts = Field(description="a text, or a list of texts (token-id arrays are refused)")
    model: str | None = Field(
        default=None, description="any name: the server has one model and reports its name"
    )
    encoding_format: Literal["float", "base64"] = Field(
        default="float", description="base64: little-endian float32 bytes, as OpenAI sends them"
    )
    dimensions: int | None = Field(default=None, description="if given, the model's size")
    user: str | None = None
    input_type: Literal["query", "document"] | None = Field(
        default=None,
        description="t5-vectors' extension: 'query' adds the model's query prefix; documents "
        "(the default) the document prefix",
    )


class EmbeddingItem(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str
    usage: Usage


class EmbedRequest(BaseModel):
    """``POST /embed``: text-embeddings-inference's request."""

    inputs: Texts = Field(description="a text, or a list of texts")
    normalize: bool = Field(default=True, description="unit-length vectors")
    truncate: bool | None = Field(
        default=None,
        description="cut texts over the model's max_length tokens; false (the default, as in "
        "TEI) refuses them with 413",
    )
    truncation_direction: Literal["Right", "Left", "right", "left"] = "Right"
    prompt_name: str | None = Field(
        default=None, description="'query' for the model's query prefix; 'document' or none"
    )
    dimensions: int | None = Field(default=None, description="if given, the model's size")


# ------------------------------------------------------------------------------- t5-vectors'
class SearchRequest(_Own):
    """``POST /search``."""

    query: StrictStr
    k: StrictInt = Field(default=4, description="how many results")
    filter: FilterValue = Field(
        default=None,
        description="metadata values as a JSON object ({'source': 'a.md'}; a list matches any "
        "of its values), or the command line's KEY=VALUE strings",
    )
    mode: Mode = Field(default="dense", description="the collection must store its vectors")
    fusion: Fusion | None = Field(default=None, description="hybrid only")
    prefetch: StrictInt | None = Field(
        default=None, description="candidates per list, hybrid and rerank (default max(4k, 20))"
    )
    score_threshold: float | None = None


class Hit(BaseModel):
    id: DocumentId | None
    score: float
    page_content: str
    metadata: dict[str, Any]


class SearchResponse(BaseModel):
    collection: str
    model: str
    mode: str
    results: list[Hit]
    warnings: list[str] = Field(
        default_factory=list,
        description="what to know about the filter: metadata keys no stored document has, "
        "values of a kind their key never holds (the search ran; such a condition matches "
        "nothing)",
    )


class Source(BaseModel):
    source: str | None
    chunks: int
    stored: str | None


class SourcesResponse(BaseModel):
    """``GET /sources`` and the MCP ``sources`` tool: one page of the sources, sorted."""

    collection: str
    sources: list[Source]
    total: int = Field(description="sources the collection holds")
    next_offset: int | None = Field(
        description="the offset of the next page; null when this page is the last"
    )


class DocumentIn(_Own):
    id: DocumentId | None = Field(
        default=None,
        description="any str or int; without one, an id is derived from metadata.source and "
        "the text, so sending the same document again writes nothing",
    )
    page_content: StrictStr
    metadata: dict[str, Any] = Field(default_factory=dict)


class DocumentsRequest(_Own):
    """``POST /documents``: upserts, idempotent (unchanged documents are not written again)."""

    documents: list[DocumentIn]


class DocumentsResponse(BaseModel):
    ids: list[str]


class DeleteRequest(_Own):
    """``DELETE /documents``: by ids, or by a filter (one of the two)."""

    ids: list[DocumentId] | None = None
    filter: FilterValue = None


class DeleteResponse(BaseModel):
    deleted: int = Field(description="stored documents the request matched")


class HealthResponse(BaseModel):
    status: Literal["ready", "draining"]
    model: str
    collection: str
