"""Crash and resume: SIGKILL an ingestion into embedded on-disk Qdrant, re-run, compare.

A child process (``crash_child.run``) ingests a few hundred short texts through the tiny T5
checkpoint into ``QdrantIndex(path=...)`` and is killed with SIGKILL:

* at random points: the parent waits for the child's N-th progress marker (N and a jitter of
  up to 25 ms drawn from the seed), then kills it, wherever it is (encoding, looking up, in the
  middle of a batch's per-point SQLite commits, or between batches);
* at exact points inside embedded Qdrant's writes, where the child kills itself: between two
  points of a batch, inside one point's SQLite transaction, while ``meta.json`` is replaced,
  and while ``meta.json`` is first created.

Then the same ingestion runs again in this process. The store must open (the dead process's
lock is released by the kernel), and the collection must hold exactly the corpus: the ids,
payloads and vectors of a clean run, nothing missing, nothing extra, no duplicates.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient

from tests.reliability import crash_child
from tests.reliability.faults import first_line

SIZE = 200
BATCH = 16
BATCHES = -(-SIZE // BATCH)
SEEDS = range(5)
TIMEOUT = 60

Snapshot = dict[str, tuple[str, np.ndarray]]


@pytest.fixture(scope="module")
def processes() -> Any:
    """A forkserver context that imports torch and t5-vectors once for every child."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["t5_vectors", "tests.reliability.crash_preload"])
    return context


def snapshot(store: Path) -> Snapshot:
    client = QdrantClient(path=str(store))
    try:
        if not client.collection_exists(crash_child.COLLECTION):
            return {}
        records, _ = client.scroll(
            crash_child.COLLECTION, limit=10 * SIZE, with_payload=True, with_vectors=True
        )
    finally:
        client.close()
    return {
        str(r.id): (json.dumps(r.payload, sort_keys=True), np.asarray(r.vector, dtype=np.float32))
        for r in records
    }


def resume(st5_path: Path, store: Path) -> tuple[int, int]:
    """Run the same ingestion again, in this process; returns (written, skipped)."""
    index = crash_child.open_index(str(st5_path), str(store))
    try:
        report = index.ingest(crash_child.corpus(SIZE), batch_size=BATCH)
    finally:
        index.close()
        index.embedding.close()
    return report.written, report.skipped


