"""Crash and resume: SIGKILL an ingestion into an embedded on-disk store, re-run, compare.

Both embedded engines: Qdrant Edge (what ``QdrantIndex(storage=...)`` opens for a new folder) and
qdrant-client's local mode (folders it wrote; the test creates ``meta.json`` first). A child
process (``crash_child.run``) ingests a few hundred short texts through the tiny T5 checkpoint
and is killed with SIGKILL:

* at random points: a clean child run first records the progress markers the ingest really
  writes; each seed draws one of them (and a jitter of up to 25 ms), the parent waits for the
  child to reach it (an event the child sets), then kills it wherever it is (encoding, looking
  up, in the middle of a batch's write, building the index, or between batches). A child that
  the parent kills never finishes on its own: when its ingest returns it waits for the signal
  instead of closing the store, so the kill lands on any machine, however fast, and a kill
  that did not land fails the test;
* at exact points, where the child kills itself. Edge: right after an upsert returned, 0 and
  2 ms into the index build (from a timer thread), while the collection's sidecar file is
  replaced, and between the sidecar and the shard. Local mode: between two points of a batch,
  inside one point's SQLite transaction, while ``meta.json`` is replaced.

After the kill, every acknowledged write (an upsert that returned) must be on disk. Then the
same ingestion runs again in this process. The store must open (the dead process's locks are
released by the kernel), and the collection must hold exactly the corpus: the ids, payloads and
vectors of a clean run, nothing missing, nothing extra, no duplicates.
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
ENGINES = ("edge", "local")

Snapshot = dict[str, tuple[str, np.ndarray]]


@pytest.fixture(scope="module")
def processes() -> Any:
    """A forkserver context that imports torch and t5-vectors once for every child."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["t5_vectors", "tests.reliability.crash_preload"])
    return context


def prepare(store: Path, engine: str) -> None:
    """A local-mode store starts as a folder qdrant-client wrote; an Edge store as nothing."""
    if engine == "local":
        QdrantClient(path=str(store)).close()


def snapshot(store: Path, engine: str) -> Snapshot:
    if engine == "edge":
        return edge_snapshot(store)
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


def edge_snapshot(store: Path) -> Snapshot:
    from t5_vectors.storage.edge.backend import EdgeBackend

    with EdgeBackend(store, build_on_close=False) as backend:
        if crash_child.COLLECTION not in backend.list_collections():
            return {}
        records, _ = backend.scroll(crash_child.COLLECTION, limit=10 * SIZE, with_vectors=True)
    found: Snapshot = {}
    for r in records:
        assert r.vectors is not None
        found[str(r.id)] = (
            json.dumps(r.payload, sort_keys=True),
            np.asarray(r.vectors[""], dtype=np.float32),
        )
    return found


def resume(st5_path: Path, store: Path, engine: str) -> tuple[int, int]:
    """Run the same ingestion again, in this process; returns (written, skipped)."""
    index, backend = crash_child.open_index(str(st5_path), str(store), engine)
    try:
        report = index.ingest(crash_child.corpus(SIZE), batch_size=BATCH)
    finally:
        crash_child.close_index(index, backend)
        index.embedding.close()
    return report.written, report.skipped


@pytest.fixture(scope="module")
def clean(st5_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Snapshot]:
    snapshots = {}
    for engine in ENGINES:
        store = tmp_path_factory.mktemp(f"clean-{engine}") / "store"
        prepare(store, engine)
        assert resume(st5_path, store, engine) == (SIZE, 0)
        snapshots[engine] = snapshot(store, engine)
    return snapshots


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


def child(
    processes: Any,
    st5_path: Path,
    store: Path,
    log: Path,
    engine: str,
    kill_at: str | None,
    reached: Any = None,
    target: int | None = None,
) -> Any:
    prepare(store, engine)
    process = processes.Process(
        target=crash_child.run,
        args=(str(st5_path), str(store), str(log), SIZE, BATCH, engine, kill_at, reached, target),
        daemon=True,
    )
    process.start()
    return process


@pytest.fixture(scope="module")
def run_markers(
    processes: Any, st5_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[str]]:
    """The progress markers a whole ingest writes, per engine, from a child that is not killed."""
    found = {}
    for engine in ENGINES:
        folder = tmp_path_factory.mktemp(f"markers-{engine}")
        process = child(processes, st5_path, folder / "store", folder / "log", engine, None)
        process.join(TIMEOUT)
        seen = markers(folder / "log")
        assert process.exitcode == 0, (engine, process.exitcode, seen[-3:])
        assert seen[-1].startswith("done"), seen[-3:]
        found[engine] = seen[:-1]
    return found


def stored_count(store: Path, engine: str) -> int | str:
    """Points on disk right after the kill (or why the store would not open)."""
    try:
        return len(snapshot(store, engine))
    except Exception as error:
        return first_line(error)


def acknowledged(seen: list[str]) -> int:
    """Points whose upsert returned before the kill (every batch is full but the last)."""
    batches = sum(1 for line in seen if line == "upsert end")
    return min(SIZE, batches * BATCH)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("seed", SEEDS)
