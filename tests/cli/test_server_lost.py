"""A Qdrant server lost in the middle of ``ingest``: one line in the command line's words."""

from __future__ import annotations

import time

import pytest

from t5_vectors.storage import open as storage_open
from tests.reliability.faults import Fault, FaultyQdrantClient, connection_refused

URL = "http://127.0.0.1:6333"


@pytest.fixture
def lost_server(monkeypatch: pytest.MonkeyPatch) -> FaultyQdrantClient:
    """``--qdrant-url URL`` opens a server that answers until the second write, then refuses
    every connection (real qdrant-client errors); the retries do not wait."""
    client = FaultyQdrantClient(faults=[Fault("upsert", connection_refused(), after=1, times=None)])
    real = storage_open.open_storage

    def open_storage(where: object = None, **options: object) -> storage_open.Storage:
        return real(client) if where == URL else real(where, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(storage_open, "open_storage", open_storage)
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    return client


def test_a_server_lost_during_ingest_is_said_in_flags(cli, docs, lost_server):
    run = cli(
        "ingest", str(docs), "--collection", "docs", "--batch-size", "2", "--qdrant-url", URL,
        qdrant=False,
    )  # fmt: skip
    assert lost_server.state.failures["upsert"] > 1  # retried, then given up
    assert run.status == 2, (run.out, run.err)
    assert "Traceback" not in run.err
    line = run.err.strip().splitlines()[-1]
    assert line.startswith(
        f"t5-vectors: error: Expected a Qdrant server at {URL}, found none reachable "
        "([Errno 111] Connection refused) while uploading chunks 2..3, with 2 chunks stored. "
    ), line
    assert line.endswith(
        "check --qdrant-url, then run the same command again: it resumes where it stopped."
    ), line
    for python in ("storage=", "url=", "check the URL", "ingestion", "StorageUnavailableError"):
        assert python not in line, line
