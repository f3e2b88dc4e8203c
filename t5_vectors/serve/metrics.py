"""``GET /metrics``: the server's counters in Prometheus' text format (version 0.0.4).

Series (all prefixed ``t5_vectors_``):

* ``http_requests_total{route, method, status}``: answered requests, by route template
  (``/collections/{name}``, never the raw path) and status.
* ``http_request_duration_seconds{route}``: a latency histogram per route, from the first byte
  read to the last byte sent.
* ``admission_in_flight``, ``admission_limit``, ``admission_rejected_total``: the admission
  queue (:mod:`t5_vectors.serve.admission`): its depth (requests in the server now, served or
  waiting in the encoder's micro-batcher), its bound, and the requests refused with 429.
* ``encoder_forward_passes_total``, ``encoder_texts_total``: the encoder's forward passes and
  the texts they held (:meth:`T5Encoder.stats`); their rates' ratio is the mean texts per pass,
  the micro-batcher's coalescing. ``encoder_texts_per_pass`` is that mean since start.

Written by hand (a few lines of text) rather than with ``prometheus_client``, one dependency
less; everything runs on the event loop's thread, so the counters need no lock.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from t5_vectors.serve.admission import Admission

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Upper bounds of the latency histogram, in seconds (``+Inf`` follows)."""

PREFIX = "t5_vectors_"


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds
        self.count += 1


class Metrics:
    """Request counters and latency histograms, and gauges read when scraped.

    Args:
        admission: the admission queue whose state is exported.
        encoder_stats: returns ``(forward_passes, texts)`` so far.
    """

    def __init__(self, admission: Admission, encoder_stats: Callable[[], tuple[int, int]]) -> None:
        self.admission = admission
        self.encoder_stats = encoder_stats
        self._requests: dict[tuple[str, str, int], int] = {}
        self._latency: dict[str, _Histogram] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        key = (route, method, status)
        self._requests[key] = self._requests.get(key, 0) + 1
        histogram = self._latency.get(route)
        if histogram is None:
            histogram = self._latency[route] = _Histogram()
        histogram.observe(seconds)

    def render(self) -> str:
        """Everything, in Prometheus' text format."""
        return "".join(f"{line}\n" for line in self._lines())

    def _lines(self) -> Iterator[str]:
        name = f"{PREFIX}http_requests_total"
        yield f"# HELP {name} Answered HTTP requests by route template, method and status."
        yield f"# TYPE {name} counter"
        for (route, method, status), count in sorted(self._requests.items()):
            labels = f'route="{_escape(route)}",method="{method}",status="{status}"'
            yield f"{name}{{{labels}}} {count}"
        name = f"{PREFIX}http_request_duration_seconds"
        yield f"# HELP {name} HTTP request latency by route template."
        yield f"# TYPE {name} histogram"
        for route, histogram in sorted(self._latency.items()):
            label = f'route="{_escape(route)}"'
            cumulative = 0
            for bound, count in zip((*BUCKETS, float("inf")), histogram.counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                yield f'{name}_bucket{{{label},le="{le}"}} {cumulative}'
            yield f"{name}_sum{{{label}}} {histogram.total!r}"
            yield f"{name}_count{{{label}}} {histogram.count}"
        admission = self.admission
        yield from _single(
            "admission_in_flight", "gauge",
            "Requests admitted and not yet answered: the admission queue's depth.",
            admission.in_flight,
        )  # fmt: skip
        yield from _single(
            "admission_limit", "gauge", "Requests admitted at once (--max-concurrent).",
            admission.limit,
        )  # fmt: skip
        yield from _single(
            "admission_rejected_total", "counter", "Requests refused with 429.",
            admission.rejected,
        )  # fmt: skip
        passes, texts = self.encoder_stats()
        yield from _single(
            "encoder_forward_passes_total", "counter", "Encoder forward passes run.", passes
        )
        yield from _single(
            "encoder_texts_total", "counter", "Texts in the encoder's forward passes.", texts
        )
        yield from _single(
            "encoder_texts_per_pass", "gauge", "Mean texts per forward pass since start.",
            texts / passes if passes else 0.0,
        )  # fmt: skip


def _single(name: str, kind: str, text: str, value: float) -> Iterator[str]:
    yield f"# HELP {PREFIX}{name} {text}"
    yield f"# TYPE {PREFIX}{name} {kind}"
    yield f"{PREFIX}{name} {value!r}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
