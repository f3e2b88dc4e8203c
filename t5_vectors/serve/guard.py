"""The ASGI layer in front of the routes: metrics, the bearer key, the body limit, admission.

Each HTTP request goes through, in order:

1. **metrics**: its route template, status and latency are counted whatever happens below;
2. **the key**: with a server key, every route but ``/health`` and the OpenAPI docs needs
   ``Authorization: Bearer KEY`` (compared in constant time); otherwise ``401`` and no data;
3. **the body limit**: a body over ``max_body_bytes`` is refused with ``413`` (at once when
   ``Content-Length`` says so, else as soon as the count passes it), so no request holds more
   than that in memory; the body read is then handed to the route;
4. **admission** (routes that use the encoder or the store): at most ``max_concurrent`` such
   requests at once, one more gets ``429`` with ``Retry-After`` (whole seconds) and
   ``retry-after-ms``, which the openai client honours (:mod:`t5_vectors.serve.admission`).

Refusals are JSON in the route's API shape (:mod:`t5_vectors.serve.errors`). Written as a plain
ASGI middleware, not a ``BaseHTTPMiddleware``, to keep per-request overhead small.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from t5_vectors.serve.admission import Admission, Overloaded
from t5_vectors.serve.errors import ApiError, openai_body, tei_body
from t5_vectors.serve.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    """How the guard treats a path: its metrics label, API shape, key and admission."""

    label: str
    shape: str = "openai"
    admitted: bool = False
    open: bool = False


_ROUTES = {
    "/v1/embeddings": Route("/v1/embeddings", admitted=True),
    "/embed": Route("/embed", shape="tei", admitted=True),
    "/": Route("/", shape="tei", admitted=True),
    "/search": Route("/search", admitted=True),
    "/sources": Route("/sources", admitted=True),
    "/documents": Route("/documents", admitted=True),
    "/health": Route("/health", open=True),
    "/metrics": Route("/metrics"),
    "/docs": Route("/docs", open=True),
    "/docs/oauth2-redirect": Route("/docs", open=True),
    "/redoc": Route("/docs", open=True),
    "/openapi.json": Route("/openapi.json", open=True),
}
_COLLECTION = Route("/collections/{name}", admitted=True)
_OTHER = Route("other")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def route_of(path: str) -> Route:
    """The :class:`Route` of a request path (unknown paths share one label)."""
    route = _ROUTES.get(path)
    if route is not None:
        return route
    return _COLLECTION if path.startswith("/collections/") else _OTHER


class Guard:
    """The ASGI middleware described in the module docstring.

    Args:
        app: the routes.
        admission: the shared admission queue.
        metrics: where requests are counted.
        api_key: the bearer key (``None``: no key needed).
        max_body_bytes: the body limit.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        admission: Admission,
        metrics: Metrics,
        api_key: str | None,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.admission = admission
        self.metrics = metrics
        self._expected = f"Bearer {api_key}".encode() if api_key else None
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_of(scope["path"])
        started = time.perf_counter()
        status = 500

        async def counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._guarded(route, scope, receive, counted)
        finally:
            seconds = time.perf_counter() - started
            self.metrics.observe(route.label, scope["method"], status, seconds)

    async def _guarded(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        if not route.open and not self._authorized(scope):
            error = ApiError(
                401,
                "Expected the header Authorization: Bearer KEY with the server's key, found "
                + ("another key." if _header(scope, b"authorization") else "none.")
                + " Send the key the server was started with (--server-key-env).",
                headers={"www-authenticate": "Bearer"},
            )
            await _refuse(send, route, error)
            return
        if scope["method"] in _WITH_BODY:
            body = await self._body(scope, receive)
            if isinstance(body, ApiError):
                await _refuse(send, route, body)
                return
            receive = _replay(body, receive)
        if not route.admitted:
            await self.app(scope, receive, send)
            return
        try:
            ticket = self.admission.admit()
        except Overloaded as full:
            error = ApiError(
                429,
                f"Expected a free slot, found all {self.admission.limit} taken (the server's "
                f"--max-concurrent). Retry after {full.retry_after_ms} ms.",
                headers={
                    "retry-after": str(full.retry_after_seconds),
                    "retry-after-ms": str(full.retry_after_ms),
                },
            )
            await _refuse(send, route, error)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.admission.release(ticket)

    def _authorized(self, scope: Scope) -> bool:
        if self._expected is None:
            return True
        given = _header(scope, b"authorization") or b""
        return hmac.compare_digest(given, self._expected)

    async def _body(self, scope: Scope, receive: Receive) -> bytes | ApiError:
        limit = self.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _too_large(limit, f"{int(declared)} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return _too_large(limit, f"more than {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _too_large(limit: int, found: str) -> ApiError:
    return ApiError(
        413,
        f"body: expected at most {limit} bytes (the server's --max-body-bytes), found {found}. "
        "Send fewer or shorter texts per request.",
        param="body",
    )


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body read already, then the client's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(send: Send, route: Route, error: ApiError) -> None:
    """Send *error* as a complete JSON response in the route's API shape."""
    body = tei_body(error) if route.shape == "tei" else openai_body(error)
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(key.encode(), value.encode()) for key, value in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
