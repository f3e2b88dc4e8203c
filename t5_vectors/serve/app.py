"""The HTTP API: OpenAI's and TEI's embeddings, search and writes, health and metrics.

::

    POST   /v1/embeddings          OpenAI's embeddings API (float or base64; input_type extension)
    POST   /embed                  text-embeddings-inference's API (POST / is the same)
    POST   /search                 query text -> hits (id, score, page_content, metadata)
    POST   /documents              upsert documents (idempotent)
    DELETE /documents              delete by ids or by filter
    GET    /sources                the sources stored, a page at a time (?limit=N&offset=M)
    GET    /collections/{name}     what ``t5-vectors info`` says about the served collection
    GET    /health                 200 when ready, 503 while draining
    GET    /metrics                Prometheus text format
    GET    /docs                   OpenAPI docs (FastAPI's)

Every route shares the one :class:`~t5_vectors.serve.service.Service`; :mod:`.guard` sits in
front of them (metrics, key, body limit, admission). Errors are JSON in the route's API shape
(:mod:`.errors`).
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import numpy as np

from t5_vectors.serve._extra import missing

try:
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from starlette.exceptions import HTTPException
except ImportError as err:
    raise missing("FastAPI") from err

from t5_vectors.errors import T5VectorsError
from t5_vectors.serve.admission import Admission
from t5_vectors.serve.errors import (
    ApiError,
    from_library,
    openai_body,
    tei_body,
    validation_message,
)
from t5_vectors.serve.guard import Guard, route_of
from t5_vectors.serve.metrics import CONTENT_TYPE, Metrics
from t5_vectors.serve.schemas import (
    DeleteRequest,
    DeleteResponse,
    DocumentsRequest,
    DocumentsResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbedRequest,
    HealthResponse,
    SearchRequest,
    SearchResponse,
    SourcesResponse,
)
from t5_vectors.serve.service import Service

log = logging.getLogger("t5_vectors.serve")

_PROMPTS = {None: "document", "document": "document", "passage": "document", "query": "query"}


def create_app(service: Service) -> FastAPI:
    """The ASGI app serving *service* (run it with uvicorn, or :func:`t5_vectors.serve.run`).

    ``app.state.service``, ``app.state.admission`` and ``app.state.metrics`` hold the shared
    objects.
    """
    from t5_vectors._version import __version__

    app = FastAPI(
        title="t5-vectors",
        version=__version__,
        description="T5 embeddings (OpenAI and TEI APIs) and retrieval over one collection.",
    )
    admission = Admission(service.config.max_concurrent)
    encoder = service.encoder

    def encoder_stats() -> tuple[int, int]:
        stats = encoder.stats()
        return stats.forward_passes, stats.texts

    metrics = Metrics(admission, encoder_stats)
    app.state.service, app.state.admission, app.state.metrics = service, admission, metrics
    app.add_middleware(
        Guard,
        admission=admission,
        metrics=metrics,
        api_key=service.config.api_key,
        max_body_bytes=service.config.max_body_bytes,
    )
    _add_handlers(app)
    _add_embedding_routes(app, service)
    _add_store_routes(app, service)

    @app.get("/health", response_model=HealthResponse, tags=["server"])
    async def health() -> JSONResponse:
        """Ready (200) once the model is loaded and the collection open; 503 while draining."""
        status = "draining" if service.draining else "ready"
        body = {"status": status, "model": service.model_name, "collection": service.collection}
        return JSONResponse(body, status_code=503 if service.draining else 200)

    @app.get("/metrics", response_class=Response, tags=["server"])
    async def metrics_text() -> Response:
        """Requests, latency, admission and the encoder's forward passes (Prometheus)."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return app


