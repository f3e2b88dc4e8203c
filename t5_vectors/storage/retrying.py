"""A backend whose idempotent calls are retried on transient failures (the ingest policy).

Reads (describe, list, stats, retrieve, scroll, query, count) and deletes give the same result
when sent twice, so :class:`RetryingBackend` retries them under a
:class:`~t5_vectors.plan.retry.RetryPolicy`, as ingestion retries its calls. Creating,
dropping and writing pass through: ingestion retries its own writes, and collection changes are
not retried blindly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from t5_vectors.plan.retry import RetryPolicy
from t5_vectors.storage.base import (
    AsyncBackend,
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

__all__ = ["AsyncRetryingBackend", "RetryingBackend"]

Selection = bool | tuple[str, ...]


class RetryingBackend:
    """*backend* with its idempotent calls retried under *policy*."""

    def __init__(self, backend: Backend, policy: RetryPolicy) -> None:
        self.backend = backend
        self.policy = policy
        self.kind = backend.kind
        self.location = backend.location

    def list_collections(self) -> list[str]:
        return self.policy.call(self.backend.list_collections)

    def describe(self, collection: str) -> Schema | None:
        return self.policy.call(lambda: self.backend.describe(collection))

    def stats(self, collection: str) -> CollectionStats:
        return self.policy.call(lambda: self.backend.stats(collection))

    def create(self, collection: str, schema: Schema) -> None:
        self.backend.create(collection, schema)

    def drop(self, collection: str) -> bool:
        return self.backend.drop(collection)

    def set_metadata(self, collection: str, metadata: Mapping[str, Any]) -> None:
        self.backend.set_metadata(collection, metadata)

    def create_payload_index(self, collection: str, key: str, kind: PayloadIndexKind) -> None:
        self.backend.create_payload_index(collection, key, kind)

    def upsert(self, collection: str, points: Sequence[Point]) -> None:
        self.backend.upsert(collection, points)

    def set_payload(
        self, collection: str, updates: Sequence[tuple[PointId, Mapping[str, Any]]]
    ) -> None:
        self.policy.call(lambda: self.backend.set_payload(collection, updates))  # idempotent

    def retrieve(
        self,
        collection: str,
        ids: Sequence[PointId],
        *,
        with_payload: Selection = True,
        with_vectors: Selection = False,
    ) -> list[Record]:
        return self.policy.call(
            lambda: self.backend.retrieve(
                collection, ids, with_payload=with_payload, with_vectors=with_vectors
            )
        )

    def scroll(
        self,
        collection: str,
        *,
        filter: Filter | None = None,
        limit: int = 256,
        offset: PointId | None = None,
        with_payload: Selection = True,
        with_vectors: Selection = False,
    ) -> tuple[list[Record], PointId | None]:
        return self.policy.call(
            lambda: self.backend.scroll(
                collection,
                filter=filter,
                limit=limit,
                offset=offset,
                with_payload=with_payload,
                with_vectors=with_vectors,
            )
        )

    def query(self, collection: str, plan: QueryPlan) -> list[Hit]:
        return self.policy.call(lambda: self.backend.query(collection, plan))

    def count(self, collection: str, filter: Filter | None = None) -> int:
        return self.policy.call(lambda: self.backend.count(collection, filter))

    def delete(
        self,
        collection: str,
        *,
        ids: Sequence[PointId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        self.policy.call(lambda: self.backend.delete(collection, ids=ids, filter=filter))

    def build_index(self, collection: str, *, progress: Progress | None = None) -> None:
        self.backend.build_index(collection, progress=progress)

    def close(self) -> None:
        self.backend.close()


class AsyncRetryingBackend:
    """Async :class:`RetryingBackend`."""

    def __init__(self, backend: AsyncBackend, policy: RetryPolicy) -> None:
        self.backend = backend
        self.policy = policy
        self.kind = backend.kind
        self.location = backend.location

    async def list_collections(self) -> list[str]:
        return await self.policy.acall(self.backend.list_collections)

    async def describe(self, collection: str) -> Schema | None:
        return await self.policy.acall(lambda: self.backend.describe(collection))

    async def stats(self, collection: str) -> CollectionStats:
        return await self.policy.acall(lambda: self.backend.stats(collection))

    async def create(self, collection: str, schema: Schema) -> None:
        await self.backend.create(collection, schema)

    async def drop(self, collection: str) -> bool:
        return await self.backend.drop(collection)

    async def set_metadata(self, collection: str, metadata: Mapping[str, Any]) -> None:
        await self.backend.set_metadata(collection, metadata)

    async def create_payload_index(self, collection: str, key: str, kind: PayloadIndexKind) -> None:
        await self.backend.create_payload_index(collection, key, kind)

    async def upsert(self, collection: str, points: Sequence[Point]) -> None:
        await self.backend.upsert(collection, points)

    async def set_payload(
        self, collection: str, updates: Sequence[tuple[PointId, Mapping[str, Any]]]
    ) -> None:
        await self.policy.acall(lambda: self.backend.set_payload(collection, updates))

    async def retrieve(
        self,
        collection: str,
        ids: Sequence[PointId],
        *,
        with_payload: Selection = True,
        with_vectors: Selection = False,
    ) -> list[Record]:
        return await self.policy.acall(
            lambda: self.backend.retrieve(
                collection, ids, with_payload=with_payload, with_vectors=with_vectors
            )
        )

    async def scroll(
        self,
        collection: str,
        *,
        filter: Filter | None = None,
        limit: int = 256,
        offset: PointId | None = None,
        with_payload: Selection = True,
        with_vectors: Selection = False,
    ) -> tuple[list[Record], PointId | None]:
        return await self.policy.acall(
            lambda: self.backend.scroll(
                collection,
                filter=filter,
                limit=limit,
                offset=offset,
                with_payload=with_payload,
                with_vectors=with_vectors,
            )
        )

    async def query(self, collection: str, plan: QueryPlan) -> list[Hit]:
        return await self.policy.acall(lambda: self.backend.query(collection, plan))

    async def count(self, collection: str, filter: Filter | None = None) -> int:
        return await self.policy.acall(lambda: self.backend.count(collection, filter))

    async def delete(
        self,
        collection: str,
        *,
        ids: Sequence[PointId] | None = None,
        filter: Filter | None = None,
    ) -> None:
        await self.policy.acall(lambda: self.backend.delete(collection, ids=ids, filter=filter))

    async def build_index(self, collection: str, *, progress: Progress | None = None) -> None:
        await self.backend.build_index(collection, progress=progress)

    async def close(self) -> None:
        await self.backend.close()