@pytest.fixture(scope="module")
def clean(st5_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    store = tmp_path_factory.mktemp("clean") / "store"
    assert resume(st5_path, store) == (SIZE, 0)
    return snapshot(store)


def compare(found: Snapshot, clean: Snapshot) -> tuple[str, int]:
    missing = clean.keys() - found.keys()
    extra = found.keys() - clean.keys()
    changed = [
        pid
        for pid in clean.keys() & found.keys()
        if found[pid][0] != clean[pid][0]
        or not np.allclose(found[pid][1], clean[pid][1], atol=1e-5)
    ]
    bad = len(missing) + len(extra) + len(changed)
    if not bad:
        return "nothing", 0
    return f"{len(missing)} missing, {len(extra)} extra, {len(changed)} changed", bad


def markers(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def child(processes: Any, st5_path: Path, store: Path, log: Path, kill_at: str | None) -> Any:
    process = processes.Process(
        target=crash_child.run,
        args=(str(st5_path), str(store), str(log), SIZE, BATCH, kill_at),
        daemon=True,
    )
    process.start()
    return process


def stored_count(store: Path) -> int | str:
    """Points on disk right after the kill (or why the store would not open)."""
    try:
        return len(snapshot(store))
    except Exception as error:
        return first_line(error)


@pytest.mark.parametrize("seed", SEEDS)
def test_sigkill_at_random_points_then_rerun_converges(
    seed, processes, st5_path, tmp_path, clean, reliability
):
    rng = random.Random(seed)
    # 2 opening markers, then per batch: lookup, encode and upsert, each begin and end.
    target = rng.randint(1, 2 + 6 * (BATCHES - 1))  # the last batch leaves time to kill
    jitter = rng.uniform(0, 0.025)
    store, log = tmp_path / "store", tmp_path / "markers"
    process = child(processes, st5_path, store, log, None)
    deadline = time.monotonic() + TIMEOUT
    while len(markers(log)) < target and process.is_alive() and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(jitter)
    process.kill()
    process.join(TIMEOUT)
    seen = markers(log)
    killed = process.exitcode == -signal.SIGKILL
    written, skipped = resume(st5_path, store)
    found = snapshot(store)
    lost, bad = compare(found, clean)
    reliability(
        area="crash/resume",
        case=f"seed {seed}: SIGKILL {jitter * 1000:.0f} ms after progress marker {target} of "
        f"{2 + 6 * BATCHES}",
        expected="the store opens; the re-run leaves exactly the corpus",
        outcome=f"{'killed' if killed else 'finished before the kill'}; store opened; re-run "
        f"→ {len(found)}/{len(clean)} points, equal to a clean run: {bad == 0}",
        lost=lost,
    )
    assert killed
    assert not any(line.startswith("done") for line in seen)
    assert written + skipped == SIZE
    assert bad == 0


EXACT = [
    (
        "point:85",
        "between two points of batch 5 (5 of its 16 points committed)",
        85,
    ),
    ("commit:40", "inside point 40's SQLite transaction, before the commit", 39),
    ("meta-save", "while meta.json is replaced on collection creation", 0),
    ("meta-create", "while meta.json is first created (opened, not yet written)", 0),
]


@pytest.mark.parametrize(("kill_at", "where", "on_disk"), EXACT, ids=[e[0] for e in EXACT])
def test_sigkill_inside_embedded_writes_then_rerun_converges(
    kill_at, where, on_disk, processes, st5_path, tmp_path, clean, reliability
):
    store, log = tmp_path / "store", tmp_path / "markers"
    process = child(processes, st5_path, store, log, kill_at)
    process.join(TIMEOUT)
    killed = process.exitcode == -signal.SIGKILL
    after_kill = stored_count(store)
    lock_left = (store / ".lock").exists()
    written, skipped = resume(st5_path, store)
    found = snapshot(store)
    lost, bad = compare(found, clean)
    reliability(
        area="crash/resume",
        case=f"SIGKILL {where}",
        expected="the store opens; the re-run leaves exactly the corpus",
        outcome=f"{'killed' if killed else f'exit code {process.exitcode}'}; after the kill: "
        + (
            f"{after_kill} points on disk"
            if isinstance(after_kill, int)
            else f"qdrant-client cannot open the folder ({after_kill}), QdrantIndex repairs it"
        )
        + f"{', stale .lock left' if lock_left else ''}; re-run wrote {written}, skipped "
        f"{skipped} → {len(found)}/{len(clean)} points",
        lost=lost,
    )
    assert killed
    if kill_at == "meta-create":  # qdrant-client alone cannot open the folder; QdrantIndex can
        assert isinstance(after_kill, str)
        assert after_kill.startswith("JSONDecodeError")
    else:
        assert after_kill == on_disk
    assert (written, skipped) == (SIZE - on_disk, on_disk)
    assert bad == 0


@pytest.fixture(autouse=True)
def _no_leftover_children() -> Iterator[None]:
    yield
    for process in multiprocessing.active_children():
        process.kill()


def test_repair_touches_only_an_empty_meta_json_with_no_collection(tmp_path):
    from t5_vectors.qdrant.local_store import repair_interrupted_first_open

    (tmp_path / "meta.json").write_text("")
    (tmp_path / "collection" / "kept").mkdir(parents=True)
    assert not repair_interrupted_first_open(tmp_path)  # data exists: left for qdrant-client
    assert (tmp_path / "meta.json").read_text() == ""
    (tmp_path / "collection" / "kept").rmdir()
    assert repair_interrupted_first_open(tmp_path)
    QdrantClient(path=str(tmp_path)).close()  # opens again
    assert not repair_interrupted_first_open(tmp_path)  # a complete meta.json is never touched
