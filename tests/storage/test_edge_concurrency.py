"""EdgeBackend under concurrency: a second process is refused; threads equal serial calls."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from t5_vectors.errors import StorageLockedError
from t5_vectors.storage.base import DenseVectorSpec, Nearest, Point, QueryPlan, Schema
from t5_vectors.storage.edge.backend import EdgeBackend

DIM = 32
SCHEMA = Schema(dense={"": DenseVectorSpec(size=DIM)}, payload_indexes={"batch": "integer"})

_SECOND_PROCESS = textwrap.dedent(
    """
    import sys
    from t5_vectors.errors import StorageLockedError
    from t5_vectors.storage.edge.backend import EdgeBackend

    try:
        backend = EdgeBackend(sys.argv[1])
        backend.count("c")
    except StorageLockedError as error:
        print("StorageLockedError", error.path)
        print(error)
    else:
        print("opened")
    """
)


def _second_process(store: Path) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", _SECOND_PROCESS, str(store)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.splitlines()


def _points(ids: range, batch: int, seed: int) -> list[Point]:
    vectors = np.random.default_rng(seed).standard_normal((len(ids), DIM)).astype(np.float32)
    return [Point(i, {"": v}, {"batch": batch}) for i, v in zip(ids, vectors, strict=True)]


def test_a_second_process_gets_a_typed_error_naming_the_folder_and_the_fix(tmp_path):
    store = tmp_path / "store"
    backend = EdgeBackend(store)
    backend.create("c", SCHEMA)
    backend.upsert("c", _points(range(10), 0, 0))
    lines = _second_process(store)
    assert lines[0] == f"StorageLockedError {store}"
    message = "\n".join(lines[1:])
    assert str(store) in message
    assert "another process" in message
    assert "Qdrant server" in message
    assert "--qdrant-url" in message
    assert "url=" in message
    assert "WouldBlock" not in message
    assert "WAL" not in message
    backend.close()
    with EdgeBackend(store) as reopened:  # free once closed (a dead process frees it too)
        assert reopened.count("c") == 10


def test_a_second_backend_in_this_process_gets_the_same_error(tmp_path):
    with EdgeBackend(tmp_path) as backend:
        backend.create("c", SCHEMA)
        with pytest.raises(StorageLockedError) as caught:
            EdgeBackend(tmp_path)
        assert caught.value.path == str(tmp_path)
    EdgeBackend(tmp_path).close()


def test_two_fresh_backends_race_for_an_empty_folder(tmp_path):
    first, second = EdgeBackend(tmp_path), EdgeBackend(tmp_path)  # nothing on disk: both open
    first.create("a", SCHEMA)
    with pytest.raises(StorageLockedError):
        second.create("b", SCHEMA)
    first.close()
    second.close()


def test_threads_searching_and_writing_see_whole_batches_and_serial_results(tmp_path):
    backend = EdgeBackend(tmp_path, index_after=None)
    backend.create("c", SCHEMA)
    backend.upsert("c", _points(range(500), 0, 1))
    queries = np.random.default_rng(2).standard_normal((20, DIM)).astype(np.float32)
    only_first = {"must": [{"key": "batch", "match": {"value": 0}}]}

    def search(q: np.ndarray) -> list[int | str]:
        return [
            h.id for h in backend.query("c", QueryPlan(Nearest(q), limit=10, filter=only_first))
        ]

    serial = [search(q) for q in queries]
    batches = range(1, 21)
    errors: list[BaseException] = []
    partial: list[tuple[int, int]] = []
    mismatches: list[int] = []

    def writer() -> None:
        try:
            for b in batches:
                backend.upsert("c", _points(range(500 + 50 * b, 550 + 50 * b), b, b))
                if b % 5 == 0:
                    backend.delete("c", ids=list(range(500 + 50 * b, 510 + 50 * b)))
        except BaseException as error:
            errors.append(error)

    def reader(k: int) -> None:
        try:
            for round_ in range(10):
                for i, q in enumerate(queries):
                    if search(q) != serial[i]:
                        mismatches.append(i)
                b = batches[(k + round_) % len(batches)]
                seen = backend.count("c", {"must": [{"key": "batch", "match": {"value": b}}]})
                if seen not in (0, 50, 40):  # a batch is seen whole or not at all
                    partial.append((b, seen))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader, args=(k,)) for k in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert mismatches == []
    assert partial == []
    assert backend.count("c") == 500 + 20 * 50 - 4 * 10
    backend.close()
