"""What an ingestion did: the report, the failure record, the error, and the live tally.

:class:`IngestReport` counts every document read as written, skipped or failed;
:class:`IngestError` stops an ingestion at a batch that failed for good and carries the report.
The three are plain types defined in :mod:`t5_vectors.errors` (which depends on nothing of the
package) and re-exported here. :class:`Tally` is the pipeline's shared, thread-safe
bookkeeping (not public API).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from t5_vectors.errors import BatchFailure, IngestError, IngestReport, StorageFullError
from t5_vectors.plan.payload import PreparedDocument
from t5_vectors.storage.retry import RetryPolicy, is_transient

__all__ = ["BatchFailure", "IngestError", "IngestReport", "OnFailure", "Stage", "Tally"]

OnFailure = Literal["raise", "continue"]
Stage = Literal["reading documents", "checking stored hashes", "encoding", "uploading"]


@dataclass
class Tally:
    """Counters shared by the reader and the uploader."""

    on_failure: OnFailure
    retry: RetryPolicy
    progress: Any
    counts: IngestReport = field(default_factory=IngestReport)
    batches: int = 0
    failures: list[BatchFailure] = field(default_factory=list)
    fatal: tuple[BatchFailure, BaseException] | None = None
    started: float = field(default_factory=time.perf_counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: dict[str, str] = field(default_factory=dict)

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

    def latest(self, ids: Sequence[str], stored: dict[str, object]) -> dict[str, object]:
        """The hash each point will have: a version on its way to Qdrant, else the stored one."""
        with self.lock:
            return {pid: self.in_flight.get(pid, stored.get(pid)) for pid in ids}

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
            fatal = self.on_failure == "raise" or stage == "reading documents"
            if fatal and self.fatal is None:
                self.fatal = (failure, error)
        self.add(failed=size)

    def report(self) -> IngestReport:
        return replace(
            self.counts,
            batches=self.batches,
            seconds=time.perf_counter() - self.started,
            failures=tuple(self.failures),
        )

    def finish(self) -> IngestReport:
        self.progress.close()
        report = self.report()
        if self.fatal is not None:
            failure, error = self.fatal
            raise IngestError(
                _message(failure, error, report, self.retry), report=report, failure=failure
            ) from error
        return report


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
