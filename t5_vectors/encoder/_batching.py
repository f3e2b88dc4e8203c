"""Length-sorted, token-budget batches, and the micro-batcher that coalesces concurrent callers.

:func:`plan_batches` sorts texts by token count and cuts batches so that each holds at most
``token_budget`` *padded* tokens (rows x longest row) and ``max_batch_size`` rows.

:class:`MicroBatcher` owns one worker thread that runs every forward pass. Callers, from any thread
or event loop, submit already-tokenized requests and get a :class:`concurrent.futures.Future`;
async callers await it through :func:`asyncio.wrap_future`, so no thread is spent per call. Each
step the worker builds one batch: it takes the next longest items of a *lead* request (round robin
over pending requests, so a bulk ingest cannot starve single queries) and fills the rest of the
budget with the next items of the requests queued after it, in order (looking at no more of them
than the batch can take). Many single-text calls therefore share one forward pass, and each
caller gets exactly its own rows back. If a forward pass raises, only the requests with items in
that batch fail (with :class:`EncodingError`); the worker keeps serving.

With a *launch* function (a forward pass that returns once its work is queued on a device, and a
handle to collect the results later), the worker keeps one batch in flight: it queues batch
*n + 1* before it waits for batch *n*, so building and staging the next batch overlaps the
device's work on the current one.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from t5_vectors._checks import ensured
from t5_vectors.errors import EncoderClosedError, EncodingError


def plan_batches(
    lengths: Sequence[int], *, token_budget: int, max_batch_size: int
) -> list[list[int]]:
    """Indices of *lengths* grouped into length-sorted batches under a padded-token budget.

    Longest first; a single text longer than the budget gets a batch of its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order:
        length = lengths[index]
        if current and (
            len(current) >= max_batch_size
            or max(longest, length) * (len(current) + 1) > token_budget
        ):
            batches.append(current)
            current, longest = [], 0
        current.append(index)
        longest = max(longest, length)
    if current:
        batches.append(current)
    return batches


@dataclass(eq=False)
class BatchItem:
    """One text of a request: its token ids, where its result goes, and what it needs."""

    request: _Request
    index: int
    ids: list[int]
    pool_start: int = 0


@dataclass(eq=False)
class _Request:
    want: str  # "pooled" | "tokens" | "both"
    size: int
    future: Future[Any]
    progress: Callable[[int], None] | None
    items: collections.deque[BatchItem] = field(default_factory=collections.deque)
    results: Any = None
    remaining: int = 0


def empty_results(want: str, size: int, dim: int) -> Any:
    """Where the rows of a call of *size* texts land: an array (``"pooled"``), a list
    (``"tokens"``) or both (``"both"``), filled in by row as batches finish."""
    if want == "pooled":
        return np.empty((size, dim), dtype=np.float32)
    if want == "both":
        return (np.empty((size, dim), dtype=np.float32), [None] * size)
    return [None] * size


# Runs one batch; returns (pooled rows or None, token arrays or None), aligned with the batch.
BatchOutput = tuple[np.ndarray | None, list[np.ndarray] | None]
RunBatch = Callable[[list[BatchItem], bool, bool], BatchOutput]


class Collectable(Protocol):
    """A queued forward pass: :meth:`collect` waits for it and returns its output."""

    def collect(self) -> BatchOutput: ...


# Queues one batch on a device; the handle's collect() returns what RunBatch would.
LaunchBatch = Callable[[list[BatchItem], bool, bool], Collectable]


@dataclass(eq=False)
class _InFlight:
    batch: list[BatchItem]
    handle: Collectable
    started: float  # time.perf_counter() when it was launched


# Weight of the newest forward pass in the moving average of their times.
_PASS_WEIGHT = 0.25

# A batch is cut from at most this many pending requests per ``max_batch_size`` rows.
_SCAN_FACTOR = 4


