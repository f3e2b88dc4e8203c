"""Imported once by the crash tests' forkserver, so that each killed child starts warm."""

from __future__ import annotations

from tests.reliability.crash_child import warm_up

warm_up()
