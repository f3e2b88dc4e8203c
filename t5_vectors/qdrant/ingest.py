"""Streaming ingestion: read, skip what is stored, encode, and upload while the next batch encodes.

For each batch of ``batch_size`` documents pulled from the iterable (never more: memory does not
grow with the corpus):

1. duplicates of a point id inside the batch collapse to the last one;
2. the stored content hashes of the batch's points are fetched (one ``retrieve``) and compared
   with each document's hash (a version still on its way to Qdrant counts as stored);
   unchanged documents are skipped, so an unchanged corpus is neither encoded nor written;
3. the rest is encoded. Batch *n* goes to the single background uploader (through a queue of
   one batch) right after batch *n + 1* is looked up, so lookups never queue behind an upload
   (embedded Qdrant serves one call at a time), batch *n + 1* encodes while batch *n* uploads,
   and writes stay in input order. About four batches are in memory at any time.

Qdrant calls are retried on transient failures (:mod:`t5_vectors.qdrant.retry`). When a batch
fails for good, ingestion stops (``on_failure="raise"``, the default) with an
:class:`IngestError` naming the batch and how much was written, or records the failure and goes
on (``on_failure="continue"``). Either way :class:`IngestReport` counts every document read as
written, skipped or failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
from dataclasses import dataclass
from itertools import islice
from typing import Any, Protocol

from t5_vectors.qdrant.payload import PreparedDocument
from t5_vectors.qdrant.report import BatchFailure, IngestError, IngestReport, OnFailure, Tally
from t5_vectors.qdrant.retry import RetryPolicy

__all__ = [
    "AsyncSink",
    "BatchFailure",
    "IngestError",
    "IngestReport",
    "OnFailure",
    "Sink",
    "arun_ingest",
    "run_ingest",
]


Vectors = Any
"""What a sink's ``embed`` returns for a batch; handed to its ``write`` unchanged."""


class Sink(Protocol):
    """Where a sync ingestion reads stored hashes, embeds and writes (``QdrantIndex``)."""

    def stored_hashes(self, point_ids: Sequence[str]) -> dict[str, object]: ...
    def embed(self, texts: Sequence[str]) -> Vectors: ...
    def write(self, documents: Sequence[PreparedDocument], vectors: Vectors) -> None: ...


class AsyncSink(Protocol):
    """Async :class:`Sink`."""

    async def astored_hashes(self, point_ids: Sequence[str]) -> dict[str, object]: ...
    async def aembed(self, texts: Sequence[str]) -> Vectors: ...
    async def awrite(self, documents: Sequence[PreparedDocument], vectors: Vectors) -> None: ...


@dataclass
class _Encoded:
    batch: int
    first: int
    last: int
    documents: list[PreparedDocument]
    vectors: Vectors


def _changed(batch: list[PreparedDocument], latest: dict[str, object]) -> list[PreparedDocument]:
    return [doc for doc in batch if latest.get(doc.point_id) != doc.content_hash]


def _span(first: int, batch: list[PreparedDocument]) -> tuple[int, int]:
    return first, first + len(batch) - 1


def _dedupe(batch: list[PreparedDocument]) -> list[PreparedDocument]:
    by_point = {doc.point_id: doc for doc in batch}
    return list(by_point.values()) if len(by_point) < len(batch) else batch


def _progress(show: bool, total: int | None) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="doc", desc="ingest", disable=not show)