def test_sigkill_at_random_points_then_rerun_converges(
    seed, engine, processes, st5_path, tmp_path, clean, run_markers, reliability
):
    rng = random.Random(seed)
    run = run_markers[engine]
    target = rng.randint(2, len(run) - 1)  # after "start", before the last: inside the ingest
    jitter = rng.uniform(0, 0.025)
    store, log = tmp_path / "store", tmp_path / "markers"
    reached = processes.Event()
    process = child(processes, st5_path, store, log, engine, None, reached, target)
    arrived = reached.wait(TIMEOUT)
    time.sleep(jitter)  # where the kill lands after the marker: drawn, not waited on
    process.kill()
    process.join(TIMEOUT)
    seen = markers(log)
    killed = process.exitcode == -signal.SIGKILL
    after_kill = stored_count(store, engine)
    acked = acknowledged(seen)
    written, skipped = resume(st5_path, store, engine)
    found = snapshot(store, engine)
    lost, bad = compare(found, clean[engine])
    name = "Qdrant Edge" if engine == "edge" else "local mode"
    last = seen[-1] if seen else "none"
    reliability(
        area="crash/resume",
        case=f"{name}, seed {seed}: SIGKILL {jitter * 1000:.0f} ms after progress marker "
        f"{target} of {len(run)} ({run[target - 1]!r})",
        expected="acknowledged writes on disk; the store opens; the re-run leaves exactly the "
        "corpus",
        outcome=f"{'killed' if killed else f'not killed (exit code {process.exitcode})'} after "
        f"{last!r}; {after_kill} points on disk after the kill, {acked} acknowledged; re-run "
        f"→ {len(found)}/{len(clean[engine])} points, equal to a clean run: {bad == 0}",
        lost=lost,
    )
    assert arrived, f"the child never reached marker {target}: {seen[-3:]}"
    assert killed, f"the kill did not land: exit code {process.exitcode}, last {seen[-3:]}"
    assert not any(line.startswith("done") for line in seen)
    assert isinstance(after_kill, int)
    assert after_kill >= acked
    assert written + skipped == SIZE
    assert bad == 0


EXACT = [
    ("edge", "upsert:5", "right after batch 5's upsert returned (80 points acknowledged)", 80),
    ("edge", "index:0", "as the index build that ends the ingest starts", SIZE),
    ("edge", "index:2", "2 ms into the index build that ends the ingest", SIZE),
    ("edge", "sidecar-replace", "while collection.json is written (temp file, not renamed)", 0),
    ("edge", "sidecar-written", "after collection.json, before the Edge shard exists", 0),
    ("local", "point:85", "between two points of batch 5 (5 of its 16 points committed)", 85),
    ("local", "commit:40", "inside point 40's SQLite transaction, before the commit", 39),
    ("local", "meta-save", "while meta.json is replaced on collection creation", 0),
]


@pytest.mark.parametrize(
    ("engine", "kill_at", "where", "on_disk"), EXACT, ids=[f"{e[0]}-{e[1]}" for e in EXACT]
)
def test_sigkill_inside_embedded_writes_then_rerun_converges(
    engine, kill_at, where, on_disk, processes, st5_path, tmp_path, clean, reliability
):
    store, log = tmp_path / "store", tmp_path / "markers"
    process = child(processes, st5_path, store, log, engine, kill_at)
    process.join(TIMEOUT)
    killed = process.exitcode == -signal.SIGKILL
    seen = markers(log)
    after_kill = stored_count(store, engine)
    lock_left = (store / ".lock").exists() or (store / "edge" / ".lock").exists()
    written, skipped = resume(st5_path, store, engine)
    found = snapshot(store, engine)
    lost, bad = compare(found, clean[engine])
    name = "Qdrant Edge" if engine == "edge" else "local mode"
    in_build = "index begin" in seen and "index end" not in seen
    reliability(
        area="crash/resume",
        case=f"{name}: SIGKILL {where}",
        expected="acknowledged writes on disk; the store opens; the re-run leaves exactly the "
        "corpus",
        outcome=f"{'killed' if killed else f'exit code {process.exitcode}'}"
        + (f" ({'inside' if in_build else 'not inside'} the build)" if "index" in kill_at else "")
        + f"; after the kill: {after_kill} points on disk"
        + f"{', stale lock file left (free)' if lock_left else ''}; re-run wrote {written}, "
        f"skipped {skipped} → {len(found)}/{len(clean[engine])} points",
        lost=lost,
    )
    assert killed
    assert after_kill == on_disk
    assert (written, skipped) == (SIZE - on_disk, on_disk)
    assert bad == 0


@pytest.fixture(autouse=True)
def _no_leftover_children() -> Iterator[None]:
    yield
    for process in multiprocessing.active_children():
        process.kill()


def test_repair_touches_only_an_empty_meta_json_with_no_collection(tmp_path):
    from t5_vectors.storage.client.local import repair_interrupted_first_open

    (tmp_path / "meta.json").write_text("")
    (tmp_path / "collection" / "kept").mkdir(parents=True)
    assert not repair_interrupted_first_open(tmp_path)  # data exists: left for qdrant-client
    assert (tmp_path / "meta.json").read_text() == ""
    (tmp_path / "collection" / "kept").rmdir()
    assert repair_interrupted_first_open(tmp_path)
    QdrantClient(path=str(tmp_path)).close()  # opens again
    assert not repair_interrupted_first_open(tmp_path)  # a complete meta.json is never touched
