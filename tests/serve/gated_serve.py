"""``t5-vectors`` with a gate in ``QdrantIndex.aadd``, for the SIGTERM test (fault injection).

Each write prints ``gate: entered`` on stderr, then waits for a line on stdin before it goes on,
so the test holds a write in flight for as long as it needs, with no timing involved.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from t5_vectors import QdrantIndex
from t5_vectors.cli import main

_add = QdrantIndex.aadd


async def _gated(self: QdrantIndex, *args: Any, **kwargs: Any) -> list[str]:
    print("gate: entered", file=sys.stderr, flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    return await _add(self, *args, **kwargs)


QdrantIndex.aadd = _gated  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
