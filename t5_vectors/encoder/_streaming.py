"""One future for a large call that is tokenized and queued chunk by chunk.

``T5Encoder`` tokenizes a call of more than ``tokenize_chunk`` texts in a background thread, one
chunk at a time, and queues each chunk on the micro-batcher as it is ready, so forward passes
start on the first chunk while the others are still being tokenized. :class:`StreamedCall`
gathers the chunks' futures into the single future the caller waits on: rows land in the
caller's order, the first failure fails the call, and cancelling the call cancels its chunks.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future, InvalidStateError
from typing import Any

from t5_vectors.encoder._batching import empty_results


class StreamedCall:
    """Gathers the chunk futures of one large call into a single future."""

    def __init__(self, size: int, dim: int, want: str) -> None:
        self.future: Future[Any] = Future()
        self.want = want
        self._lock = threading.Lock()
        self._parts: list[Future[Any]] = []
        self._pending_rows = size
        self.results: Any = empty_results(want, size, dim)
        self.future.add_done_callback(self._cancel_parts)

    def add(self, start: int, part: Future[Any]) -> None:
        """Track one chunk's future; its rows go to ``start:start + len``."""
        with self._lock:
            self._parts.append(part)
        part.add_done_callback(lambda done: self._land(start, done))

    def fail(self, err: BaseException) -> None:
        with contextlib.suppress(InvalidStateError):
            self.future.set_exception(err)

    def _land(self, start: int, part: Future[Any]) -> None:
        if self.future.done():
            return
        if part.cancelled():
            self.future.cancel()
            return
        err = part.exception()
        if err is not None:
            self.fail(err)
            return
        value = part.result()
        if self.want == "both":
            rows = len(value[1])
            self.results[0][start : start + rows] = value[0]
            self.results[1][start : start + rows] = value[1]
        else:  # an array of pooled rows, or a list of token arrays
            rows = len(value)
            self.results[start : start + rows] = value
        with self._lock:
            self._pending_rows -= rows
            finished = self._pending_rows == 0
        if finished:
            with contextlib.suppress(InvalidStateError):
                self.future.set_result(self.results)

    def _cancel_parts(self, future: Future[Any]) -> None:
        if future.cancelled():
            with self._lock:
                parts = list(self._parts)
            for part in parts:
                part.cancel()
