"""A fault-injecting Qdrant client for unit tests: real qdrant-client errors on chosen calls.

:class:`FaultyQdrantClient` and :class:`FaultyAsyncQdrantClient` are real (embedded) qdrant-client
clients, so t5-vectors accepts them anywhere, whose data calls (``retrieve``, ``upsert``,
``query_points``, ``count``, ``delete``) first consult a list of :class:`Fault` s. A fault can
fail a call before it reaches the store, or apply it and then lose the response (the nasty case
for idempotency), after an optional delay, on the calls touching chosen point ids, for a number
of times. The errors are the exact types qdrant-client raises over REST and gRPC:

* REST status codes: ``UnexpectedResponse`` (status, reason, JSON content, headers);
* 429 with ``Retry-After``: ``ResourceExhaustedResponse``;
* transport failures: ``ResponseHandlingException`` wrapping the ``httpx`` error
  (``ConnectError``, ``ReadTimeout``, ``RemoteProtocolError``), as ``ApiClient.send_inner`` does;
* gRPC: ``grpc._channel._InactiveRpcError`` carrying a status code, as a failed unary call raises.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
from grpc._channel import _InactiveRpcError, _RPCState
from qdrant_client import AsyncQdrantClient, QdrantClient, models
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

ErrorFactory = Callable[[], BaseException]

_REASONS = {
    400: "Bad Request",
    404: "Not Found",
    408: "Request Timeout",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# ------------------------------------------------------------------------------ the errors
def http_status(status: int, message: str = "injected fault") -> ErrorFactory:
    """A REST response with *status*, as ``ApiClient.send`` raises it."""

    def make() -> BaseException:
        content = json.dumps({"status": {"error": message}, "time": 0.0}).encode()
        headers = httpx.Headers({"content-type": "application/json"})
        return UnexpectedResponse(status, _REASONS.get(status, ""), content, headers)

    return make


def rate_limited(retry_after_s: int = 0) -> ErrorFactory:
    """A 429 with a ``Retry-After`` header, which qdrant-client turns into its own type."""
    return lambda: ResourceExhaustedResponse("Too many requests (injected fault)", retry_after_s)


def connection_refused() -> ErrorFactory:
    """The server is down: connecting fails."""
    return lambda: ResponseHandlingException(httpx.ConnectError("[Errno 111] Connection refused"))


def connection_dropped() -> ErrorFactory:
    """The connection closed before a response came (the request may have been applied)."""
    return lambda: ResponseHandlingException(
        httpx.RemoteProtocolError("Server disconnected without sending a response.")
    )


def read_timeout() -> ErrorFactory:
    """No response within the client's timeout."""
    return lambda: ResponseHandlingException(httpx.ReadTimeout("timed out"))


def grpc_status(code: grpc.StatusCode, details: str = "injected fault") -> ErrorFactory:
    """A failed gRPC call with *code*, as grpc raises it for a unary request."""
    return lambda: _InactiveRpcError(_RPCState((), None, None, code, details))


# ------------------------------------------------------------------------------- the plan
@dataclass
class Fault:
    """One fault: which calls it hits and what happens to them.

    Attributes:
        method: the client method (``"upsert"``, ``"retrieve"``, ``"query_points"``, ...).
        error: makes the exception to raise.
        points: only calls touching one of these point ids (all calls when empty).
        after: let this many matching calls through before firing.
        times: fire this many times, then let calls through (``None``: forever).
        every: fire on one matching call out of *every* (``2``: every other call).
        applied: apply the call to the store first, then raise: the response was lost.
        delay: seconds to wait before raising (a slow server, then a timeout).
    """

    method: str
    error: ErrorFactory
    points: Collection[str] = ()
    after: int = 0
    times: int | None = 1
    every: int = 1
    applied: bool = False
    delay: float = 0.0
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def hits(self, method: str, point_ids: Collection[str]) -> bool:
        """Whether this call fails (counts the call when it matches)."""
        if method != self.method or (self.points and not set(self.points) & set(point_ids)):
            return False
        self.seen += 1
        if self.seen <= self.after or (self.seen - self.after - 1) % self.every:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True


