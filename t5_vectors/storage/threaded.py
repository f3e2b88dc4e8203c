"""Async over an in-process engine: each call runs the sync backend on a worker thread.

Qdrant Edge and qdrant-client's local mode compute in the calling thread (an HNSW walk, a numpy
scan). Running that inline in a coroutine, as qdrant-client's own ``AsyncQdrantLocal`` does,
stalls the caller's event loop for every search; :class:`ThreadedAsyncBackend` hands each call
to ``asyncio.to_thread`` instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from t5_vectors.storage.base import (
    Backend,
    CollectionStats,
    Filter,
    Hit,
    PayloadIndexKind,
    Point,
    PointId,
    Progress,
    QueryPlan,
    Record,
    Schema,
)

__all__ = ["ThreadedAsyncBackend"]


class ThreadedAsyncBackend:
    """:class:`~t5_vectors.storage.base.AsyncBackend` running *backend* on worker threads.

    Args:
        backend: the sync backend (closed by :meth:`close`).
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.kind = backend.kind
        self.location = backend.location

    def __repr__(self) -> str:
        return f"ThreadedAsyncBackend({self.backend!r})"

    async def list_collections(self) -> list[str]:
        return await asyncio.to_thread(self.backend.list_collections)

    async def describe(self, collection: str) -> Schema | None:
        return await asyncio.to_thread(self.backend.describe, collection)

    async def stats(self, collection: str) -> CollectionStats:
        return await asyncio.to_thread(self.backend.stats, collection)

    async def create(self, collection: str, schema: Schema) -> None:
        await asyncio.to_thread(self.backend.create, collection, schema)

    async def drop(self, collection: str) -> bool:
        return await asyncio.to_thread(self.backend.drop, collection)

    async def set_metadata(self, collection: str, metadata: Mapping[str, Any]) -> None:
        await asyncio.to_thread(self.backend.set_metadata, collection, metadata)

    async def create_payload_index(self, collection: str, key: str, kind: PayloadIndexKind) -> None:
        await asyncio.to_thread(self.backend.create_payload_index, collection, key, kind)

    async def upsert(self, collection: str, points: Sequence[Point]) -> None:
        await asyncio.to_thread(self.backend.upsert, collection, points)

    async def set_payload(
        self, collection: str, updates: Sequence[tuple[PointId, Mapping[str, Any]]]
    ) -> None:
        await asyncio.to_thread(self.backend.set_payload, collection, updates)

    async def retrieve(
        self,
        collection: str,
        ids: Sequence[PointId],
        *,
        with_payload: bool | tuple[str, ...] = True,
        with_vectors: bool | tuple[str, ...] = False,
    ) -> list[Record]:
        return await asyncio.to_thread(
            self.backend.retrieve,
            collection,
            ids,
            with_payload=with_payload,
            with_vectors=with_vectors,
        )

    async def scroll(
        self,
        collection: str,
        *,
        filter: Filter | None = None,
        limit: int = 256,
        offset: PointId | None = None,
        with_payload: bool | tuple[str, ...] = True,
        with_vectors: bool | tuple[str, ...] = False,
    ) -> tuple[list[Record], PointId | None]:
        return await asyncio.to_thread(
            self.backend.scroll,
            collection,
            filter=filter,
            limit=limit,
            offset=offset,
            with_payload=with_payload,
            with_vectors=with_vectors,
        )

    async def query(self, collection: str, plan: QueryPlan) -> list[Hit]:
        return await asyncio.to_thread(self.backend.query, collection, plan)

    async def count(self, collection: str, filter: Filter | None = None) -> int:
        return await asyncio.to_thread(self.backend.count, collection, filter)

    async def delete(
        self,
        collection: str,
        *,
        ids: Sequence[PointId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        await asyncio.to_thread(self.backend.delete, collection, ids=ids, filter=filter)

    async def build_index(self, collection: str, *, progress: Progress | None = None) -> None:
        await asyncio.to_thread(self.backend.build_index, collection, progress=progress)

    async def close(self) -> None:
        await asyncio.to_thread(self.backend.close)
