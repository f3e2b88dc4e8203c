"""Keep a collection in step with files: drop a changed file's leftover chunks, prune deleted files.

Chunks of a file have deterministic ids (``"<source>#<chunk number>"``), so re-ingesting a
file overwrites its chunks in place. When a file shrinks, its old chunks past the new end are
*stale*; :func:`remove_stale` deletes them, but only after the new chunks are written, so a crash
in between never loses a file's content (it leaves extra chunks, which the next run removes).

:func:`prune_deleted` removes the chunks of files that no longer exist on disk, inside the
folders (or for the files) that were ingested.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence

from qdrant_client import QdrantClient, models

from t5_vectors.qdrant.payload import METADATA_KEY

__all__ = [
    "SOURCE_KEY",
    "chunk_sources",
    "delete_points",
    "prune_deleted",
    "remove_stale",
    "source_filter",
]

SOURCE_KEY = f"{METADATA_KEY}.source"
_SCROLL = 1024
_MATCH_BATCH = 256


def chunk_sources(
    client: QdrantClient, collection: str, query_filter: models.Filter | None = None
) -> Iterator[tuple[str | int, str | None]]:
    """``(point id, metadata.source)`` of every point (matching *query_filter*)."""
    offset: models.ExtendedPointId | None = None
    while True:
        records, offset = client.scroll(
            collection,
            scroll_filter=query_filter,
            limit=_SCROLL,
            offset=offset,
            with_payload=[SOURCE_KEY],
            with_vectors=False,
        )
        for record in records:
            metadata = (record.payload or {}).get(METADATA_KEY)
            source = metadata.get("source") if isinstance(metadata, Mapping) else None
            key = record.id if isinstance(record.id, int) else str(record.id)
            yield key, source if isinstance(source, str) else None
        if offset is None:
            return


def source_filter(sources: Sequence[str]) -> models.Filter:
    """Points whose ``metadata.source`` is one of *sources*."""
    return models.Filter(
        must=[models.FieldCondition(key=SOURCE_KEY, match=models.MatchAny(any=list(sources)))]
    )


def delete_points(
    client: QdrantClient, collection: str, ids: Sequence[models.ExtendedPointId]
) -> int:
    """Delete points by id, in batches; returns how many."""
    for start in range(0, len(ids), _SCROLL):
        batch: list[models.ExtendedPointId] = list(ids[start : start + _SCROLL])
        client.delete(collection, points_selector=models.PointIdsList(points=batch), wait=True)
    return len(ids)


def remove_stale(client: QdrantClient, collection: str, expected: Mapping[str, set[str]]) -> int:
    """Delete the points of each source that are not among its expected point ids.

    Args:
        client: the sync client.
        collection: the collection.
        expected: ``{source: {point ids of its current chunks}}`` (a source with no chunks,
            such as an emptied file, maps to an empty set).

    Returns:
        how many points were deleted.
    """
    sources = sorted(expected)
    stale: list[models.ExtendedPointId] = []
    for start in range(0, len(sources), _MATCH_BATCH):
        batch = sources[start : start + _MATCH_BATCH]
        for point, source in chunk_sources(client, collection, source_filter(batch)):
            if source is not None and str(point) not in expected.get(source, set()):
                stale.append(point)
    return delete_points(client, collection, stale)


def prune_deleted(
    client: QdrantClient,
    collection: str,
    covers: Callable[[str], bool],
    exists: Callable[[str], bool] = os.path.exists,
) -> int:
    """Delete the points of files that no longer exist, among the sources *covers* accepts.

    Args:
        client: the sync client.
        collection: the collection.
        covers: whether a source lies in what was ingested (folders given, files given).
        exists: whether a source file still exists.

    Returns:
        how many points were deleted.
    """
    gone: dict[str, bool] = {}
    doomed: list[models.ExtendedPointId] = []
    for point, source in chunk_sources(client, collection):
        if source is None or not covers(source):
            continue
        if source not in gone:
            gone[source] = not exists(source)
        if gone[source]:
            doomed.append(point)
    return delete_points(client, collection, doomed)
