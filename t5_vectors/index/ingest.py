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

:func:`run_ingest` is written once; :func:`arun_ingest` is its generated twin
(``scripts/generate_async.py``), the uploader a thread (:class:`Uploader`) in one and a task
(:class:`AsyncUploader`) in the other.

How the run goes is its :class:`~t5_vectors.plan.run.IngestRun`. Storage calls are retried on
transient failures by the collection (:mod:`t5_vectors.storage.retry`). When a batch fails for
good, ingestion stops (``on_failure="raise"``, the default) with an
:class:`~t5_vectors.errors.IngestError` naming the batch and how much was written, or records
the failure and goes on (``on_failure="continue"``).
Either way the :class:`~t5_vectors.errors.IngestReport` counts every document read as written,
skipped or failed.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Sequence,
)
from dataclasses import dataclass, replace
from functools import partial
from itertools import islice
from typing import Literal

from t5_vectors.errors import BatchFailure, IngestError, IngestReport, StorageFullError
from t5_vectors.index._encoding import EncodedBatch, PointEncoder
from t5_vectors.index.collection import Collection
from t5_vectors.plan.payload import PreparedDocument
from t5_vectors.plan.run import IngestRun
from t5_vectors.storage.errors import is_transient
from t5_vectors.storage.retry import RetryPolicy

Stage = Literal["reading documents", "checking stored hashes", "encoding", "uploading"]


@dataclass
class Encoded:
    """A batch encoded and on its way to the uploader."""

    batch: int
    first: int
    last: int
    documents: list[PreparedDocument]
    vectors: EncodedBatch


class Tally:
    """Counters shared by the reader and the uploader (thread-safe)."""

    def __init__(self, run: IngestRun, retry: RetryPolicy) -> None:
        from tqdm.auto import tqdm

        self.run = run
        self.retry = retry
        self.progress = tqdm(
            total=run.total, unit="doc", desc="ingest", disable=not run.show_progress
        )
        self.counts = IngestReport()
        self.batches = 0
        self.failures: list[BatchFailure] = []
        self.fatal: tuple[BatchFailure, BaseException] | None = None
        self.started = time.perf_counter()
        self.lock = threading.Lock()
        self.in_flight: dict[str, str] = {}

    @property
    def stopped(self) -> bool:
        return self.fatal is not None

    def skips(self, batch: int) -> bool:
        """Whether an encoded batch must not be uploaded: an earlier batch failed for good."""
        return self.fatal is not None and self.fatal[0].batch < batch

    def add(self, *, written: int = 0, skipped: int = 0, failed: int = 0) -> None:
        more = IngestReport(written=written, skipped=skipped, failed=failed)
        with self.lock:
            self.counts = self.counts.plus(more)
        self.progress.update(written + skipped + failed)

    def hold(self, documents: Sequence[PreparedDocument]) -> None:
        """Mark *documents* as encoded but not yet written."""
        with self.lock:
            for doc in documents:
                self.in_flight[doc.point_id] = doc.content_hash

    def release(self, documents: Sequence[PreparedDocument]) -> None:
        """*documents* were written (or given up on): Qdrant is the reference again."""
        with self.lock:
            for doc in documents:
                if self.in_flight.get(doc.point_id) == doc.content_hash:
                    del self.in_flight[doc.point_id]

    def changed(
        self, batch: list[PreparedDocument], stored: dict[str, object]
    ) -> list[PreparedDocument]:
        """The documents of *batch* whose hash differs from the latest version: one on its way
        to Qdrant, else the *stored* one."""
        with self.lock:
            latest = {
                d.point_id: self.in_flight.get(d.point_id, stored.get(d.point_id)) for d in batch
            }
        return [doc for doc in batch if latest[doc.point_id] != doc.content_hash]

    def elapsed(self, kind: Literal["encode", "qdrant", "wait", "lookup"], started: float) -> None:
        seconds = time.perf_counter() - started
        more = IngestReport(
            encode_seconds=seconds if kind == "encode" else 0.0,
            qdrant_seconds=seconds if kind in ("qdrant", "lookup") else 0.0,
            qdrant_wait_seconds=seconds if kind in ("wait", "lookup") else 0.0,
        )
        with self.lock:
            self.counts = self.counts.plus(more)

    def fail(
        self, batch: int, span: tuple[int, int], size: int, stage: Stage, error: BaseException
    ) -> None:
        failure = BatchFailure(
            batch, span[0], span[1], size, stage, f"{type(error).__name__}: {error}"
        )
        with self.lock:
            self.failures.append(failure)
            # A failed read leaves the iterable unusable: that always stops ingestion.
            fatal = self.run.on_failure == "raise" or stage == "reading documents"
            if fatal and self.fatal is None:
                self.fatal = (failure, error)
        self.add(failed=size)

    def finish(self) -> IngestReport:
        self.progress.close()
        report = replace(
            self.counts,
            batches=self.batches,
            seconds=time.perf_counter() - self.started,
            failures=tuple(self.failures),
        )
        if self.fatal is not None:
            failure, error = self.fatal
            message = _message(failure, error, report, self.retry)
            raise IngestError(message, report=report, failure=failure) from error
        return report


