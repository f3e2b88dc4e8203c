"""Reliability tests: each case records what actually happened for ``docs/reliability.md``.

The contract (read by ``scripts/reliability_report.py``): a case calls the ``reliability``
fixture once, with values computed from the run, which stores them as the JUnit property
``reliability`` (a JSON object with ``area``, ``case``, ``expected``, ``outcome`` and ``lost``)::

    def test_something(reliability):
        found = index.count()
        reliability(
            area="faults",
            case="503 on the upsert of batch 2, twice",
            expected="retried; exactly the corpus",
            outcome=f"{found}/{len(corpus)} points",
            lost=f"{len(corpus) - found} documents",
        )
        assert found == len(corpus)

Record before asserting, so that a failing case still shows what happened; the report also
lists cases that failed before recording, from pytest's own result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Protocol

import pytest

AREAS = ("faults", "crash/resume", "worker loss", "bad input", "concurrency", "security")
"""The report's sections, in order (a case may name another area; it is listed after these)."""


class Record(Protocol):
    def __call__(self, *, area: str, case: str, expected: str, outcome: str, lost: str) -> None: ...


@pytest.fixture
def reliability(record_property: Callable[[str, object], None]) -> Record:
    """``reliability(area=, case=, expected=, outcome=, lost=)``: one row of the report."""

    def record(*, area: str, case: str, expected: str, outcome: str, lost: str) -> None:
        row = {"area": area, "case": case, "expected": expected, "outcome": outcome, "lost": lost}
        for key, value in row.items():
            if not isinstance(value, str) or not value:
                raise TypeError(f"reliability row: {key} must be a non-empty str, got {value!r}")
        record_property("reliability", json.dumps(row, ensure_ascii=False))

    return record
