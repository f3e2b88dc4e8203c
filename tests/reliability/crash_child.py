"""The process the crash tests kill: ingests a corpus into an embedded on-disk store.

Two engines: ``"edge"`` (Qdrant Edge, what ``QdrantIndex(storage=...)`` opens for a new folder) and
``"local"`` (qdrant-client's local mode, for folders it wrote: the parent creates ``meta.json``
first). The child writes a progress marker (one line, flushed) to a file before and after every
storage call, every encode and the index build, so that the parent can kill it with SIGKILL at
chosen points of the pipeline: while a batch is being written, while encoding, between batches,
while the index is built, or while the collection is created. Run in a fresh process
(``multiprocessing`` forkserver, which preloads torch once for every child).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from langchain_core.documents import Document

COLLECTION = "crash"


def warm_up() -> None:
    """Import what loading a checkpoint imports lazily (the forkserver calls this once)."""
    import transformers
    from qdrant_client.local import qdrant_local  # noqa: F401

    import t5_vectors.storage.edge.backend  # noqa: F401

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


INDEXING_THRESHOLD_KB = 1
"""Edge builds HNSW over any segment past 1 KB, so that the 200-point corpus gets a real index."""


def open_index(
    checkpoint: str, store: str, engine: str, threads: int | None = None
) -> tuple[Any, Any]:
    """The index the child and the parent's re-run both ingest through, and its Edge backend.

    ``engine="edge"`` passes an ``EdgeBackend`` whose shards index any segment past
    :data:`INDEXING_THRESHOLD_KB` (the index does not close a backend it was given:
    :func:`close_index` does); ``"local"`` opens the folder local mode wrote (backend ``None``).
    """
    import torch

    from t5_vectors import QdrantIndex, T5Encoder

    if threads is not None:
        torch.set_num_threads(threads)
    encoder = T5Encoder.from_pretrained(checkpoint, device="cpu", dtype="float32")
    if engine == "edge":
        from t5_vectors.storage.edge.backend import EdgeBackend

        backend = EdgeBackend(store, indexing_threshold_kb=INDEXING_THRESHOLD_KB)
        return QdrantIndex(encoder, collection_name=COLLECTION, storage=backend), backend
    return QdrantIndex(encoder, collection_name=COLLECTION, storage=store), None


def close_index(index: Any, backend: Any) -> None:
    """Close the index, then the Edge backend the test opened for it."""
    index.close()
    if backend is not None:
        backend.close()


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


def _arm_edge(kill_at: str) -> None:
    """Make the process SIGKILL itself at an exact point of the Edge backend's writes.

    ``sidecar-replace``: while the collection's sidecar file is first written (temp file
    complete, not yet renamed); ``sidecar-written``: after the sidecar, before the Edge shard
    exists. (``upsert:N`` and ``index`` are armed in :func:`run`, on the backend's calls.)
    """
    from t5_vectors.storage.edge import sidecar as _edge_sidecar

    if kill_at == "sidecar-replace":
        replace = os.replace

        def killing_replace(source: str, target: str) -> None:
            if str(target).endswith("collection.json"):
                _die()
            replace(source, target)

        _edge_sidecar.os.replace = killing_replace  # type: ignore[attr-defined]
    if kill_at == "sidecar-written":
        write = _edge_sidecar.write

        def write_then_die(*args: Any, **kwargs: Any) -> None:
            write(*args, **kwargs)
            _die()

        _edge_sidecar.write = write_then_die  # type: ignore[assignment]


def _arm(kill_at: str) -> None:
    """Make the process SIGKILL itself at an exact point inside local mode's writes.

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


HELD = "held"
"""The marker a child written with ``hold`` writes once its ingest returned, before it waits."""


def run(
    checkpoint: str,
    store: str,
    markers: str,
    size: int,
    batch_size: int,
    engine: str,
    kill_at: str | None = None,
    reached: Any = None,
    target: int | None = None,
) -> None:
    """Ingest ``corpus(size)`` into *store*, writing progress markers to *markers*.

    Edge kill points armed here: ``upsert:N`` (right after the N-th upsert returned: its points
    are acknowledged) and ``index:MS`` (MS milliseconds into the index build that ends the
    ingest).

    With *reached* (a ``multiprocessing.Event``) the child is one the parent kills: it sets
    *reached* once it has written *target* markers, and when its ingest returns it writes
    :data:`HELD`, sets *reached* (should *target* lie beyond the markers of this run) and waits
    for the kill instead of closing the store. So it can never finish before the parent's
    signal, however fast the machine: the kill lands between marker *target* and the end.
    """
    fd = os.open(markers, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    written = [0]
    marks = threading.Lock()

    def mark(text: str) -> None:
        with marks:  # the encoder and the uploader thread both write markers
            os.write(fd, f"{text}\n".encode())
            written[0] += 1
            if reached is not None and written[0] == target:
                reached.set()

    mark("start")
    kind, _, number = (kill_at or "").partition(":")
    if kill_at is not None and engine == "local":
        _arm(kill_at)
    if kill_at is not None and engine == "edge":
        _arm_edge(kill_at)
    index, owned = open_index(checkpoint, store, engine, threads=1)
    mark("opened")
    backend, embedder = index.backend, index.embedder
    upserts = [0]

    def traced(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            mark(f"{name} begin")
            result = function(*args, **kwargs)
            mark(f"{name} end")
            return result

        return call

    upsert = backend.upsert

    def counted_upsert(*args: Any, **kwargs: Any) -> None:
        upsert(*args, **kwargs)
        upserts[0] += 1
        if kind == "upsert" and upserts[0] == int(number):
            _die()

    build_index = backend.build_index

    def killed_build(*args: Any, **kwargs: Any) -> None:
        if kind == "index":
            timer = threading.Timer(int(number) / 1000, _die)
            timer.daemon = True
            timer.start()
        build_index(*args, **kwargs)

    backend.retrieve = traced("lookup", backend.retrieve)
    backend.upsert = traced("upsert", counted_upsert)
    backend.build_index = traced("index", killed_build)
    embedder.documents = traced("encode", embedder.documents)
    report = index.ingest(corpus(size), batch_size=batch_size)
    if reached is not None:
        mark(HELD)
        reached.set()
        threading.Event().wait()  # until the parent's SIGKILL
    close_index(index, owned)
    mark(f"done {report.written} {report.skipped}")
    os.close(fd)