class Uploader:
    """The uploader thread: writes what :meth:`put` hands it, in order, one batch queued."""

    def __init__(self, upload: Callable[[Encoded], None], tally: Tally) -> None:
        self.tally = tally
        self._pending: queue.Queue[Encoded | None] = queue.Queue(maxsize=1)

        def work() -> None:
            while (item := self._pending.get()) is not None:
                upload(item)

        self._thread = threading.Thread(target=work, name="t5-vectors-upload", daemon=True)
        self._thread.start()

    def put(self, item: Encoded) -> None:
        started = time.perf_counter()
        self._pending.put(item)
        self.tally.elapsed("wait", started)

    def close(self) -> None:
        """Wait for the uploads handed over (the last one included)."""
        self._pending.put(None)
        started = time.perf_counter()
        self._thread.join()
        self.tally.elapsed("wait", started)


class AsyncUploader:
    """The uploader task: :class:`Uploader` on the event loop."""

    def __init__(self, upload: Callable[[Encoded], Awaitable[None]], tally: Tally) -> None:
        self.tally = tally
        self._pending: asyncio.Queue[Encoded | None] = asyncio.Queue(maxsize=1)

        async def work() -> None:
            while (item := await self._pending.get()) is not None:
                await upload(item)

        self._task = asyncio.create_task(work(), name="t5-vectors-upload")

    async def put(self, item: Encoded) -> None:
        started = time.perf_counter()
        await self._pending.put(item)
        self.tally.elapsed("wait", started)

    async def close(self) -> None:
        """Wait for the uploads handed over (the last one included)."""
        if not self._task.done():
            await self._pending.put(None)
        started = time.perf_counter()
        await self._task
        self.tally.elapsed("wait", started)


def batches(
    source: Iterable[PreparedDocument], size: int
) -> Iterator[tuple[list[PreparedDocument], BaseException | None]]:
    """*source* in lists of *size*; a failed read ends it with the error (and what was read)."""
    iterator = iter(source)
    while True:
        batch: list[PreparedDocument] = []
        try:
            batch.extend(islice(iterator, size))
        except Exception as error:
            yield batch, error
            return
        if not batch:
            return
        yield batch, None


async def abatches(
    source: AsyncIterable[PreparedDocument] | Iterable[PreparedDocument], size: int
) -> AsyncIterator[tuple[list[PreparedDocument], BaseException | None]]:
    """Async :func:`batches`, over an async iterable too."""
    if not isinstance(source, AsyncIterable):
        for item in batches(source, size):
            yield item
        return
    batch: list[PreparedDocument] = []
    try:
        async for doc in source:
            batch.append(doc)
            if len(batch) == size:
                yield batch, None
                batch = []
    except Exception as error:
        yield batch, error
        return
    if batch:
        yield batch, None


def _dedupe(batch: list[PreparedDocument]) -> list[PreparedDocument]:
    by_point = {doc.point_id: doc for doc in batch}
    return list(by_point.values()) if len(by_point) < len(batch) else batch


def run_ingest(
    source: Iterable[PreparedDocument],
    collection: Collection,
    encoder: PointEncoder,
    run: IngestRun,
) -> IngestReport:
    """Ingest *source* into *collection*, encoded by *encoder* (see the module docstring).

    This thread reads, looks up and encodes; one :class:`Uploader` thread writes.
    """
    tally = Tally(run, collection.retry)
    uploads = Uploader(partial(_upload, collection=collection, encoder=encoder, tally=tally), tally)
    held: Encoded | None = None
    first = 0
    try:
        for batch, error in batches(source, run.batch_size):
            if error is not None:
                span = (first, first + len(batch))
                tally.fail(tally.batches, span, len(batch), "reading documents", error)
                break
            number = tally.batches
            tally.batches += 1
            span = (first, first + len(batch) - 1)
            unique = _dedupe(batch)
            todo: list[PreparedDocument] | None = unique
            if not run.force and not run.lookup:  # nothing was stored: compare this run's
                todo = tally.changed(unique, {})
            elif not run.force:
                started = time.perf_counter()
                ids = [doc.point_id for doc in unique]
                try:
                    todo = tally.changed(unique, collection.hashes(ids))
                except Exception as failure:
                    tally.fail(number, span, len(batch), "checking stored hashes", failure)
                    todo = None
                tally.elapsed("lookup", started)
            if todo is not None:
                tally.add(skipped=len(batch) - len(todo))
            if held is not None:  # after the lookup, so that it never queues behind an upload
                uploads.put(held)
                held = None
            if todo:
                started = time.perf_counter()
                try:
                    vectors = encoder.documents([doc.text for doc in todo])
                except Exception as failure:
                    tally.fail(number, span, len(todo), "encoding", failure)
                else:
                    tally.hold(todo)
                    held = Encoded(number, span[0], span[1], todo, vectors)
                tally.elapsed("encode", started)
            first += len(batch)
            if tally.stopped:
                break
        if held is not None:
            uploads.put(held)
    finally:
        uploads.close()
    return tally.finish()


