"""Faults injected at the storage seam, on every engine: Qdrant Edge first.

:class:`FaultyBackend` wraps any :class:`~t5_vectors.storage.base.Backend` (it is made from the
protocol's list of calls) and fails the n-th call of a method with each kind of error the
seam carries: transient (a server that cannot be reached, a timeout; before the call reaches
the engine, or after it was applied and its answer lost), permanent (the engine refused the
request, the disk is full), or the process dying between two calls (the engine is closed
without building its index, and a new process opens the folder). The same ingestion then runs
through ``QdrantIndex.ingest`` and ``aingest``, and the collection is compared point by point
with a clean run: retries must leave exactly the corpus; a permanent fault stops at the batch
and a re-run completes it; after a death a fresh backend on the same folder resumes, and nothing
is lost or duplicated. The server path keeps its real-HTTP fault proxy in
``integration_tests/``; ``test_faults.py`` injects qdrant-client's own exception types.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from qdrant_client import QdrantClient

from t5_vectors import (
    IngestError,
    InvalidInputError,
    QdrantIndex,
    RetryPolicy,
    StorageFullError,
    StorageTimeoutError,
    StorageUnavailableError,
)
from t5_vectors.storage.base import CALLS, Backend
from t5_vectors.storage.client.backend import ClientBackend
from t5_vectors.storage.edge import EdgeBackend

ATTEMPTS = 3
FAST = RetryPolicy(attempts=ATTEMPTS, initial_wait=0, max_wait=0, jitter=0)
SIZE = 40
BATCH = 8
NAME = "seam"
ENGINES = ("edge", "local-mode", "memory")
PATHS = ("ingest", "aingest")

Snapshot = dict[str, tuple[str, tuple[float, ...]]]


class HashEmbeddings(Embeddings):
    """Deterministic 16-dimensional vectors from a text's SHA-256."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        digest = hashlib.sha256(text.encode()).digest()
        return [byte / 255 - 0.5 for byte in digest[:16]]


def corpus() -> list[Document]:
    return [
        Document(
            page_content=f"document {i}: words about topic {i % 7} ✓",
            metadata={"n": i, "tags": ["a", str(i)]},
            id=f"doc-{i}" if i % 2 == 0 else None,
        )
        for i in range(SIZE)
    ]


class Died(Exception):
    """The process died between two storage calls (simulated: the engine was closed)."""


@dataclass
class SeamFault:
    """Fail call number ``after + 1`` (and the next ``times - 1``) of *method*.

    Attributes:
        method: the protocol call (``"upsert"``, ``"retrieve"``, ...).
        error: makes the exception raised.
        after: let this many calls of *method* through first.
        times: how many calls fail (``None``: every one from then on).
        applied: apply the call first, then raise: its answer was lost.
    """

    method: str
    error: Callable[[], Exception]
    after: int = 0
    times: int | None = 1
    applied: bool = False
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def hits(self, method: str) -> bool:
        if method != self.method:
            return False
        self.seen += 1
        if self.seen <= self.after or (self.times is not None and self.fired >= self.times):
            return False
        self.fired += 1
        return True


class FaultyBackend(Backend):
    """Any backend whose calls first consult :attr:`faults`."""

    def __init__(self, backend: Backend, faults: list[SeamFault]) -> None:
        self.backend = backend
        self.faults = faults
        self.kind = backend.kind
        self.location = backend.location
        self.capabilities = backend.capabilities
        self.dead = False
        self._lock = threading.Lock()

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.dead:
            raise Died(f"{name} after the process died")
        call = getattr(self.backend, name)
        with self._lock:
            fault = next((f for f in self.faults if f.hits(name)), None)
        if fault is None:
            return call(*args, **kwargs)
        if fault.applied:
            call(*args, **kwargs)
        error = fault.error()
        if isinstance(error, Died):
            self.dead = True
            self.backend.close()  # a dead process builds nothing; the kernel frees its locks
        raise error


def _forward(name: str) -> Callable[..., Any]:
    def call(self: FaultyBackend, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, *args, **kwargs)

    call.__name__ = name
    return call


for _name in CALLS:
    if _name != "close":
        setattr(FaultyBackend, _name, _forward(_name))
FaultyBackend.close = lambda self: None if self.dead else self.backend.close()  # type: ignore[method-assign]


def open_engine(engine: str, folder: Path) -> Backend:
    if engine == "edge":
        return EdgeBackend(folder / "edge", build_on_close=False, indexing_threshold_kb=1)
    if engine == "local-mode":
        return ClientBackend(QdrantClient(path=str(folder / "local")), owned=True)
    return ClientBackend(QdrantClient(":memory:"), owned=True)


def snapshot(backend: Backend) -> Snapshot:
    """Each point's payload and direction (qdrant-client's local mode returns a point's vector
    normalized in the session that wrote it, as given after a reopen: cosine sees one vector)."""
    records, _ = backend.scroll(NAME, limit=10 * SIZE, with_vectors=True)
    found: Snapshot = {}
    for record in records:
        assert record.vectors is not None
        vector = np.asarray(record.vectors[""], dtype=np.float64)
        vector = np.round(vector / np.linalg.norm(vector), 5)
        found[str(record.id)] = (json.dumps(record.payload, sort_keys=True), tuple(vector))
    return found


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Snapshot]:
    """Each engine's collection after a clean ingestion of the corpus."""
    found = {}
    for engine in ENGINES:
        backend = open_engine(engine, tmp_path_factory.mktemp(engine))
        QdrantIndex(HashEmbeddings(), collection_name=NAME, storage=backend).ingest(corpus())
        found[engine] = snapshot(backend)
        backend.close()
    return found