class MicroBatcher:
    """A worker thread that runs forward passes for all callers (see the module docstring)."""

    def __init__(
        self,
        run_batch: RunBatch,
        *,
        dim: int,
        token_budget: int,
        max_batch_size: int,
        max_wait: float = 0.0,
        launch: LaunchBatch | None = None,
    ) -> None:
        self._run_batch = run_batch
        self._launch = launch
        self._dim = dim
        self.token_budget = token_budget
        self.max_batch_size = max_batch_size
        self._cond = threading.Condition()
        self._pending: collections.deque[_Request] = collections.deque()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.max_wait = max_wait
        self._concurrent = False  # the last batch served several requests
        self._pass_seconds: float | None = None  # moving average of a forward pass's time
        #: Forward passes run so far, and the texts they held (both only grow).
        self.batches_run = 0
        self.texts_run = 0

    # ----------------------------------------------------------------------------- submission
    def submit(
        self,
        token_ids: Sequence[list[int]],
        *,
        want: str = "pooled",
        pool_starts: Sequence[int] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Future[Any]:
        """Queue tokenized texts; the future resolves to an array (pooled), a list (tokens) or
        a ``(array, list)`` pair (both, from the same forward pass)."""
        future: Future[Any] = Future()
        request = _Request(want=want, size=len(token_ids), future=future, progress=progress)
        request.results = empty_results(want, len(token_ids), self._dim)
        if not token_ids:
            future.set_result(request.results)
            return future
        starts = pool_starts if pool_starts is not None else [0] * len(token_ids)
        order = sorted(range(len(token_ids)), key=lambda i: -len(token_ids[i]))
        request.items.extend(BatchItem(request, i, token_ids[i], starts[i]) for i in order)
        request.remaining = len(token_ids)
        with self._cond:
            if self._closed:
                raise EncoderClosedError(
                    "The encoder was closed; expected an open encoder. Create a new one with "
                    "T5Encoder.from_pretrained(...)."
                )
            self._pending.append(request)
            if self._thread is None:
                self._start_worker()
            self._cond.notify()
        return future

    def close(self, timeout: float | None = None) -> None:
        """Stop the worker after the batch in flight; pending requests fail."""
        with self._cond:
            self._closed = True
            pending = list(self._pending)
            self._pending.clear()
            self._cond.notify_all()
            thread = self._thread
        for request in pending:
            _fail(request, EncoderClosedError("The encoder was closed before this call finished."))
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # ---------------------------------------------------------------------------- the worker
    def _next_batch(self, *, block: bool = True) -> list[BatchItem] | None:
        """The next batch; ``None`` once closed; ``[]`` when there is none and not *block*."""
        with self._cond:
            while block and not self._pending and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            if block:  # with a batch in flight, its callers must not wait for new ones
                self._gather_concurrent_callers()
            return self._take_batch()

    def _take_batch(self) -> list[BatchItem]:
        """Cut the next batch from the pending requests (call with the lock held).

        Costs the requests it looks at, not the whole queue: under an open-loop burst of async
        callers thousands of single-text requests can be pending, and a pass over all of them
        per batch (under the lock, holding the GIL) made the worker slower the longer the
        queue grew. The scan stops once the batch is full by size or by token budget, or after
        ``_SCAN_FACTOR * max_batch_size`` requests; requests cancelled by their callers are
        dropped when the scan reaches them.
        """
        pending = self._pending
        while pending and pending[0].future.cancelled():
            pending.popleft()
        if not pending:
            return []
        batch: list[BatchItem] = []
        longest = 0
        scanned = 0
        scan_limit = _SCAN_FACTOR * self.max_batch_size
        full = False
        for request in pending:  # the lead first, then the others in order
            scanned += 1
            if request.future.cancelled():
                request.items.clear()  # removed with the drained ones below
                continue
            items = request.items
            while items:
                if len(batch) >= self.max_batch_size:
                    full = True
                    break
                new_longest = max(longest, len(items[0].ids))
                if batch and new_longest * (len(batch) + 1) > self.token_budget:
                    # No text is shorter than one token: if even the current longest does
                    # not fit once more, nothing else can.
                    full = longest * (len(batch) + 1) > self.token_budget
                    break
                batch.append(items.popleft())
                longest = new_longest
            if full or scanned >= scan_limit:
                break
        self._concurrent = len({id(item.request) for item in batch}) > 1
        # Round robin: the lead goes to the back if it still has items; drained ones leave.
        head = [pending.popleft() for _ in range(scanned)]
        pending.extendleft(request for request in reversed(head[1:]) if request.items)
        if head[0].items:
            pending.append(head[0])
        return batch

    def _gather_concurrent_callers(self) -> None:
        """Wait up to ``max_wait`` for more callers, but only while callers are concurrent.

        When the last batch served several requests, callers are arriving concurrently (many
        threads or tasks issuing single queries); a short wait lets the next batch take all of
        them instead of a few. A lone caller never waits. Call with the lock held.
        """
        wait = self.gather_seconds()
        if wait <= 0 or not self._concurrent:
            return
        deadline = time.monotonic() + wait
        while not self._closed and not self._pending_items_reach(self.max_batch_size):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._cond.wait(remaining)

    def gather_seconds(self) -> float:
        """How long the worker waits for concurrent callers before a forward pass.

        ``max_wait``, but never longer than a forward pass has been taking (a moving
        average): a wait longer than the pass it fills costs the callers more than running
        the pass at once and another after it. With a tiny model (2 ms passes) a 10 ms wait
        had put 10 ms on every query's latency under load.
        """
        if self._pass_seconds is None:
            return self.max_wait
        return min(self.max_wait, self._pass_seconds)

    def _timed(self, started: float) -> None:
        """Fold the pass that began at *started* (``time.perf_counter()``) into the average."""
        seconds = time.perf_counter() - started
        average = self._pass_seconds
        self._pass_seconds = (
            seconds if average is None else average + _PASS_WEIGHT * (seconds - average)
        )

    def _pending_items_reach(self, count: int) -> bool:
        """Whether the pending requests hold at least *count* texts (stops counting there)."""
        total = 0
        for request in self._pending:
            total += len(request.items)
            if total >= count:
                return True
        return False

    def _start_worker(self) -> None:
        """Start the worker thread (call with the lock held)."""
        self._thread = threading.Thread(target=self._worker, name="t5-vectors-encoder", daemon=True)
        self._thread.start()

    def _worker(self) -> None:
        batch: list[BatchItem] = []
        in_flight: _InFlight | None = None
        try:
            while True:
                batch = []
                next_batch = self._next_batch(block=in_flight is None)
                if next_batch is None:
                    if in_flight is not None:
                        batch = in_flight.batch
                        self._collect(in_flight)
                    return
                batch = next_batch
                launched = self._start(batch) if batch else None
                if in_flight is not None:
                    batch = in_flight.batch
                    self._collect(in_flight)
                in_flight = launched
        except BaseException as err:  # never leave callers waiting on a dead worker
            if in_flight is not None and in_flight.batch is not batch:
                self._fail_batch(in_flight.batch, err)
            self._replace_worker(batch, err)

    def _replace_worker(self, batch: list[BatchItem], err: BaseException) -> None:
        """The worker died outside a forward pass: fail its batch, start a new worker."""
        self._fail_requests(
            batch,
            err,
            f"The encoder's worker thread stopped while serving a batch of {len(batch)} texts",
            "Only the calls in that batch failed; a new worker serves the others.",
        )
        with self._cond:
            self._thread = None
            if self._pending and not self._closed:
                self._start_worker()

    def _start(self, batch: list[BatchItem]) -> _InFlight | None:
        """Run *batch*, or queue it when a launch function was given."""
        requests = {id(item.request): item.request for item in batch}
        need_pooled = any(r.want != "tokens" for r in requests.values())
        need_tokens = any(r.want != "pooled" for r in requests.values())
        self.batches_run += 1
        self.texts_run += len(batch)
        started = time.perf_counter()
        try:
            if self._launch is not None:
                return _InFlight(batch, self._launch(batch, need_pooled, need_tokens), started)
            output = self._run_batch(batch, need_pooled, need_tokens)
        except BaseException as err:  # SystemExit in this thread would kill the worker
            self._fail_batch(batch, err)
            return None
        self._timed(started)
        self._deliver(batch, output)
        return None

    def _collect(self, in_flight: _InFlight) -> None:
        """Wait for a queued batch and hand its rows to their callers."""
        try:
            output = in_flight.handle.collect()
        except BaseException as err:
            self._fail_batch(in_flight.batch, err)
            return
        self._timed(in_flight.started)
        self._deliver(in_flight.batch, output)

    def _fail_batch(self, batch: list[BatchItem], err: BaseException) -> None:
        """Fail every request with items in *batch*; the others keep being served."""
        self._fail_requests(
            batch,
            err,
            f"The forward pass over a batch of {len(batch)} texts failed",
            "Only the calls in this batch failed; the encoder keeps serving.",
        )

    def _fail_requests(
        self, batch: list[BatchItem], cause: BaseException, what: str, then: str
    ) -> None:
        """Take the requests with items in *batch* out of the queue, with their remaining
        items, and fail them with an :class:`EncodingError`: *what* happened, *cause*, *then*
        what follows."""
        error = EncodingError(f"{what}: {type(cause).__name__}: {cause}. {then}")
        error.__cause__ = cause
        requests = {id(item.request): item.request for item in batch}
        with self._cond:
            for request in requests.values():
                request.items.clear()
                if request in self._pending:
                    self._pending.remove(request)
        for request in requests.values():
            _fail(request, error)

    def _deliver(self, batch: list[BatchItem], output: BatchOutput) -> None:
        """Copy each row of *output* to its request; resolve the requests that are complete."""
        pooled, tokens = output
        requests = {id(item.request): item.request for item in batch}
        done: dict[int, int] = collections.Counter()
        for row, item in enumerate(batch):
            request = item.request
            if request.future.done():
                continue
            if request.want == "pooled":
                request.results[item.index] = ensured(pooled, "the pooled vectors")[row]
            elif request.want == "both":
                request.results[0][item.index] = ensured(pooled, "the pooled vectors")[row]
                request.results[1][item.index] = ensured(tokens, "the token vectors")[row]
            else:
                request.results[item.index] = ensured(tokens, "the token vectors")[row]
            request.remaining -= 1
            done[id(request)] += 1
        for key, count in done.items():
            request = requests[key]
            if request.progress is not None:
                with contextlib.suppress(Exception):
                    request.progress(count)
            if request.remaining == 0 and not request.future.done():
                with contextlib.suppress(Exception):
                    request.future.set_result(request.results)


def _fail(request: _Request, error: BaseException) -> None:
    if not request.future.done():
        with contextlib.suppress(Exception):
            request.future.set_exception(error)
