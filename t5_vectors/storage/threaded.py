"""Async over an in-process engine: each call runs the sync backend on a worker thread.

Qdrant Edge and qdrant-client's local mode compute in the calling thread (an HNSW walk, a numpy
scan). Running that inline in a coroutine, as qdrant-client's own ``AsyncQdrantLocal`` does,
stalls the caller's event loop for every search; :class:`ThreadedAsyncBackend` hands each call
to ``asyncio.to_thread`` instead. Its methods are made from the protocol's list of calls
(:data:`~t5_vectors.storage.base.CALLS`), so it has every call and no copy of any.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from t5_vectors.storage.base import CALLS, AsyncBackend, Backend


class ThreadedAsyncBackend(AsyncBackend):
    """:class:`~t5_vectors.storage.base.AsyncBackend` running *backend* on worker threads.

    Args:
        backend: the sync backend (closed by :meth:`close`).
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.kind = backend.kind
        self.location = backend.location
        self.capabilities = backend.capabilities

    def __repr__(self) -> str:
        return f"ThreadedAsyncBackend({self.backend!r})"


def _on_thread(name: str) -> Callable[..., Any]:
    async def call(self: ThreadedAsyncBackend, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self.backend, name), *args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


for _name in CALLS:
    setattr(ThreadedAsyncBackend, _name, _on_thread(_name))


def threaded(backend: Backend) -> ThreadedAsyncBackend:
    """*backend*'s calls as coroutines, each run on a worker thread."""
    return ThreadedAsyncBackend(backend)  # type: ignore[abstract]  # methods set above