# ----------------------------------------------------------------------------------- routes
def _add_embedding_routes(app: FastAPI, service: Service) -> None:
    @app.post("/v1/embeddings", response_model=EmbeddingsResponse, tags=["embeddings"])
    async def openai_embeddings(request: EmbeddingsRequest) -> JSONResponse:
        """OpenAI's embeddings API; ``input_type: "query"`` embeds queries (default: documents)."""
        texts = service.texts(request.input, param="input")
        service.check_dimensions(request.dimensions)
        vectors = await service.embed(texts, kind=request.input_type or "document")
        tokens = sum(await service.count_tokens(texts))
        as_base64 = request.encoding_format == "base64"
        data = [
            {
                "object": "embedding",
                "index": number,
                "embedding": _base64(vector) if as_base64 else vector.tolist(),
            }
            for number, vector in enumerate(vectors)
        ]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        body = {"object": "list", "data": data, "model": service.model_name, "usage": usage}
        return JSONResponse(body)

    async def tei_embed(request: EmbedRequest) -> JSONResponse:
        """text-embeddings-inference's ``/embed``: a list of vectors."""
        texts = service.texts(request.inputs, param="inputs")
        service.check_dimensions(request.dimensions)
        if request.truncation_direction.lower() == "left":
            raise ApiError(
                422,
                "truncation_direction: expected Right (T5 embeddings keep a text's start), "
                "found Left. Drop truncation_direction.",
                param="truncation_direction",
            )
        kind = _PROMPTS.get(request.prompt_name)
        if kind is None:
            raise ApiError(
                422,
                f"prompt_name: expected 'query' or 'document', found {request.prompt_name!r}.",
                param="prompt_name",
            )
        if not request.truncate:
            _refuse_long(texts, await service.count_tokens(texts), service.encoder.max_length)
        vectors = await service.embed(texts, kind="query" if kind == "query" else "document")
        if request.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, np.finfo(np.float32).tiny)
        return JSONResponse(vectors.tolist())

    app.post("/embed", response_model=list[list[float]], tags=["embeddings"])(tei_embed)
    app.post("/", response_model=list[list[float]], tags=["embeddings"], include_in_schema=False)(
        tei_embed
    )


def _add_store_routes(app: FastAPI, service: Service) -> None:
    @app.post("/search", response_model=SearchResponse, tags=["retrieval"])
    async def search(request: SearchRequest) -> JSONResponse:
        """The *k* best documents for a query, in a mode the collection stores vectors for."""
        hits, hints = await service.search(request)
        results = [
            {
                "id": document.id,
                "score": float(score),
                "page_content": document.page_content,
                "metadata": document.metadata,
            }
            for document, score in hits
        ]
        body = {
            "collection": service.collection,
            "model": service.model_name,
            "mode": request.mode,
            "results": results,
            "warnings": hints,
        }
        return JSONResponse(body)

    @app.get("/sources", response_model=SourcesResponse, tags=["retrieval"])
    async def sources(limit: int | None = None, offset: int = 0) -> JSONResponse:
        """The files the collection holds: each source with its chunk count and when it was
        stored (what ``t5-vectors sources`` lists), *limit* of them from *offset* on (all
        by default); ``next_offset`` is the next page's offset."""
        page = await service.sources(limit=limit, offset=offset)
        return JSONResponse(page.model_dump())

    @app.post("/documents", response_model=DocumentsResponse, tags=["retrieval"])
    async def add_documents(request: DocumentsRequest) -> JSONResponse:
        """Upsert documents; those stored unchanged are neither encoded nor written again."""
        return JSONResponse({"ids": await service.add(request.documents)})

    @app.delete("/documents", response_model=DeleteResponse, tags=["retrieval"])
    async def delete_documents(request: DeleteRequest) -> JSONResponse:
        """Delete documents by ``ids`` or by ``filter`` (one of the two)."""
        return JSONResponse({"deleted": await service.delete(request.ids, request.filter)})

    @app.get("/collections/{name}", tags=["retrieval"])
    async def collection(name: str, sample: int = 100) -> JSONResponse:
        """What ``t5-vectors info --collection NAME`` says (bytes per chunk on *sample* points)."""
        return JSONResponse(await service.describe(name, sample))


def _refuse_long(texts: list[str], counts: list[int], limit: int) -> None:
    for number, count in enumerate(counts):
        if count > limit:
            where = f"inputs[{number}]" if len(texts) > 1 else "inputs"
            raise ApiError(
                413,
                f"{where}: expected at most {limit} tokens (the model's max_length), found "
                f'{count}. Send "truncate": true to embed the first {limit}, or split the text.',
                param="inputs",
            )


def _base64(vector: np.ndarray) -> str:
    return base64.b64encode(vector.astype("<f4", copy=False).tobytes()).decode("ascii")


# ----------------------------------------------------------------------------------- errors
def _add_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return _render(request, error)

    @app.exception_handler(T5VectorsError)
    async def library_error(request: Request, error: T5VectorsError) -> JSONResponse:
        return _render(request, from_library(error))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        message, param = validation_message(error.errors())
        return _render(request, ApiError(422, message, param=param))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        method, path = request.method, request.url.path
        if error.status_code == 404:
            message = f"Expected a route of this server, found {method} {path}. See /docs."
        elif error.status_code == 405:
            message = f"Expected another method for {path}, found {method}. See /docs."
        else:
            message = str(error.detail)
        return _render(request, ApiError(error.status_code, message))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _render(request, from_library(error))


def _render(request: Request, error: ApiError) -> JSONResponse:
    shape = route_of(request.url.path).shape
    body: Any = tei_body(error) if shape == "tei" else openai_body(error)
    if error.status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, error.message)
    return JSONResponse(body, status_code=error.status, headers=error.headers or None)
