"""The ``t5-vectors ingest`` the real Ctrl-C test interrupts: the CLI as users run it, held at a
point where chunks are stored and more are to come.

``python -m tests.cli.interrupt_child ARGV...`` runs ``t5_vectors.cli.main(ARGV)``. Once a group
of chunks is stored (a ``QdrantIndex.ingest`` call of the file ingest returned), the next file
read prints ``stored`` on stdout and waits for a line on stdin, in the main thread, as a user's
slow disk would. The parent sends SIGINT at that point: the signal arrives mid-ingest on any
machine, however fast, and the wait never ends on its own.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> int:
    from t5_vectors import QdrantIndex
    from t5_vectors.cli import main as cli
    from t5_vectors.files import ingest as file_ingest

    stored = threading.Event()
    ingest, read_file = QdrantIndex.ingest, file_ingest.read_file

    def ingest_then_tell(self: QdrantIndex, *args: Any, **kwargs: Any) -> Any:
        report = ingest(self, *args, **kwargs)
        stored.set()
        return report

    def held_read(path: Path) -> Any:
        if stored.is_set():
            print("stored", flush=True)
            sys.stdin.readline()  # the SIGINT interrupts this wait
        return read_file(path)

    QdrantIndex.ingest = ingest_then_tell  # type: ignore[method-assign]
    file_ingest.read_file = held_read  # type: ignore[assignment]
    return cli(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
