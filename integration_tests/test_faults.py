"""Ingestion through a fault-injecting TCP proxy in front of a real Qdrant server.

Skipped without ``QDRANT_URL`` (see ``conftest.py``). Over REST the proxy answers 503 / 429,
drops connections before or after forwarding, and delays requests past the client's timeout,
on chosen requests; over gRPC (``QDRANT_PREFER_GRPC=1``) it drops whole connections. After each
fault the collection must hold exactly what a clean ingestion writes (ids, payloads, vectors),
or ingestion stops with an ``IngestError`` naming the batch and a re-run completes it.
Each case records a row for ``scripts/reliability_report.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
from langchain_core.documents import Document
from qdrant_client import QdrantClient

from integration_tests.conftest import client_options
from integration_tests.faultproxy import FaultProxy, Rule
from t5_vectors import IngestError, QdrantIndex, RetryPolicy, open_storage

SIZE = 60
BATCH = 10
RETRY = RetryPolicy(attempts=4, initial_wait=0.2, max_wait=2, jitter=0.1)
GRPC = client_options()["prefer_grpc"]
UPSERT = {"method": "PUT", "path": r"/points$"}
LOOKUP = {"method": "POST", "path": r"/points$"}

Snapshot = dict[str, tuple[str, tuple[float, ...]]]


def corpus() -> list[Document]:
    return [
        Document(
            page_content=f"server fault corpus {i}: ünïcode ✓ topic {i % 6}",
            metadata={"n": i, "source": f"doc-{i % 4}.txt"},
            id=None if i % 3 == 0 else f"server-{i}",
        )
        for i in range(SIZE)
    ]


def snapshot(server: QdrantClient, name: str) -> Snapshot:
    records, _ = server.scroll(name, limit=10 * SIZE, with_payload=True, with_vectors=True)
    return {
        str(r.id): (
            json.dumps(r.payload, sort_keys=True),
            tuple(np.round(np.asarray(r.vector, dtype=np.float64), 5).tolist()),
        )
        for r in records
    }


def compare(found: Snapshot, reference: Snapshot) -> tuple[str, int]:
    missing = reference.keys() - found.keys()
    extra = found.keys() - reference.keys()
    changed = [p for p in reference.keys() & found.keys() if found[p] != reference[p]]
    bad = len(missing) + len(extra) + len(changed)
    if not bad:
        return "nothing", 0
    return f"{len(missing)} missing, {len(extra)} extra, {len(changed)} changed", bad


def record(record_property: Callable[[str, object], None], **row: str) -> None:
    record_property("reliability", json.dumps({"area": "faults", **row}, ensure_ascii=False))


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    url = urlsplit(os.environ["QDRANT_URL"])
    host = url.hostname or "localhost"
    if GRPC:
        port = int(os.environ.get("QDRANT_GRPC_PORT", "6334"))
        with FaultProxy(host, port, mode="tcp") as running:
            yield running
    else:
        port = url.port or (443 if url.scheme == "https" else 6333)
        if url.scheme == "https":
            pytest.skip("the fault proxy speaks plain HTTP; point QDRANT_URL at http://")
        with FaultProxy(host, port) as running:
            yield running


def index_through(proxy: FaultProxy, encoder: Any, name: str) -> QdrantIndex:
    options = client_options()
    options.update(timeout=2, check_compatibility=False)
    url = options.pop("url")
    api_key = options.pop("api_key")
    if GRPC:
        options.update(grpc_port=proxy.port)
        target = url
    else:
        target = proxy.url
    return QdrantIndex(
        encoder,
        collection_name=name,
        retry=RETRY,
        storage=open_storage(target, api_key=api_key, client_options=options),
    )


@pytest.fixture
def reference(server: QdrantClient, tiny_encoder: Any, new_name: Callable[[], str]) -> Snapshot:
    name = new_name()
    index = QdrantIndex(tiny_encoder, collection_name=name, storage=server)
    index.ingest(corpus(), batch_size=BATCH)
    found = snapshot(server, name)
    index.drop()
    return found


REST_RECOVERABLE = [
    ("503 on the first two upserts", [Rule("status", status=503, times=2, **UPSERT)]),
    ("429 with Retry-After: 1 on an upsert", [Rule("status", status=429, retry_after=1, **UPSERT)]),
    ("connection dropped before the 2nd upsert", [Rule("drop_before", after=1, **UPSERT)]),
    (
        "3rd upsert applied, connection dropped before the response",
        [Rule("drop_after", after=2, **UPSERT)],
    ),
    (
        "4th upsert delayed 3 s, past the 2 s client timeout",
        [Rule("delay", delay=3, after=3, **UPSERT)],
    ),
    ("503 on a stored-hash lookup", [Rule("status", status=503, after=1, **LOOKUP)]),
]
GRPC_RECOVERABLE = [
    ("the first two gRPC connections dropped", [Rule("drop_before", times=2)]),
]


@pytest.mark.parametrize("mode", ["ingest", "aingest"])
@pytest.mark.parametrize(
    ("name", "rules"),
    GRPC_RECOVERABLE if GRPC else REST_RECOVERABLE,
    ids=lambda v: v if isinstance(v, str) else "",
)
async def test_server_faults_leave_exactly_the_corpus(
    name, rules, mode, proxy, server, tiny_encoder, new_name, reference, record_property
):
    collection = new_name()
    proxy.rules[:] = rules
    index = index_through(proxy, tiny_encoder, collection)
    try:
        if mode == "ingest":
            report = index.ingest(corpus(), batch_size=BATCH)
        else:
            report = await index.aingest(corpus(), batch_size=BATCH)
    finally:
        await index.aclose()
    found = snapshot(server, collection)
    lost, bad = compare(found, reference)
    fired = sum(rule.fired for rule in rules)
    record(
        record_property,
        case=f"proxy ({'gRPC' if GRPC else 'REST'}): {name} [{mode}]",
        expected="retried; exactly the corpus",
        outcome=f"{fired} faults injected, {proxy.requests} requests; {len(found)}/"
        f"{len(reference)} points, {report.written} written",
        lost=lost,
    )
    assert fired >= 1
    assert bad == 0


@pytest.mark.skipif(GRPC, reason="REST request-level fault")
@pytest.mark.parametrize("mode", ["ingest", "aingest"])
async def test_server_down_stops_at_the_batch_and_a_rerun_completes(
    mode, proxy, server, tiny_encoder, new_name, reference, record_property
):
    collection = new_name()
    proxy.rules[:] = [Rule("status", status=503, after=2, times=None, **UPSERT)]
    index = index_through(proxy, tiny_encoder, collection)

    async def run() -> Any:
        if mode == "ingest":
            return index.ingest(corpus(), batch_size=BATCH)
        return await index.aingest(corpus(), batch_size=BATCH)

    try:
        with pytest.raises(IngestError) as info:
            await run()
        stopped = len(snapshot(server, collection))
        proxy.rules.clear()
        report = await run()
    finally:
        await index.aclose()
    found = snapshot(server, collection)
    lost, bad = compare(found, reference)
    first = str(info.value).splitlines()[0]
    record(
        record_property,
        case=f"proxy (REST): 503 on every upsert from the 3rd on [{mode}]",
        expected="IngestError naming batch 2; a re-run completes the corpus",
        outcome=f"IngestError: {first[:120]} ({stopped} points stored); re-run wrote "
        f"{report.written}, skipped {report.skipped} → {len(found)}/{len(reference)} points",
        lost=lost,
    )
    assert info.value.failure.batch == 2
    assert stopped == 2 * BATCH
    assert (report.written, report.skipped) == (SIZE - stopped, stopped)
    assert bad == 0
