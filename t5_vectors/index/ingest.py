"""Streaming ingestion: read, skip what is stored, encode, and upload while the next batch encodes.

For each batch of ``batch_size`` documents pulled from the iterable (never more: memory does not
grow with the corpus):

1. duplicates of a point id inside the batch collapse to the last one;
2. the stored content hashes of the batch's points are fetched (one ``retrieve``) and compared
   with each document's hash (a version still on its way to Qdrant counts as stored);
   unchanged documents are skipped, so an unchanged corpus is neither encoded nor written
   (into a collection that was empty when the run began, nothing is fetched: only versions
   this run has on their way are compared);
3. the rest is encoded. Batch *n* goes to the single background uploader (through a queue of
   one batch) right after batch *n + 1* is looked up, so lookups never queue behind an upload
   (embedded Qdrant serves one call at a time), batch *n + 1* encodes while batch *n* uploads,
   and writes stay in input order. About four batches are in memory at any time.

The decisions (what to look up, skip, encode, hand over, count) are made once, in sans-I/O
generators (:func:`_batch_steps`, :func:`_upload_steps`) that yield the I/O they need; the
sync pipeline (a reader and an uploader thread) and the async one (a reader and an upload task)
are two small drivers of that one core.

Storage calls are retried on transient failures (:mod:`t5_vectors.storage.retry`). When a batch
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
    Generator,
    Iterable,
    Sequence,
)
from dataclasses import dataclass
from itertools import islice
from typing import Any, Protocol

from t5_vectors._steps import arun_steps, run_steps
from t5_vectors.plan.payload import PreparedDocument
from t5_vectors.plan.report import BatchFailure, IngestError, IngestReport, OnFailure, Tally
from t5_vectors.storage.retry import RetryPolicy

__all__ = [
    "AsyncSink",
    "BatchFailure",
    "IngestError",
    "IngestReport",
    "IngestRun",
    "OnFailure",
    "Sink",
    "arun_ingest",
    "run_ingest",
]


Vectors = Any
"""What a sink's ``embed`` returns for a batch; handed to its ``write`` unchanged."""


@dataclass(frozen=True)
class IngestRun:
    """How one ingestion runs.

    Attributes:
        batch_size: documents per batch.
        retry: how transient storage failures are retried.
        on_failure: ``"raise"`` stops at the first batch that fails for good, ``"continue"``
            records it and goes on.
        force: encode and write even documents stored unchanged.
        lookup: compare with stored content hashes (``False`` into a collection that was
            empty when the run began: only versions on their way are compared).
        show_progress: show a progress bar.
        total: how many documents the source holds, when known (for the bar).
    """

    batch_size: int
    retry: RetryPolicy
    on_failure: OnFailure = "raise"
    force: bool = False
    lookup: bool = True
    show_progress: bool = False
    total: int | None = None


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


@dataclass(frozen=True)
class _Lookup:
    """I/O asked by the core: the stored hashes of these point ids (retried)."""

    ids: list[str]


@dataclass(frozen=True)
class _HandOver:
    """I/O asked by the core: hand the batch encoded before to the uploader."""


@dataclass(frozen=True)
class _Embed:
    """I/O asked by the core: the vectors of these texts."""

    texts: list[str]


@dataclass(frozen=True)
class _Write:
    """I/O asked by the core: write this encoded batch (retried)."""

    item: _Encoded


_Op = _Lookup | _HandOver | _Embed | _Write
_Steps = Generator[_Op, Any, _Encoded | None]


def _batch_steps(
    batch: list[PreparedDocument],
    number: int,
    first: int,
    tally: Tally,
    force: bool,
    lookup: bool = True,
) -> _Steps:
    """One batch, sans I/O: look up stored hashes, hand over the batch before, encode.

    Without *lookup* (the collection was empty when the run began) only the versions this
    run still has on their way are compared, with no storage call. The lookup comes before
    the hand-over so that it never queues behind that upload
    (an embedded engine may serve one call at a time), and the upload runs while this batch
    encodes. Returns the encoded batch, or ``None`` (nothing to write, or a failure recorded).
    """
    todo: list[PreparedDocument] | None = _dedupe(batch)
    assert todo is not None
    if not force and not lookup:  # nothing was stored before: only this run's versions count
        todo = _changed(todo, tally.latest([doc.point_id for doc in todo], {}))
    elif not force:
        ids = [doc.point_id for doc in todo]
        started = time.perf_counter()
        try:
            stored = yield _Lookup(ids)
        except Exception as error:
            tally.fail(number, _span(first, batch), len(batch), "checking stored hashes", error)
            todo = None
        else:
            todo = _changed(todo, tally.latest(ids, stored))
        finally:
            tally.elapsed("lookup", started)
    if todo is not None:
        tally.add(skipped=len(batch) - len(todo))
    yield _HandOver()
    if not todo:
        return None
    started = time.perf_counter()
    try:
        vectors = yield _Embed([doc.text for doc in todo])
    except Exception as error:
        tally.fail(number, _span(first, batch), len(todo), "encoding", error)
        return None
    finally:
        tally.elapsed("encode", started)
    tally.hold(todo)
    return _Encoded(number, first, first + len(batch) - 1, todo, vectors)


