"""Ingestion under injected Qdrant faults: exactly the corpus, or an error naming the batch.

Every fault runs on three paths: ``QdrantIndex.ingest`` (sync pipeline, sync client),
``QdrantIndex.aingest`` over an ``AsyncQdrantClient`` (async pipeline, native async calls) and
``T5QdrantVectorStore.add_documents``. Afterwards the collection is compared point by point
(ids, payloads, vectors) with a clean run of the same corpus. Faults the retry policy should
absorb must leave exactly the corpus; faults it must not absorb stop with an ``IngestError``
naming the failed batch, and running the same ingestion again must then complete it.

The embedding is a hash of the text (these tests are about Qdrant, and ~150 ingestions through
even a tiny T5 would dominate the suite's time); the crash tests use the real encoder.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from qdrant_client import AsyncQdrantClient, QdrantClient

from t5_vectors import IngestError, QdrantIndex, RetryPolicy, T5QdrantVectorStore
from t5_vectors.plan.ids import point_id
from t5_vectors.storage.errors import is_transient
from tests.reliability.faults import (
    Fault,
    FaultyAsyncQdrantClient,
    FaultyQdrantClient,
    connection_dropped,
    connection_refused,
    first_line,
    grpc_status,
    http_status,
    rate_limited,
    read_timeout,
)

ATTEMPTS = 3
FAST = RetryPolicy(attempts=ATTEMPTS, initial_wait=0, max_wait=0, jitter=0)
SIZE = 40
BATCH = 8
BATCHES = SIZE // BATCH
PATHS = ("ingest", "aingest", "add_documents")
NAME = "faults"

Snapshot = dict[str, tuple[str, tuple[float, ...]]]
Points = Callable[[int], set[str]]


class HashEmbeddings(Embeddings):
    """Deterministic 16-dimensional vectors from a text's SHA-256."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        digest = hashlib.sha256(text.encode()).digest()
        return [byte / 255 - 0.5 for byte in digest[:16]]


def corpus() -> list[Document]:
    """Documents with and without ids, unicode text and nested metadata."""
    return [
        Document(
            page_content=f"document {i}: {'naïve café ✓ ' * (i % 3)}words about topic {i % 7}",
            metadata={"n": i, "source": f"file-{i % 3}.txt", "tags": ["a", str(i)]},
            id=f"doc-{i}" if i % 2 == 0 else None,
        )
        for i in range(SIZE)
    ]


def snapshot(client: QdrantClient) -> Snapshot:
    records, _ = client.scroll(NAME, limit=10 * SIZE, with_payload=True, with_vectors=True)
    return _snapshot(records)


async def asnapshot(client: AsyncQdrantClient) -> Snapshot:
    records, _ = await client.scroll(NAME, limit=10 * SIZE, with_payload=True, with_vectors=True)
    return _snapshot(records)


def _snapshot(records: list[Any]) -> Snapshot:
    """Each stored point's payload and rounded vector, the seed left out."""
    return {
        str(r.id): (json.dumps(r.payload, sort_keys=True), _vector(r.vector))
        for r in records
        if str(r.id) != SEED_POINT
    }


def _vector(vector: Any) -> tuple[float, ...]:
    return tuple(np.round(np.asarray(vector, dtype=np.float64), 5).tolist())


@pytest.fixture(scope="module")
def embedding() -> Embeddings:
    return HashEmbeddings()


@pytest.fixture(scope="module")
def reference(embedding: Embeddings) -> Snapshot:
    """The collection a clean ingestion of the corpus leaves."""
    client = QdrantClient(":memory:")
    QdrantIndex(embedding, collection_name=NAME, storage=client).ingest(corpus(), batch_size=BATCH)
    found = snapshot(client)
    client.close()
    return found


@pytest.fixture(scope="module")
def points(reference: Snapshot) -> Points:
    """``points(n)``: the point ids of batch *n*."""

    def of(batch: int) -> set[str]:
        return {
            pid
            for pid, (payload, _) in reference.items()
            if json.loads(payload)["metadata"]["n"] // BATCH == batch
        }

    return of


def compare(found: Snapshot, reference: Snapshot) -> tuple[str, int]:
    """A row's ``lost`` text, and how many points differ from the clean run."""
    missing = reference.keys() - found.keys()
    extra = found.keys() - reference.keys()
    changed = [pid for pid in reference.keys() & found.keys() if found[pid] != reference[pid]]
    bad = len(missing) + len(extra) + len(changed)
    text = "nothing" if not bad else f"{len(missing)} missing, {len(extra)} extra"
    return (text if not changed else f"{text}, {len(changed)} changed"), bad