def run_ingest(
    source: Iterable[PreparedDocument],
    sink: Sink,
    *,
    batch_size: int,
    retry: RetryPolicy,
    on_failure: OnFailure = "raise",
    force: bool = False,
    show_progress: bool = False,
    total: int | None = None,
) -> IngestReport:
    """Ingest *source* into *sink* (see the module docstring); returns the report.

    The reader looks up batch *n + 1* before it hands encoded batch *n* to the uploader, so the
    lookup never queues behind that upload (embedded Qdrant serves one call at a time), and the
    upload of *n* runs while *n + 1* encodes.
    """
    tally = Tally(on_failure, retry, _progress(show_progress, total))
    pending: queue.Queue[_Encoded | None] = queue.Queue(maxsize=1)

    def upload() -> None:
        while (item := pending.get()) is not None:
            if tally.skips(item.batch):
                tally.add(failed=len(item.documents))
            else:
                started = time.perf_counter()
                try:
                    retry.call(lambda: sink.write(item.documents, item.vectors))
                except Exception as error:
                    span = (item.first, item.last)
                    tally.fail(item.batch, span, len(item.documents), "uploading", error)
                else:
                    tally.add(written=len(item.documents))
                finally:
                    tally.elapsed("qdrant", started)
            tally.release(item.documents)

    def hand_over(item: _Encoded | None) -> None:
        started = time.perf_counter()
        pending.put(item)
        tally.elapsed("wait", started)

    uploader = threading.Thread(target=upload, name="t5-vectors-upload", daemon=True)
    uploader.start()
    held: _Encoded | None = None
    try:
        iterator = iter(source)
        first = 0
        while not tally.stopped:
            batch: list[PreparedDocument] = []
            try:
                batch.extend(islice(iterator, batch_size))
            except Exception as error:
                span = (first, first + len(batch))
                tally.fail(tally.batches, span, len(batch), "reading documents", error)
                break
            if not batch:
                break
            number, tally.batches = tally.batches, tally.batches + 1
            todo = _lookup(batch, number, first, sink, tally, force)
            if held is not None:
                hand_over(held)
                held = None
            if todo:
                held = _encode(todo, batch, number, first, sink, tally)
            first += len(batch)
        if held is not None:
            hand_over(held)
    finally:
        hand_over(None)
        uploader.join()
    return tally.finish()


def _lookup(
    batch: list[PreparedDocument],
    number: int,
    first: int,
    sink: Sink,
    tally: Tally,
    force: bool,
) -> list[PreparedDocument]:
    """The documents of *batch* to encode: not stored (or on their way) unchanged."""
    todo = _dedupe(batch)
    if not force:
        ids = [doc.point_id for doc in todo]
        started = time.perf_counter()
        try:
            stored = tally.retry.call(lambda: sink.stored_hashes(ids))
        except Exception as error:
            tally.fail(number, _span(first, batch), len(batch), "checking stored hashes", error)
            return []
        finally:
            tally.elapsed("lookup", started)
        todo = _changed(todo, tally.latest(ids, stored))
    tally.add(skipped=len(batch) - len(todo))
    return todo


def _encode(
    todo: list[PreparedDocument],
    batch: list[PreparedDocument],
    number: int,
    first: int,
    sink: Sink,
    tally: Tally,
) -> _Encoded | None:
    started = time.perf_counter()
    try:
        vectors = sink.embed([doc.text for doc in todo])
    except Exception as error:
        tally.fail(number, _span(first, batch), len(todo), "encoding", error)
        return None
    finally:
        tally.elapsed("encode", started)
    tally.hold(todo)
    return _Encoded(number, first, first + len(batch) - 1, todo, vectors)


async def _abatches(
    source: AsyncIterable[PreparedDocument] | Iterable[PreparedDocument], size: int
) -> AsyncGenerator[tuple[list[PreparedDocument], BaseException | None], None]:
    batch: list[PreparedDocument] = []
    try:
        if isinstance(source, AsyncIterable):
            async for doc in source:
                batch.append(doc)
                if len(batch) == size:
                    yield batch, None
                    batch = []
        else:
            for doc in source:
                batch.append(doc)
                if len(batch) == size:
                    yield batch, None
                    batch = []
    except Exception as error:
        yield batch, error
        return
    if batch:
        yield batch, None