def _upload(item: Encoded, *, collection: Collection, encoder: PointEncoder, tally: Tally) -> None:
    """One upload: skipped after a fatal failure, else written and counted."""
    if tally.skips(item.batch):
        tally.add(failed=len(item.documents))
    else:
        started = time.perf_counter()
        try:
            collection.upsert(encoder.points(item.documents, item.vectors))
        except Exception as error:
            span = (item.first, item.last)
            tally.fail(item.batch, span, len(item.documents), "uploading", error)
        else:
            tally.add(written=len(item.documents))
        tally.elapsed("qdrant", started)
    tally.release(item.documents)


def _message(
    failure: BatchFailure, error: BaseException, report: IngestReport, retry: RetryPolicy
) -> str:
    attempts = retry.attempts if is_transient(error) else 1
    if failure.stage == "reading documents":
        where = f"reading document {failure.last} (batch {failure.batch}) raised"
        fix = "fix the documents (or the loader), then run the same ingestion again"
    else:
        where = (
            f"batch {failure.batch} (documents {failure.first}..{failure.last}) failed while "
            f"{failure.stage}"
        )
        if failure.stage == "encoding":
            fix = "fix the embedding model's error above, then run the same ingestion again"
        elif isinstance(error, StorageFullError):
            fix = f"free space on the disk under {error.path}, then run the same ingestion again"
        elif is_transient(error):
            fix = "check that Qdrant is reachable and healthy, then run the same ingestion again"
        else:
            fix = "Qdrant rejected the request; fix its cause above, then run the ingestion again"
        where += f" after {attempts} attempt{'s' if attempts > 1 else ''}"
    return (
        f"Ingestion stopped: {where}: {failure.error}\n"
        f"  written:  {report.written} documents before it ({report.skipped} skipped as "
        f"unchanged, {report.failed} read but not written)\n"
        f"  fix:      {fix}; documents already stored unchanged are skipped, so it resumes "
        "where it stopped."
    )


# --- async twins: generated by scripts/generate_async.py from the code above; do not edit ---
async def arun_ingest(
    source: AsyncIterable[PreparedDocument] | Iterable[PreparedDocument],
    collection: Collection,
    encoder: PointEncoder,
    run: IngestRun,
) -> IngestReport:
    """Async :func:`run_ingest`."""
    tally = Tally(run, collection.retry)
    uploads = AsyncUploader(
        partial(_aupload, collection=collection, encoder=encoder, tally=tally), tally
    )
    held: Encoded | None = None
    first = 0
    try:
        async for batch, error in abatches(source, run.batch_size):
            if error is not None:
                span = (first, first + len(batch))
                tally.fail(tally.batches, span, len(batch), "reading documents", error)
                break
            number = tally.batches
            tally.batches += 1
            span = (first, first + len(batch) - 1)
            unique = _dedupe(batch)
            todo: list[PreparedDocument] | None = unique
            if not run.force and (not run.lookup):
                todo = tally.changed(unique, {})
            elif not run.force:
                started = time.perf_counter()
                ids = [doc.point_id for doc in unique]
                try:
                    todo = tally.changed(unique, await collection.ahashes(ids))
                except Exception as failure:
                    tally.fail(number, span, len(batch), "checking stored hashes", failure)
                    todo = None
                tally.elapsed("lookup", started)
            if todo is not None:
                tally.add(skipped=len(batch) - len(todo))
            if held is not None:
                await uploads.put(held)
                held = None
            if todo:
                started = time.perf_counter()
                try:
                    vectors = await encoder.adocuments([doc.text for doc in todo])
                except Exception as failure:
                    tally.fail(number, span, len(todo), "encoding", failure)
                else:
                    tally.hold(todo)
                    held = Encoded(number, span[0], span[1], todo, vectors)
                tally.elapsed("encode", started)
            first += len(batch)
            if tally.stopped:
                break
        if held is not None:
            await uploads.put(held)
    finally:
        await uploads.close()
    return tally.finish()


async def _aupload(
    item: Encoded, *, collection: Collection, encoder: PointEncoder, tally: Tally
) -> None:
    """Async :func:`_upload`."""
    if tally.skips(item.batch):
        tally.add(failed=len(item.documents))
    else:
        started = time.perf_counter()
        try:
            await collection.aupsert(encoder.points(item.documents, item.vectors))
        except Exception as error:
            span = (item.first, item.last)
            tally.fail(item.batch, span, len(item.documents), "uploading", error)
        else:
            tally.add(written=len(item.documents))
        tally.elapsed("qdrant", started)
    tally.release(item.documents)


# --- end of async twins ---