def _point_ids(arguments: Mapping[str, Any]) -> list[str]:
    points = arguments.get("points")
    if isinstance(points, models.Batch):
        return [str(pid) for pid in points.ids]
    if isinstance(points, list):
        return [str(p.id if isinstance(p, models.PointStruct) else p) for p in points]
    ids = arguments.get("ids")
    return [str(pid) for pid in ids] if ids is not None else []


class _Faults:
    """The state both clients share: the faults and what happened."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.calls: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.lock = threading.Lock()

    def check(
        self, real: Callable[..., Any], method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Fault | None:
        arguments = inspect.signature(real).bind(*args, **kwargs).arguments
        ids = _point_ids(arguments)
        with self.lock:
            self.calls[method] += 1
            fault = next((f for f in self.faults if f.hits(method, ids)), None)
            if fault is not None:
                self.failures[method] += 1
        return fault


class FaultyQdrantClient(QdrantClient):
    """An embedded ``QdrantClient`` that fails the calls its :attr:`faults` choose.

    Args:
        location: ``":memory:"`` (default) or ``None`` with *path*.
        faults: the initial faults (more can be appended to :attr:`faults` later).
        options: other ``QdrantClient`` arguments (``path=``).
    """

    def __init__(
        self, location: str | None = ":memory:", *, faults: Sequence[Fault] = (), **options: Any
    ) -> None:
        super().__init__(location=location, **options)
        self.state = _Faults()
        self.state.faults.extend(faults)

    @property
    def faults(self) -> list[Fault]:
        return self.state.faults

    @property
    def calls(self) -> Counter[str]:
        """Attempts per method, failed ones included."""
        return self.state.calls

    def _faulty(self, method: str, *args: Any, **kwargs: Any) -> Any:
        real = getattr(super(), method)
        fault = self.state.check(real, method, args, kwargs)
        if fault is None:
            return real(*args, **kwargs)
        if fault.applied:
            real(*args, **kwargs)
        time.sleep(fault.delay)
        raise fault.error()

    def retrieve(self, *args: Any, **kwargs: Any) -> Any:
        return self._faulty("retrieve", *args, **kwargs)

    def upsert(self, *args: Any, **kwargs: Any) -> Any:
        return self._faulty("upsert", *args, **kwargs)

    def query_points(self, *args: Any, **kwargs: Any) -> Any:
        return self._faulty("query_points", *args, **kwargs)

    def count(self, *args: Any, **kwargs: Any) -> Any:
        return self._faulty("count", *args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        return self._faulty("delete", *args, **kwargs)


class FaultyAsyncQdrantClient(AsyncQdrantClient):
    """An embedded ``AsyncQdrantClient`` that fails the calls its :attr:`faults` choose."""

    def __init__(
        self, location: str | None = ":memory:", *, faults: Sequence[Fault] = (), **options: Any
    ) -> None:
        super().__init__(location=location, **options)
        self.state = _Faults()
        self.state.faults.extend(faults)

    @property
    def faults(self) -> list[Fault]:
        return self.state.faults

    @property
    def calls(self) -> Counter[str]:
        return self.state.calls

    async def _faulty(self, method: str, *args: Any, **kwargs: Any) -> Any:
        real = getattr(super(), method)
        fault = self.state.check(real, method, args, kwargs)
        if fault is None:
            return await real(*args, **kwargs)
        if fault.applied:
            await real(*args, **kwargs)
        await asyncio.sleep(fault.delay)
        raise fault.error()

    async def retrieve(self, *args: Any, **kwargs: Any) -> Any:
        return await self._faulty("retrieve", *args, **kwargs)

    async def upsert(self, *args: Any, **kwargs: Any) -> Any:
        return await self._faulty("upsert", *args, **kwargs)

    async def query_points(self, *args: Any, **kwargs: Any) -> Any:
        return await self._faulty("query_points", *args, **kwargs)

    async def count(self, *args: Any, **kwargs: Any) -> Any:
        return await self._faulty("count", *args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> Any:
        return await self._faulty("delete", *args, **kwargs)


def first_line(error: BaseException) -> str:
    """``Type: first line of the message``: what a report row shows of an exception."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