def _upload_steps(item: _Encoded, tally: Tally) -> _Steps:
    """One upload, sans I/O: skipped after a fatal failure, else written and counted."""
    if tally.skips(item.batch):
        tally.add(failed=len(item.documents))
    else:
        started = time.perf_counter()
        try:
            yield _Write(item)
        except Exception as error:
            span = (item.first, item.last)
            tally.fail(item.batch, span, len(item.documents), "uploading", error)
        else:
            tally.add(written=len(item.documents))
        finally:
            tally.elapsed("qdrant", started)
    tally.release(item.documents)
    return None


def _drive(steps: _Steps, do: Callable[[_Op], Any]) -> _Encoded | None:
    """Run *steps*, doing each I/O it asks with *do* (errors are thrown back into it)."""
    return run_steps(steps, do)


async def _adrive(steps: _Steps, do: Callable[[_Op], Awaitable[Any]]) -> _Encoded | None:
    """Async :func:`_drive`."""
    return await arun_steps(steps, do)


def run_ingest(source: Iterable[PreparedDocument], sink: Sink, run: IngestRun) -> IngestReport:
    """Ingest *source* into *sink* (see the module docstring); returns the report.

    A reader (this thread) drives :func:`_batch_steps`; one uploader thread drives
    :func:`_upload_steps` through a queue of one batch.
    """
    tally = Tally(run.on_failure, run.retry, _progress(run.show_progress, run.total))
    retry, batch_size, force, lookup = run.retry, run.batch_size, run.force, run.lookup
    pending: queue.Queue[_Encoded | None] = queue.Queue(maxsize=1)

    def write(op: _Op) -> None:
        assert isinstance(op, _Write)
        retry.call(lambda: sink.write(op.item.documents, op.item.vectors))

    def upload() -> None:
        while (item := pending.get()) is not None:
            _drive(_upload_steps(item, tally), write)

    def hand_over(item: _Encoded | None) -> None:
        started = time.perf_counter()
        pending.put(item)
        tally.elapsed("wait", started)

    held: list[_Encoded] = []

    def do(op: _Op) -> Any:
        if isinstance(op, _Lookup):
            ids = op.ids
            return tally.retry.call(lambda: sink.stored_hashes(ids))
        if isinstance(op, _HandOver):
            if held:
                hand_over(held.pop())
            return None
        assert isinstance(op, _Embed)
        return sink.embed(op.texts)

    uploader = threading.Thread(target=upload, name="t5-vectors-upload", daemon=True)
    uploader.start()
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
            encoded = _drive(_batch_steps(batch, number, first, tally, force, lookup), do)
            if encoded is not None:
                held.append(encoded)
            first += len(batch)
        if held:
            hand_over(held.pop())
    finally:
        hand_over(None)
        started = time.perf_counter()
        uploader.join()  # the last upload is waited for
        tally.elapsed("wait", started)
    return tally.finish()


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
    run: IngestRun,
) -> IngestReport:
    """Async :func:`run_ingest`: the same core, one upload task, encoding awaited natively."""
    tally = Tally(run.on_failure, run.retry, _progress(run.show_progress, run.total))
    retry, batch_size, force, lookup = run.retry, run.batch_size, run.force, run.lookup
    pending: asyncio.Queue[_Encoded | None] = asyncio.Queue(maxsize=1)

    async def write(op: _Op) -> None:
        assert isinstance(op, _Write)
        item = op.item
        await retry.acall(lambda: sink.awrite(item.documents, item.vectors))

    async def upload() -> None:
        while (item := await pending.get()) is not None:
            await _adrive(_upload_steps(item, tally), write)

    uploader = asyncio.create_task(upload(), name="t5-vectors-upload")
    try:
        async with contextlib.aclosing(_abatches(source, batch_size)) as batches:
            await _aread(batches, pending, sink, tally, force, lookup)
    except BaseException:
        uploader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await uploader
        raise
    await _ahand_over(pending, None, tally)
    started = time.perf_counter()
    await uploader  # the last upload is waited for
    tally.elapsed("wait", started)
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
    lookup: bool,
) -> None:
    held: list[_Encoded] = []

    async def do(op: _Op) -> Any:
        if isinstance(op, _Lookup):
            ids = op.ids
            fetch: Callable[[], Awaitable[dict[str, object]]] = lambda: sink.astored_hashes(ids)  # noqa: E731
            return await tally.retry.acall(fetch)
        if isinstance(op, _HandOver):
            if held:
                await _ahand_over(pending, held.pop(), tally)
            return None
        assert isinstance(op, _Embed)
        return await sink.aembed(op.texts)

    first = 0
    async for batch, error in batches:
        if error is not None:
            span = (first, first + len(batch))
            tally.fail(tally.batches, span, len(batch), "reading documents", error)
            break
        number, tally.batches = tally.batches, tally.batches + 1
        encoded = await _adrive(_batch_steps(batch, number, first, tally, force, lookup), do)
        if encoded is not None:
            held.append(encoded)
        first += len(batch)
        if tally.stopped:
            break
    if held:
        await _ahand_over(pending, held.pop(), tally)
