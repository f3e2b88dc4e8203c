"""One Edge backend per folder in a process: every storage that opens the folder leases it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from t5_vectors.errors import InvalidInputError, StorageLockedError
from t5_vectors.storage.base import DenseVectorSpec, Nearest, Point, QueryPlan, Schema
from t5_vectors.storage.edge.backend import EdgeBackend
from t5_vectors.storage.edge.shared import EdgeLease, open_leases
from t5_vectors.storage.open import open_storage
from tests.storage.test_edge_concurrency import _second_process

DIM = 8
SCHEMA = Schema(dense={"": DenseVectorSpec(size=DIM)})


def _points(ids: range) -> list[Point]:
    vectors = np.random.default_rng(ids.start).standard_normal((len(ids), DIM)).astype(np.float32)
    return [Point(i, {"": v}, {"i": i}) for i, v in zip(ids, vectors, strict=True)]


def _holder_can_open(folder) -> str:
    """What a second process gets when it opens *folder* (with a collection ``c``)."""
    first = _second_process(folder)[0]
    return "locked" if first.startswith("StorageLockedError") else first


def test_two_storages_on_one_folder_share_one_backend_until_the_last_closes(tmp_path):
    folder = tmp_path / "store"
    first = open_storage(folder)
    second = open_storage(f"{tmp_path}/./store/")  # another spelling of the same folder
    assert isinstance(first.backend, EdgeLease)
    assert isinstance(second.backend, EdgeLease)
    assert first.backend.backend is second.backend.backend
    assert open_leases(folder) == 2
    first.backend.create("c", SCHEMA)
    second.backend.create("b", SCHEMA)
    first.backend.upsert("c", _points(range(0, 10)))
    second.backend.upsert("b", _points(range(100, 105)))
    assert (first.backend.count("b"), second.backend.count("c")) == (5, 10)
    assert _holder_can_open(folder) == "locked"  # still one process per folder

    first.close()
    assert open_leases(folder) == 1
    with pytest.raises(InvalidInputError, match="found it closed"):
        first.backend.count("c")
    hits = second.backend.query("c", QueryPlan(Nearest(_points(range(0, 1))[0].vectors[""]), 1))
    assert hits[0].id == 0  # the other lease still reads what the first wrote
    with pytest.raises(StorageLockedError):
        EdgeBackend(folder)  # a backend made directly is not shared

    second.close()
    assert open_leases(folder) == 0
    assert _holder_can_open(folder) == "opened"  # the last lease unlocked the folder
    with EdgeBackend(folder) as reopened:  # and built and flushed what was written
        assert (reopened.count("c"), reopened.count("b")) == (10, 5)


def test_closing_a_lease_twice_gives_back_one_share(tmp_path):
    first, second = open_storage(tmp_path), open_storage(tmp_path)
    first.backend.create("a", SCHEMA)
    first.close()
    first.backend.close()  # already given back: nothing more
    assert open_leases(tmp_path) == 1
    assert second.backend.count("a") == 0
    second.close()
    assert open_leases(tmp_path) == 0


def test_a_folder_reopened_after_the_last_lease_gets_a_new_backend(tmp_path):
    storage = open_storage(tmp_path)
    storage.backend.create("a", SCHEMA)
    storage.backend.upsert("a", _points(range(0, 3)))
    old = storage.backend.backend
    storage.close()
    again = open_storage(tmp_path)
    assert again.backend.backend is not old
    assert again.backend.count("a") == 3
    again.close()


def test_threads_opening_one_folder_at_once_share_one_backend(tmp_path):
    threads, start = 8, threading.Barrier(8)
    opened: list[object] = []

    def open_one() -> None:
        start.wait()
        opened.append(open_storage(tmp_path))

    workers = [threading.Thread(target=open_one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    backends = {id(storage.backend.backend) for storage in opened}  # type: ignore[attr-defined]
    assert len(backends) == 1
    assert open_leases(tmp_path) == threads
    for storage in opened:
        storage.close()  # type: ignore[attr-defined]
    assert open_leases(tmp_path) == 0