async def ingest(path: str, backend: Backend) -> Any:
    index = QdrantIndex(HashEmbeddings(), collection_name=NAME, retry=FAST, storage=backend)
    if path == "ingest":
        return index.ingest(corpus(), batch_size=BATCH)
    return await index.aingest(corpus(), batch_size=BATCH)


TRANSIENT = {
    "server unreachable": lambda: StorageUnavailableError("injected", location="x"),
    "timeout": lambda: StorageTimeoutError("injected", location="x"),
    "connection reset": lambda: ConnectionResetError("injected"),
    "builtin timeout": lambda: TimeoutError("injected"),
}
PERMANENT = {
    "engine refused the request": lambda: InvalidInputError("injected: the engine refused"),
    "disk full": lambda: StorageFullError("injected", path="x", free=0, needed=1),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("applied", [False, True], ids=["before", "applied-then-lost"])
@pytest.mark.parametrize("kind", sorted(TRANSIENT))
async def test_transient_faults_are_retried_to_exactly_the_corpus(
    engine, path, applied, kind, tmp_path, reference, reliability
):
    fault = SeamFault("upsert", TRANSIENT[kind], after=2, times=ATTEMPTS - 1, applied=applied)
    backend = FaultyBackend(open_engine(engine, tmp_path), [fault])
    report = await ingest(path, backend)
    found = snapshot(backend)
    backend.close()
    reliability(
        area="faults",
        case=f"{engine}, {path}: {kind} on upsert 3, {ATTEMPTS - 1} times"
        + (" (applied, answer lost)" if applied else ""),
        expected="retried; exactly the corpus",
        outcome=f"written {report.written}; {len(found)}/{SIZE} points, equal to a clean "
        f"run: {found == reference[engine]}",
        lost="nothing" if found == reference[engine] else "points differ",
    )
    assert fault.fired == ATTEMPTS - 1
    assert found == reference[engine]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("kind", sorted(PERMANENT))
async def test_permanent_faults_stop_at_the_batch_and_a_rerun_completes(
    engine, path, kind, tmp_path, reference, reliability
):
    fault = SeamFault("upsert", PERMANENT[kind], after=2)
    backend = FaultyBackend(open_engine(engine, tmp_path), [fault])
    with pytest.raises(IngestError) as caught:
        await ingest(path, backend)
    failure, calls = caught.value.failure, fault.seen
    partial = len(snapshot(backend))
    report = await ingest(path, backend)  # the fault fired once: the same call now completes
    found = snapshot(backend)
    backend.close()
    reliability(
        area="faults",
        case=f"{engine}, {path}: {kind} on upsert 3",
        expected="IngestError naming batch 2, nothing retried; a re-run completes the corpus",
        outcome=f"stopped at batch {failure.batch} ({failure.stage}) with {partial} points; "
        f"re-run wrote {report.written}, skipped {report.skipped}; equal to a clean run: "
        f"{found == reference[engine]}",
        lost="nothing" if found == reference[engine] else "points differ",
    )
    assert (failure.batch, failure.stage) == (2, "uploading")
    assert calls == 3  # not retried
    assert partial == 2 * BATCH
    assert (report.written, report.skipped) == (SIZE - partial, partial)
    assert found == reference[engine]


@pytest.mark.parametrize("engine", ["edge", "local-mode"])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("at", [("upsert", 3, False), ("upsert", 3, True), ("retrieve", 0, False)])
async def test_a_process_that_dies_between_calls_resumes_without_loss_or_duplicates(
    engine, path, at, tmp_path, reference, reliability
):
    method, after, applied = at
    faults = [SeamFault(method, lambda: Died("the process died"), after=after, applied=applied)]
    backend = FaultyBackend(open_engine(engine, tmp_path), faults)
    if method == "retrieve":  # a collection that holds points: the ingest looks hashes up
        QdrantIndex(HashEmbeddings(), collection_name=NAME, storage=backend).add(corpus()[:3])
    with pytest.raises((IngestError, Died)):
        await ingest(path, backend)
    assert backend.dead
    fresh = open_engine(engine, tmp_path)  # "the next process": the folder opens again
    report = await ingest(path, fresh)
    found = snapshot(fresh)
    fresh.close()
    reliability(
        area="crash/resume",
        case=f"{engine}, {path}: the process dies at {method} call {after + 1}"
        + (" after it was applied" if applied else ""),
        expected="the folder reopens; the re-run leaves exactly the corpus",
        outcome=f"re-run wrote {report.written}, skipped {report.skipped}; {len(found)}/{SIZE} "
        f"points, equal to a clean run: {found == reference[engine]}",
        lost="nothing" if found == reference[engine] else "points differ",
    )
    assert report.written + report.skipped == SIZE
    assert found == reference[engine]
