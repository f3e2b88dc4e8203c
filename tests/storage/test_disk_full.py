"""A disk that fills under an embedded (Qdrant Edge) store: a typed error, never a signal.

Qdrant Edge writes through memory-mapped files, so a full disk used to end the process with
SIGBUS ("Bus error", exit -7, nothing to act on). The backend now asks the filesystem before
each write, and refuses with :class:`StorageFullError` (the folder, the bytes free and needed)
while nothing of the write has reached the engine.

* At the seam, everywhere: the free space the backend reads is made to run out after some
  batches; the ingest stops with an ``IngestError`` caused by ``StorageFullError``, the process
  lives on, the store reopens with every acknowledged point, and the same ingest, once space is
  back, leaves exactly the corpus.
* On a real filesystem: a small tmpfs, mounted for the test where the machine allows it (root
  with mount rights; otherwise skipped, saying why), filled by an ingest in a child process,
  which must exit with the typed error rather than a signal; the tmpfs is then grown and the
  same ingest converges.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections import namedtuple
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

from t5_vectors import IngestError, QdrantIndex, StorageFullError
from t5_vectors.storage.edge import space

ROOT = Path(__file__).resolve().parents[2]
SIZE = 120
BATCH = 20
Usage = namedtuple("Usage", "total used free")


def corpus() -> list[Document]:
    return [Document(f"document {i} " * 30, metadata={"n": i}, id=f"doc-{i}") for i in range(SIZE)]


def test_a_disk_that_fills_mid_ingest_stops_with_the_typed_error(tmp_path, monkeypatch):
    store = tmp_path / "store"
    embedding = DeterministicFakeEmbedding(size=64)
    writes = []
    real = shutil.disk_usage

    def filling(path: object) -> Usage:
        """Plenty of room for the first three batches' checks, then less than any write needs."""
        usage = real(path)
        if len(writes) >= 3:
            return Usage(usage.total, usage.total, space.RESERVE - 1)
        return Usage(usage.total, usage.used, max(usage.free, 10 * space.RESERVE))

    upsert_checks = space.require

    def counted(folder: Path, needed: int, what: str) -> None:
        upsert_checks(folder, needed, what)
        if what.startswith("writing"):
            writes.append(what)

    monkeypatch.setattr(space.shutil, "disk_usage", filling)
    monkeypatch.setattr(space, "require", counted)
    index = QdrantIndex(embedding, collection_name="c", storage=store)
    with pytest.raises(IngestError) as caught:
        index.ingest(corpus(), batch_size=BATCH)
    full = caught.value.__cause__
    assert isinstance(full, StorageFullError)
    assert full.path == str(store)
    assert full.free == space.RESERVE - 1
    assert full.needed > full.free
    assert "free space on the disk under" in str(caught.value)
    acknowledged = caught.value.report.written
    assert acknowledged == 3 * BATCH  # three batches were checked and written
    with pytest.raises(StorageFullError):
        index.close()  # the index build at close needs room too: refused, data kept
    monkeypatch.setattr(space.shutil, "disk_usage", real)  # space is back
    with QdrantIndex(embedding, collection_name="c", storage=store) as reopened:
        assert reopened.count() == acknowledged
        report = reopened.ingest(corpus(), batch_size=BATCH)
        assert (report.written, report.skipped) == (SIZE - acknowledged, acknowledged)
        assert reopened.count() == SIZE
        assert sorted(d.id for d in reopened.get([f"doc-{i}" for i in range(SIZE)])) == sorted(
            f"doc-{i}" for i in range(SIZE)
        )


def test_a_store_whose_disk_is_full_refuses_to_open_its_shard(tmp_path, monkeypatch):
    store = tmp_path / "store"
    embedding = DeterministicFakeEmbedding(size=8)
    with QdrantIndex(embedding, collection_name="c", storage=store) as index:
        index.add(["kept"])
    monkeypatch.setattr(
        space.shutil, "disk_usage", lambda path: Usage(1 << 30, (1 << 30) - 4096, 4096)
    )
    index = QdrantIndex(embedding, collection_name="c", storage=store)  # reads the sidecar only
    with pytest.raises(StorageFullError, match=r"expected 40\.0 MiB free for opening"):
        index.count()  # loading the shard may allocate a log segment: refused first
    index.close()
    with pytest.raises(StorageFullError, match="creating collection 'other'"):
        QdrantIndex(embedding, collection_name="other", storage=tmp_path / "new")


CHILD = textwrap.dedent(
    """
    import sys
    from langchain_core.documents import Document
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from t5_vectors import IngestError, QdrantIndex
    embedding = DeterministicFakeEmbedding(size=768)
    index = QdrantIndex(embedding, storage=sys.argv[1], collection_name="c")
    docs = [Document("x " * 200, id=f"d{i}") for i in range(int(sys.argv[2]))]
    try:
        report = index.ingest(docs, batch_size=256)
    except IngestError as error:
        print("STORED", error.report.written, type(error.__cause__).__name__, flush=True)
        sys.exit(3)
    print("DONE", report.written, flush=True)
    """
)


@pytest.fixture
def small_disk(tmp_path):
    """A 48 MiB tmpfs, or a skip saying why the machine cannot mount one."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8); the seam test covers it")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"this machine does not let the test mount a tmpfs: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_real_full_disk_gives_the_typed_error_not_sigbus(small_disk):
    store = small_disk / "store"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    count = 20_000  # about 60 MB of vectors: more than the disk holds
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(store), str(count)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert run.returncode != -signal.SIGBUS, "killed by SIGBUS: the disk check did not hold"
    assert run.returncode == 3, (run.returncode, run.stdout, run.stderr[-2000:])
    stored, cause = run.stdout.split()[1:3]
    assert cause == "StorageFullError"
    subprocess.run(["mount", "-o", "remount,size=400m", str(small_disk)], check=True)
    embedding = DeterministicFakeEmbedding(size=768)
    with QdrantIndex(embedding, collection_name="c", storage=store) as index:
        assert index.count() == int(stored)  # every acknowledged batch is there
    again = subprocess.run(
        [sys.executable, "-c", CHILD, str(store), str(count)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert again.returncode == 0, (again.stdout, again.stderr[-2000:])
    assert again.stdout.split()[:2] == ["DONE", str(count - int(stored))]
