"""Keep a collection in step with files: drop a changed file's leftover chunks, prune deleted files.

Chunks of a file have deterministic ids (``"<source>#<chunk number>"``), so re-ingesting a
file overwrites its chunks in place. When a file shrinks, its old chunks past the new end are
*stale*; :func:`remove_stale` deletes them, but only after the new chunks are written, so a crash
in between never loses a file's content (it leaves extra chunks, which the next run removes).

:func:`prune_deleted` removes the chunks of files that no longer exist on disk, inside the
folders (or for the files) that were ingested.

:func:`stored_files` and :func:`record_files` keep a per-file record (the file's digest, its
chunk count and when it was stored) on each file's first chunk, under the top-level payload key
``file`` (:data:`~t5_vectors.plan.payload.FILE_KEY`), so that a re-run reads an unchanged file
but does not split it again.

All of them go through the index's :class:`~t5_vectors.index.collection.Collection` (retried
calls, no model). The stale scan is fast on every engine: where the storage has payload indexes
(Qdrant Edge, servers) the source key ``metadata.source`` is indexed and the scan reads only the
chunks of the sources ingested, a batch of sources per filtered scan; qdrant-client's local mode,
which evaluates filters in Python point by point, is read in one pass instead of one pass per
batch of sources. :func:`remove_stale` and :func:`prune_deleted` take an optional
``progress(done, total)`` callback, so a caller can show the scan.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime

from t5_vectors.index.collection import Collection
from t5_vectors.plan.collection import SOURCE_KEY
from t5_vectors.plan.payload import FILE_KEY, METADATA_KEY
from t5_vectors.storage.base import Filter, PointId, Progress

_MATCH_BATCH = 256


def chunk_sources(
    collection: Collection, query_filter: Filter | None = None, progress: Progress | None = None
) -> Iterator[tuple[PointId, str | None]]:
    """``(point id, metadata.source)`` of every point (matching *query_filter*).

    Args:
        collection: the collection.
        query_filter: a filter in Qdrant's JSON form.
        progress: ``progress(points read, points to read)`` after each page.
    """
    for record in collection.scan(query_filter, with_payload=(SOURCE_KEY,), progress=progress):
        metadata = (record.payload or {}).get(METADATA_KEY)
        source = metadata.get("source") if isinstance(metadata, Mapping) else None
        yield record.id, source if isinstance(source, str) else None


def source_filter(sources: Sequence[str]) -> Filter:
    """Points whose ``metadata.source`` is one of *sources* (Qdrant's JSON form)."""
    return {"must": [{"key": SOURCE_KEY, "match": {"any": list(sources)}}]}


def remove_stale(
    collection: Collection,
    expected: Mapping[str, set[str]],
    *,
    progress: Progress | None = None,
    seen: set[str] | None = None,
) -> int:
    """Delete the points of each source that are not among its expected point ids.

    Args:
        collection: the collection.
        expected: ``{source: {point ids of its current chunks}}`` (a source with no chunks,
            such as an emptied file, maps to an empty set).
        progress: ``progress(done, total)``: sources checked of all sources (storage with
            payload indexes), or points read of all points (local mode).
        seen: filled with the ids (``str``) of the expected points found stored, so that a
            caller can tell which expected points are missing.

    Returns:
        how many points were deleted.
    """
    if not expected:
        return 0
    stale: list[PointId] = []

    def keep(point: PointId, source: str | None) -> None:
        if source is None or source not in expected:
            return
        if str(point) not in expected[source]:
            stale.append(point)
        elif seen is not None:
            seen.add(str(point))

    if not collection.storage.capabilities.payload_indexes:  # one pass over every point
        for point, source in chunk_sources(collection, None, progress):
            keep(point, source)
    else:  # the source key is indexed (QdrantIndex makes sure): a filtered scan per batch
        sources = sorted(expected)
        for start in range(0, len(sources), _MATCH_BATCH):
            batch = sources[start : start + _MATCH_BATCH]
            for point, source in chunk_sources(collection, source_filter(batch)):
                keep(point, source)
            if progress is not None:
                progress(min(start + _MATCH_BATCH, len(sources)), len(sources))
    collection.delete(stale)
    return len(stale)


def stored_files(
    collection: Collection, files: Sequence[tuple[str, PointId, str]]
) -> dict[str, int]:
    """The chunk count of each file stored whole with the same digest.

    Args:
        collection: the collection.
        files: ``(source, point id of its chunk 0, digest)`` for each file.

    Returns:
        ``{source: chunks}`` for the files whose chunk 0 carries a record with *digest*.
    """
    if not files:
        return {}
    records = collection.retrieve([first for _, first, _ in files], with_payload=(FILE_KEY,))
    found = {str(record.id): (record.payload or {}).get(FILE_KEY) for record in records}
    unchanged: dict[str, int] = {}
    for source, first, digest in files:
        record = found.get(str(first))
        if not isinstance(record, Mapping) or record.get("digest") != digest:
            continue
        chunks = record.get("chunks")
        if isinstance(chunks, int) and not isinstance(chunks, bool) and chunks > 0:
            unchanged[source] = chunks
    return unchanged


def record_files(collection: Collection, files: Sequence[tuple[PointId, str, int]]) -> None:
    """Record on chunk 0 of each file its digest, chunk count and the time (all its chunks are
    stored).

    Args:
        collection: the collection.
        files: ``(point id of its chunk 0, digest, chunks)`` for each file.
    """
    now = datetime.now(UTC).isoformat(timespec="seconds")
    collection.set_payload(
        [(first, {FILE_KEY: {"digest": d, "chunks": n, "stored": now}}) for first, d, n in files]
    )


def prune_deleted(
    collection: Collection,
    covers: Callable[[str], bool],
    exists: Callable[[str], bool] = os.path.exists,
    *,
    progress: Progress | None = None,
) -> int:
    """Delete the points of files that no longer exist, among the sources *covers* accepts.

    Args:
        collection: the collection.
        covers: whether a source lies in what was ingested (folders given, files given).
        exists: whether a source file still exists.
        progress: ``progress(points read, all points)``.

    Returns:
        how many points were deleted.
    """
    gone: dict[str, bool] = {}
    doomed: list[PointId] = []
    for point, source in chunk_sources(collection, None, progress):
        if source is None or not covers(source):
            continue
        if source not in gone:
            gone[source] = not exists(source)
        if gone[source]:
            doomed.append(point)
    collection.delete(doomed)
    return len(doomed)
