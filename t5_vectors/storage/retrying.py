"""A backend whose idempotent calls are retried on transient failures (the ingest policy).

Reads (describe, list, stats, retrieve, scroll, query, count), deletes and payload updates give
the same result when sent twice, so :class:`RetryingBackend` retries them under a
:class:`~t5_vectors.plan.retry.RetryPolicy`, as ingestion retries its calls. Creating, dropping
and writing pass through: ingestion retries its own writes, and collection changes are not
retried blindly. Both classes are made from the protocol's list of calls
(:data:`~t5_vectors.storage.base.CALLS`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from t5_vectors.plan.retry import RetryPolicy
from t5_vectors.storage.base import CALLS, AsyncBackend, Backend

__all__ = ["IDEMPOTENT", "AsyncRetryingBackend", "RetryingBackend", "aretrying", "retrying"]

IDEMPOTENT = frozenset(
    {
        "list_collections",
        "describe",
        "stats",
        "retrieve",
        "scroll",
        "query",
        "count",
        "delete",
        "set_payload",
    }
)
"""The calls retried: sending one twice gives the result of sending it once."""


class _Retrying:
    def __init__(self, backend: Any, policy: RetryPolicy) -> None:
        self.backend = backend
        self.policy = policy
        self.kind: str = backend.kind
        self.location: str = backend.location
        self.capabilities = backend.capabilities

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.backend!r})"


class RetryingBackend(_Retrying, Backend):
    """*backend* with its idempotent calls retried under *policy*."""

    def __init__(self, backend: Backend, policy: RetryPolicy) -> None:
        super().__init__(backend, policy)


class AsyncRetryingBackend(_Retrying, AsyncBackend):
    """Async :class:`RetryingBackend`."""

    def __init__(self, backend: AsyncBackend, policy: RetryPolicy) -> None:
        super().__init__(backend, policy)


def _sync(name: str) -> Callable[..., Any]:
    def call(self: RetryingBackend, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.backend, name)
        if name not in IDEMPOTENT:
            return method(*args, **kwargs)
        return self.policy.call(lambda: method(*args, **kwargs))

    call.__name__ = call.__qualname__ = name
    return call


def _async(name: str) -> Callable[..., Any]:
    async def call(self: AsyncRetryingBackend, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.backend, name)
        if name not in IDEMPOTENT:
            return await method(*args, **kwargs)
        return await self.policy.acall(lambda: method(*args, **kwargs))

    call.__name__ = call.__qualname__ = name
    return call


for _name in CALLS:
    setattr(RetryingBackend, _name, _sync(_name))
    setattr(AsyncRetryingBackend, _name, _async(_name))


def retrying(backend: Backend, policy: RetryPolicy) -> RetryingBackend:
    """*backend* with its idempotent calls retried under *policy*."""
    return RetryingBackend(backend, policy)  # type: ignore[abstract]  # methods set above


def aretrying(backend: AsyncBackend, policy: RetryPolicy) -> AsyncRetryingBackend:
    """*backend* (async) with its idempotent calls retried under *policy*."""
    return AsyncRetryingBackend(backend, policy)  # type: ignore[abstract]  # methods set above
