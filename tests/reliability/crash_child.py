"""The process the crash tests kill: ingests a corpus into embedded on-disk Qdrant.

It writes a progress marker (one line, flushed) to a file before and after every Qdrant call and
every encode, so that the parent can kill it with SIGKILL at chosen points of the pipeline:
while a batch is half written to SQLite, while encoding, between batches, or while the
collection is created. Run in a fresh process (``multiprocessing`` forkserver, which preloads
torch once for every child).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

from langchain_core.documents import Document

COLLECTION = "crash"


def warm_up() -> None:
    """Import what loading a checkpoint imports lazily (the forkserver calls this once)."""
    import transformers
    from qdrant_client.local import qdrant_local  # noqa: F401

    for name in ("AutoTokenizer", "T5EncoderModel", "T5TokenizerFast", "T5Tokenizer"):
        getattr(transformers, name)


def corpus(size: int) -> list[Document]:
    """Short texts with metadata; every third without an id (derived from source and text)."""
    return [
        Document(
            page_content=f"chunk {i}: notes on subject {i % 11}, with ü and 漢字 {i * 7 % 13}",
            metadata={"source": f"book-{i % 4}.txt", "i": i, "tags": [str(i % 5)]},
            id=None if i % 3 == 0 else f"chunk-{i}",
        )
        for i in range(size)
    ]


def open_index(checkpoint: str, store: str, threads: int | None = None) -> Any:
    """The index the child and the parent's re-run both ingest through."""
    import torch

    from t5_vectors import QdrantIndex, T5Encoder

    if threads is not None:
        torch.set_num_threads(threads)
    encoder = T5Encoder.from_pretrained(checkpoint, device="cpu", dtype="float32")
    return QdrantIndex(encoder, path=store, collection_name=COLLECTION)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class _KillBeforeCommit:
    """A sqlite3 connection whose next ``with`` block is killed before it commits."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def __enter__(self) -> Any:
        return self._connection.__enter__()

    def __exit__(self, *exc: object) -> None:
        _die()


def _arm(kill_at: str) -> None:
    """Make the process SIGKILL itself at an exact point inside embedded Qdrant's writes.

    ``point:N``: right after the N-th point is committed (mid-batch: points commit one by one);
    ``commit:N``: inside the N-th point's SQLite transaction, before it commits;
    ``meta-save``: while saving ``meta.json`` on collection creation (temp file written, not
    yet renamed); ``meta-create``: while creating ``meta.json`` on the store's first open
    (file opened for writing, nothing written yet).
    """
    from qdrant_client.local import persistence, qdrant_local

    kind, _, number = kill_at.partition(":")
    persisted = [0]
    original = persistence.CollectionPersistence.persist

    def persist(self: Any, point: Any) -> None:
        persisted[0] += 1
        if kind == "commit" and persisted[0] == int(number):
            self.storage = _KillBeforeCommit(self.storage)
        original(self, point)
        if kind == "point" and persisted[0] == int(number):
            _die()

    persistence.CollectionPersistence.persist = persist  # type: ignore[method-assign]
    if kind == "meta-save":
        replace = os.replace

        def killing_replace(source: str, target: str) -> None:
            if str(target).endswith("meta.json"):
                _die()
            replace(source, target)

        qdrant_local.os.replace = killing_replace  # type: ignore[attr-defined]
    if kind == "meta-create":

        def killing_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            handle = open(path, mode, *args, **kwargs)  # noqa: SIM115
            if str(path).endswith("meta.json") and "w" in mode:
                _die()
            return handle

        qdrant_local.open = killing_open  # type: ignore[attr-defined]


def run(
    checkpoint: str,
    store: str,
    markers: str,
    size: int,
    batch_size: int,
    kill_at: str | None = None,
) -> None:
    """Ingest ``corpus(size)`` into *store*, writing progress markers to *markers*."""
    fd = os.open(markers, os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    def mark(text: str) -> None:
        os.write(fd, f"{text}\n".encode())

    mark("start")
    if kill_at is not None:
        _arm(kill_at)
    index = open_index(checkpoint, store, threads=1)
    mark("opened")
    connection, embedder = index.connection, index.embedder

    def traced(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            mark(f"{name} begin")
            result = function(*args, **kwargs)
            mark(f"{name} end")
            return result

        return call

    connection.retrieve = traced("lookup", connection.retrieve)
    connection.upsert = traced("upsert", connection.upsert)
    embedder.documents = traced("encode", embedder.documents)
    report = index.ingest(corpus(size), batch_size=batch_size)
    index.close()
    mark(f"done {report.written} {report.skipped}")
    os.close(fd)