async def arun_ingest(
    source: AsyncIterable[PreparedDocument] | Iterable[PreparedDocument],
    sink: AsyncSink,
    *,
    batch_size: int,
    retry: RetryPolicy,
    on_failure: OnFailure = "raise",
    force: bool = False,
    show_progress: bool = False,
    total: int | None = None,
) -> IngestReport:
    """Async :func:`run_ingest`: one upload task, encoding awaited natively."""
    tally = Tally(on_failure, retry, _progress(show_progress, total))
    pending: asyncio.Queue[_Encoded | None] = asyncio.Queue(maxsize=1)

    async def upload() -> None:
        while (item := await pending.get()) is not None:
            if tally.skips(item.batch):
                tally.add(failed=len(item.documents))
            else:
                started = time.perf_counter()
                try:
                    await retry.acall(lambda: sink.awrite(item.documents, item.vectors))
                except Exception as error:
                    span = (item.first, item.last)
                    tally.fail(item.batch, span, len(item.documents), "uploading", error)
                else:
                    tally.add(written=len(item.documents))
                finally:
                    tally.elapsed("qdrant", started)
            tally.release(item.documents)

    uploader = asyncio.create_task(upload(), name="t5-vectors-upload")
    try:
        async with contextlib.aclosing(_abatches(source, batch_size)) as batches:
            await _aread(batches, pending, sink, tally, force)
    except BaseException:
        uploader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await uploader
        raise
    await _ahand_over(pending, None, tally)
    await uploader
    return tally.finish()


async def _ahand_over(
    pending: asyncio.Queue[_Encoded | None], item: _Encoded | None, tally: Tally
) -> None:
    started = time.perf_counter()
    await pending.put(item)
    tally.elapsed("wait", started)


async def _aread(
    batches: AsyncIterator[tuple[list[PreparedDocument], BaseException | None]],
    pending: asyncio.Queue[_Encoded | None],
    sink: AsyncSink,
    tally: Tally,
    force: bool,
) -> None:
    first = 0
    held: _Encoded | None = None
    async for batch, error in batches:
        if error is not None:
            span = (first, first + len(batch))
            tally.fail(tally.batches, span, len(batch), "reading documents", error)
            break
        number, tally.batches = tally.batches, tally.batches + 1
        todo = await _alookup(batch, number, first, sink, tally, force)
        if held is not None:
            await _ahand_over(pending, held, tally)
            held = None
        if todo:
            held = await _aencode(todo, batch, number, first, sink, tally)
        first += len(batch)
        if tally.stopped:
            break
    if held is not None:
        await _ahand_over(pending, held, tally)


async def _alookup(
    batch: list[PreparedDocument],
    number: int,
    first: int,
    sink: AsyncSink,
    tally: Tally,
    force: bool,
) -> list[PreparedDocument]:
    todo = _dedupe(batch)
    if not force:
        ids = [doc.point_id for doc in todo]
        lookup: Callable[[], Awaitable[dict[str, object]]] = lambda: sink.astored_hashes(ids)  # noqa: E731
        started = time.perf_counter()
        try:
            stored = await tally.retry.acall(lookup)
        except Exception as error:
            tally.fail(number, _span(first, batch), len(batch), "checking stored hashes", error)
            return []
        finally:
            tally.elapsed("lookup", started)
        todo = _changed(todo, tally.latest(ids, stored))
    tally.add(skipped=len(batch) - len(todo))
    return todo


async def _aencode(
    todo: list[PreparedDocument],
    batch: list[PreparedDocument],
    number: int,
    first: int,
    sink: AsyncSink,
    tally: Tally,
) -> _Encoded | None:
    started = time.perf_counter()
    try:
        vectors = await sink.aembed([doc.text for doc in todo])
    except Exception as error:
        tally.fail(number, _span(first, batch), len(todo), "encoding", error)
        return None
    finally:
        tally.elapsed("encode", started)
    tally.hold(todo)
    return _Encoded(number, first, first + len(batch) - 1, todo, vectors)