# Stored before the run in the cases about the stored-hash lookup: into an empty collection an
# ingest looks nothing up. Not part of the corpus: snapshots leave it out.
SEED = Document(page_content="stored before the run", id="seed-outside-the-corpus")
SEED_POINT = point_id("seed-outside-the-corpus")


class Run:
    """One path (sync ingest, async ingest, vector store) over one faulty client."""

    def __init__(
        self, path: str, encoder: Any, faults: list[Fault], *, stored_before: bool = False
    ) -> None:
        self.path = path
        self.unseeded = stored_before
        if path == "aingest":
            self.aclient = FaultyAsyncQdrantClient(faults=faults)
            self.state = self.aclient.state
            self.index = QdrantIndex(
                encoder, collection_name=NAME, retry=FAST, storage=self.aclient
            )
        else:
            self.client = FaultyQdrantClient(faults=faults)
            self.state = self.client.state
            self.index = QdrantIndex(encoder, collection_name=NAME, retry=FAST, storage=self.client)

    async def ingest(self) -> tuple[int, int]:
        """Ingest the corpus; returns (written, skipped) or raises ``IngestError``."""
        if self.unseeded:
            self.unseeded = False
            if self.path == "aingest":
                await self.index.aadd([SEED])
            else:
                self.index.add([SEED])
        if self.path == "ingest":
            report = self.index.ingest(corpus(), batch_size=BATCH)
        elif self.path == "aingest":
            report = await self.index.aingest(corpus(), batch_size=BATCH)
        else:
            before = self.index.count()
            T5QdrantVectorStore(index=self.index).add_documents(corpus(), batch_size=BATCH)
            return self.index.count() - before, -1
        return report.written, report.skipped

    async def snapshot(self) -> Snapshot:
        if self.path == "aingest":
            return await asnapshot(self.aclient)
        return snapshot(self.client)


@dataclass(frozen=True)
class Case:
    name: str
    faults: Callable[[Points], list[Fault]]
    stops_at: int | None = None  # the batch an IngestError must name; None: must recover
    stage: str = "uploading"
    stored_before: bool = False  # the collection holds a point before the run (lookups run)

    @property
    def expected(self) -> str:
        if self.stops_at is None:
            return "retried; exactly the corpus"
        return f"IngestError naming batch {self.stops_at}; a re-run completes the corpus"


RECOVERABLE = [
    Case(
        "503 on the upsert of batch 2, twice, then OK",
        lambda p: [Fault("upsert", http_status(503), points=p(2), times=2)],
    ),
    Case(
        "the 3rd upsert call fails twice (503), then succeeds",
        lambda p: [Fault("upsert", http_status(503), after=2, times=2)],
    ),
    Case(
        "502 and 504 on the upsert of batch 1",
        lambda p: [
            Fault("upsert", http_status(502), points=p(1)),
            Fault("upsert", http_status(504), points=p(1)),
        ],
    ),
    Case(
        "429 with Retry-After on the upsert of batch 3",
        lambda p: [Fault("upsert", rate_limited(0), points=p(3))],
    ),
    Case(
        "429 without Retry-After on every other upsert",
        lambda p: [Fault("upsert", http_status(429), times=None, every=2)],
    ),
    Case(
        "connection refused on the upsert of batch 0",
        lambda p: [Fault("upsert", connection_refused(), points=p(0))],
    ),
    Case(
        "upsert of batch 3 applied, then the connection dropped (response lost)",
        lambda p: [Fault("upsert", connection_dropped(), points=p(3), applied=True)],
    ),
    Case(
        "upsert of batch 4 applied, delayed 0.2 s, then a read timeout",
        lambda p: [Fault("upsert", read_timeout(), points=p(4), applied=True, delay=0.2)],
    ),
    Case(
        "every upsert applied, then its response lost once",
        lambda p: [Fault("upsert", connection_dropped(), times=None, every=2, applied=True)],
    ),
    Case(
        "503 on the stored-hash lookup of batch 2",
        lambda p: [Fault("retrieve", http_status(503), points=p(2))],
        stored_before=True,
    ),
    Case(
        "read timeout on the stored-hash lookup of batch 0",
        lambda p: [Fault("retrieve", read_timeout(), points=p(0), delay=0.1)],
        stored_before=True,
    ),
    Case(
        "gRPC UNAVAILABLE on the upsert of batch 1",
        lambda p: [Fault("upsert", grpc_status(grpc.StatusCode.UNAVAILABLE), points=p(1))],
    ),
    Case(
        "gRPC RESOURCE_EXHAUSTED on the upsert of batch 2, twice",
        lambda p: [
            Fault("upsert", grpc_status(grpc.StatusCode.RESOURCE_EXHAUSTED), points=p(2), times=2)
        ],
    ),
]

