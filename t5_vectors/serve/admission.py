"""Bounded admission: at most N requests in the server at once; one more is refused at once.

A server that queues without bound answers every request, late: offered more than it can
serve, the wait of each accepted request grows with the backlog (issue 22 measured pauses up to
523 ms with in-process async searches at 1,000 q/s on 2 cores, and no limit). Here the work in
the server is bounded instead: :class:`Admission` admits up to ``limit`` requests (served
together: the encoder's micro-batcher coalesces them into shared forward passes) and refuses the
next with :class:`Overloaded`, which the HTTP layer answers ``429`` with ``Retry-After``. The
latency of an accepted request is then bounded by the work admitted before it.

Admission runs on the event loop's thread (the ASGI middleware), so the counters need no lock;
a request is admitted or refused without waiting.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from t5_vectors._checks import check_positive_int

_SMOOTHING = 0.1
"""Weight of the newest service time in the running mean behind ``Retry-After``."""


class Overloaded(Exception):
    """Every slot is taken; ``retry_after`` is a guess at when one frees, in seconds."""

    def __init__(self, retry_after: float, in_flight: int) -> None:
        super().__init__(f"{in_flight} requests in flight; retry in {retry_after:.3f} s")
        self.retry_after = retry_after
        self.in_flight = in_flight

    @property
    def retry_after_seconds(self) -> int:
        """``Retry-After`` in whole seconds (the header allows no fraction), at least 1."""
        return max(1, math.ceil(self.retry_after))

    @property
    def retry_after_ms(self) -> int:
        """The same guess in milliseconds (``retry-after-ms``, read by the openai client)."""
        return max(1, math.ceil(self.retry_after * 1000))


@dataclass
class Ticket:
    """An admitted request; give it back with :meth:`Admission.release`."""

    started: float


class Admission:
    """At most *limit* requests admitted at once.

    Args:
        limit: requests admitted at once (``--max-concurrent``).

    Attributes:
        admitted: requests admitted so far.
        rejected: requests refused so far.
    """

    def __init__(self, limit: int) -> None:
        check_positive_int("limit", limit)
        self.limit = limit
        self.in_flight = 0
        self.admitted = 0
        self.rejected = 0
        self._mean_seconds = 0.0

    def admit(self) -> Ticket:
        """Admit one request, or raise :class:`Overloaded` when all slots are taken."""
        if self.in_flight >= self.limit:
            self.rejected += 1
            raise Overloaded(self._retry_after(), self.in_flight)
        self.in_flight += 1
        self.admitted += 1
        return Ticket(time.perf_counter())

    def release(self, ticket: Ticket) -> None:
        """The request of *ticket* is done (answered, failed or cancelled)."""
        self.in_flight -= 1
        seconds = time.perf_counter() - ticket.started
        if self._mean_seconds == 0.0:
            self._mean_seconds = seconds
        else:
            self._mean_seconds += _SMOOTHING * (seconds - self._mean_seconds)

    def _retry_after(self) -> float:
        """When a slot is likely to free: admitted requests finish about a mean time apart."""
        return self._mean_seconds / self.limit if self._mean_seconds else 0.0