PERMANENT = [
    Case(
        "503 on every upsert of batch 4 (server stays down)",
        lambda p: [Fault("upsert", http_status(503), points=p(4), times=None)],
        stops_at=4,
    ),
    Case(
        "connection refused on every call from batch 2 on",
        lambda p: [
            Fault("upsert", connection_refused(), points=p(2) | p(3) | p(4), times=None),
            Fault("retrieve", connection_refused(), points=p(2) | p(3) | p(4), times=None),
        ],
        stops_at=2,
        stage="checking stored hashes",
        stored_before=True,
    ),
    Case(
        "400 Bad Request on the upsert of batch 2",
        lambda p: [Fault("upsert", http_status(400, "Wrong input"), points=p(2))],
        stops_at=2,
    ),
    Case(
        "422 Unprocessable Entity on the upsert of batch 1",
        lambda p: [Fault("upsert", http_status(422), points=p(1))],
        stops_at=1,
    ),
    Case(
        "404 Not Found on the stored-hash lookup of batch 3",
        lambda p: [Fault("retrieve", http_status(404), points=p(3))],
        stops_at=3,
        stage="checking stored hashes",
        stored_before=True,
    ),
    Case(
        "gRPC INVALID_ARGUMENT on the upsert of batch 0",
        lambda p: [Fault("upsert", grpc_status(grpc.StatusCode.INVALID_ARGUMENT), points=p(0))],
        stops_at=0,
    ),
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", RECOVERABLE, ids=lambda c: c.name)
async def test_transient_faults_leave_exactly_the_corpus(
    case: Case, path: str, embedding: Embeddings, reference: Snapshot, points: Points, reliability
):
    faults = case.faults(points)
    run = Run(path, embedding, faults, stored_before=case.stored_before)
    written, _ = await run.ingest()
    found = await run.snapshot()
    lost, bad = compare(found, reference)
    fired = sum(f.fired for f in faults)
    reliability(
        area="faults",
        case=f"{case.name} [{path}]",
        expected=case.expected,
        outcome=f"{fired} faults injected, {sum(run.state.calls.values())} calls; "
        f"{len(found)}/{len(reference)} points, {written} written",
        lost=lost,
    )
    assert fired >= 1
    assert bad == 0
    assert written == SIZE


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", PERMANENT, ids=lambda c: c.name)
async def test_lasting_faults_stop_at_the_batch_and_a_rerun_completes(
    case: Case, path: str, embedding: Embeddings, reference: Snapshot, points: Points, reliability
):
    faults = case.faults(points)
    run = Run(path, embedding, faults, stored_before=case.stored_before)
    with pytest.raises(IngestError) as info:
        await run.ingest()
    error = info.value
    stopped = await run.snapshot()
    attempts = dict(run.state.failures)
    run.state.faults.clear()  # the server recovers (or the request is fixed)
    written, skipped = await run.ingest()
    found = await run.snapshot()
    lost, bad = compare(found, reference)
    transient = is_transient(error.__cause__) if error.__cause__ is not None else None
    reliability(
        area="faults",
        case=f"{case.name} [{path}]",
        expected=case.expected,
        outcome=f"{first_line(error)} ({len(stopped)} points stored, failed attempts "
        f"{attempts}); re-run wrote {written} → {len(found)}/{len(reference)} points",
        lost=lost,
    )
    assert error.failure.batch == case.stops_at
    assert error.failure.stage == case.stage
    assert f"batch {case.stops_at} " in str(error)
    # Stored points are a prefix of whole batches, each exactly as the clean run wrote it.
    assert all(found[pid] == reference[pid] for pid in stopped)
    assert len(stopped) == case.stops_at * BATCH
    assert error.report.written == len(stopped)
    # Retries only for what may succeed: a rejected request is sent once.
    assert sum(attempts.values()) == (ATTEMPTS if transient else 1)
    assert bad == 0
    assert written == SIZE - len(stopped)
    if path != "add_documents":
        assert skipped == len(stopped)


async def test_continue_records_the_failed_batch_and_a_rerun_fills_it(
    embedding: Embeddings, reference: Snapshot, points: Points, reliability
):
    faults = [Fault("upsert", http_status(503), points=points(2), times=ATTEMPTS)]
    run = Run("ingest", embedding, faults)
    report = run.index.ingest(corpus(), batch_size=BATCH, on_failure="continue")
    middle = await run.snapshot()
    rerun = run.index.ingest(corpus(), batch_size=BATCH)
    found = await run.snapshot()
    lost, bad = compare(found, reference)
    failure = report.failures[0]
    reliability(
        area="faults",
        case="503 on every attempt of batch 2, on_failure='continue' [ingest]",
        expected="batch 2 reported failed, the rest written; a re-run writes only batch 2",
        outcome=f"report: written {report.written}, failed {report.failed} (batch "
        f"{failure.batch}, {failure.stage}); {len(middle)} points; re-run wrote "
        f"{rerun.written}, skipped {rerun.skipped} → {len(found)}/{len(reference)} points",
        lost=lost,
    )
    assert (failure.batch, failure.first, failure.last) == (2, 2 * BATCH, 3 * BATCH - 1)
    assert report.written == len(middle) == SIZE - BATCH
    assert (rerun.written, rerun.skipped) == (BATCH, SIZE - BATCH)
    assert bad == 0


RETRY_CLASSES: list[tuple[str, Callable[[], BaseException], bool]] = [
    ("REST 408 Request Timeout", http_status(408), True),
    ("REST 429 Too Many Requests", http_status(429), True),
    ("REST 429 with Retry-After (ResourceExhaustedResponse)", rate_limited(0), True),
    ("REST 500 Internal Server Error", http_status(500), True),
    ("REST 502 Bad Gateway", http_status(502), True),
    ("REST 503 Service Unavailable", http_status(503), True),
    ("REST 504 Gateway Timeout", http_status(504), True),
    ("REST 400 Bad Request", http_status(400), False),
    ("REST 404 Not Found", http_status(404), False),
    ("REST 422 Unprocessable Entity", http_status(422), False),
    ("REST 501 Not Implemented", http_status(501), False),
    ("connection refused (httpx.ConnectError)", connection_refused(), True),
    ("connection dropped (httpx.RemoteProtocolError)", connection_dropped(), True),
    ("read timeout (httpx.ReadTimeout)", read_timeout(), True),
    ("gRPC UNAVAILABLE", grpc_status(grpc.StatusCode.UNAVAILABLE), True),
    ("gRPC RESOURCE_EXHAUSTED", grpc_status(grpc.StatusCode.RESOURCE_EXHAUSTED), True),
    ("gRPC DEADLINE_EXCEEDED", grpc_status(grpc.StatusCode.DEADLINE_EXCEEDED), True),
    ("gRPC INVALID_ARGUMENT", grpc_status(grpc.StatusCode.INVALID_ARGUMENT), False),
    ("gRPC NOT_FOUND", grpc_status(grpc.StatusCode.NOT_FOUND), False),
]


@pytest.mark.parametrize(("name", "make", "transient"), RETRY_CLASSES, ids=lambda v: str(v))
def test_retry_policy_classifies_qdrant_errors(name, make, transient, reliability):
    attempts = []

    def call() -> None:
        attempts.append(1)
        raise make()

    with pytest.raises(type(make())) as info:
        FAST.call(call)
    reliability(
        area="retry policy",
        case=name,
        expected=f"{'retried' if transient else 'not retried'} ({ATTEMPTS if transient else 1} "
        f"of {ATTEMPTS} attempts)",
        outcome=f"{len(attempts)} attempt{'s' * (len(attempts) > 1)}, then "
        f"{first_line(info.value)[:80]}",
        lost="n/a (no data written)",
    )
    assert len(attempts) == (ATTEMPTS if transient else 1)


def test_an_unparseable_response_is_not_retried(reliability):
    from pydantic import BaseModel, ValidationError
    from qdrant_client.http.exceptions import ResponseHandlingException

    class Result(BaseModel):
        result: int

    try:
        Result.model_validate({"result": "not a number"})
    except ValidationError as error:
        wrapped = ResponseHandlingException(error)
    attempts = []

    def call() -> None:
        attempts.append(1)
        raise wrapped

    with pytest.raises(ResponseHandlingException):
        FAST.call(call)
    reliability(
        area="retry policy",
        case="200 with a body the client cannot parse (ResponseHandlingException(ValidationError))",
        expected="not retried (a client/server version mismatch does not heal)",
        outcome=f"{len(attempts)} attempt{'s' * (len(attempts) > 1)}",
        lost="n/a (no data written)",
    )
    assert len(attempts) == 1
