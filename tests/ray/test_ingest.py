"""t5_vectors.ray.ingest and QdrantDatasink on a local Ray cluster: equal to a plain ingest.

Embedded storage is written from the driver; the worker path (lookups and writes in Ray
workers) runs against a stand-in server (:mod:`._standin`: one Ray actor holding the store).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import ray
from langchain_core.documents import Document

from t5_vectors import CollectionSpec, QdrantIndex, RetryPolicy, T5Encoder
from t5_vectors.errors import InvalidInputError
from t5_vectors.ray import QdrantDatasink, T5EmbedBatches, ingest

from ._standin import serve, state
from .conftest import PACKAGE_ROOT

pytestmark = pytest.mark.usefixtures("ray_cluster")

N = 40
FAST_RETRY = RetryPolicy(attempts=4, initial_wait=0.01, max_wait=0.05, jitter=0.0)
CPU = {"device": "cpu", "dtype": "float32"}


def corpus(n: int = N) -> list[dict[str, Any]]:
    return [
        {
            "id": f"doc-{i}",
            "text": f"Chunk {i}: vector databases store embeddings; T5 reads text number {i}.",
            "source": f"file-{i % 7}.md",
            "chunk": i,
        }
        for i in range(n)
    ]


def plain_state(encoder: T5Encoder, rows: list[dict[str, Any]], **layout: Any) -> dict[str, Any]:
    """What a plain QdrantIndex.ingest stores for *rows*."""
    documents = [
        Document(
            id=row["id"],
            page_content=row["text"],
            metadata={"source": row["source"], "chunk": row["chunk"]},
        )
        for row in rows
    ]
    with QdrantIndex(
        encoder, collection_name="c", storage=":memory:", spec=CollectionSpec(**layout)
    ) as index:
        assert index.ingest(documents).written == len(rows)
        return state(index.backend, "c")


def assert_same(got: dict[str, Any], expected: dict[str, Any]) -> None:
    assert sorted(got) == sorted(expected)
    for point_id, (payload, vectors) in expected.items():
        got_payload, got_vectors = got[point_id]
        assert got_payload == payload
        assert sorted(got_vectors) == sorted(vectors)
        for name, value in vectors.items():
            if hasattr(value, "indices"):
                assert got_vectors[name].indices == value.indices
                np.testing.assert_allclose(got_vectors[name].values, value.values, rtol=1e-6)
            else:
                np.testing.assert_allclose(got_vectors[name], value, atol=1e-5, rtol=0)


@pytest.fixture
def model_copy(st5_path: Path, tmp_path: Path) -> Path:
    """A private copy of the checkpoint: deleting it proves that a re-run encodes nothing."""
    return Path(shutil.copytree(st5_path, tmp_path / "model"))


@pytest.fixture
def encoder(model_copy: Path) -> Iterator[T5Encoder]:
    encoder = T5Encoder.from_pretrained(str(model_copy), **CPU)
    yield encoder
    encoder.close()


def test_embedded_storage_equals_plain_ingest_and_reruns_encode_nothing(
    encoder: T5Encoder, model_copy: Path, tmp_path: Path
) -> None:
    rows = corpus()
    expected = plain_state(encoder, rows)
    with QdrantIndex(encoder, collection_name="c", storage=tmp_path / "store") as index:
        assert index.connection.kind == "edge"
        options = {"id_column": "id", "metadata_columns": ["source", "chunk"], "batch_size": 16}
        dataset = ray.data.from_items(rows, override_num_blocks=3)
        first = ingest(dataset, index, concurrency=1, **options)
        assert (first.written, first.skipped, first.failed) == (N, 0, 0)
        assert_same(state(index.backend, "c"), expected)

        changed = [dict(row) for row in rows]
        changed[5]["text"] += " Edited."
        again = ingest(ray.data.from_items(changed), index, concurrency=1, **options)
        assert (again.written, again.skipped) == (1, N - 1)

        shutil.rmtree(model_copy)  # an actor that had to encode could not load the model now
        rerun = ingest(ray.data.from_items(changed), index, concurrency=1, **options)
        assert (rerun.written, rerun.skipped, rerun.failed) == (0, N, 0)
        assert index.count() == N


def test_workers_write_a_server_with_retries_and_token_and_sparse_vectors(
    encoder: T5Encoder, model_copy: Path
) -> None:
    rows = corpus()
    layout = {"token_vectors": True, "sparse_vectors": True}
    expected = plain_state(encoder, rows, **layout)
    spec = CollectionSpec(**layout)
    with QdrantIndex(
        encoder, collection_name="c", storage=":memory:", spec=spec, retry=FAST_RETRY
    ) as index:
        index.ensure_collection()
        server = serve(index.backend, "c")
        import t5_vectors

        assert ray.get(server.server.imported_from.remote()) == t5_vectors.__file__
        ray.get(server.server.fail_next.remote("upsert", 2))  # transient: retried
        ray.get(server.server.fail_next.remote("retrieve", 1))
        report = ingest(
            ray.data.from_items(rows, override_num_blocks=4),
            index,
            id_column="id",
            metadata_columns=["source", "chunk"],
            concurrency=1,
            batch_size=8,
            worker_storage=server,
        )
        assert (report.written, report.skipped, report.failed) == (N, 0, 0)
        assert_same(state(server, "c"), expected)
        shutil.rmtree(model_copy)
        rerun = ingest(
            ray.data.from_items(rows),
            index,
            id_column="id",
            metadata_columns=["source", "chunk"],
            concurrency=1,
            worker_storage=server,
        )
        assert (rerun.written, rerun.skipped) == (0, N)
        assert server.count("c") == N


def test_an_empty_server_collection_skips_the_lookup_stage(encoder: T5Encoder) -> None:
    rows = corpus(12)
    edited = {**rows[3], "text": rows[3]["text"] + " Edited."}  # same id, later in its block
    with QdrantIndex(encoder, collection_name="c", storage=":memory:") as index:
        index.ensure_collection()
        server = serve(index.backend, "c")
        options = {"id_column": "id", "metadata_columns": ["source", "chunk"], "concurrency": 1}
        report = ingest(
            ray.data.from_items([*rows, edited], override_num_blocks=1),
            index,
            batch_size=64,
            worker_storage=server,
            **options,
        )
        assert "retrieve" not in ray.get(server.server.count_calls.remote())  # no lookups
        assert (report.written, report.skipped, report.failed, report.batches) == (12, 1, 0, 1)
        assert_same(state(server, "c"), plain_state(encoder, [*rows[:3], edited, *rows[4:]]))
        rerun = ingest(ray.data.from_items(rows), index, worker_storage=server, **options)
        assert ray.get(server.server.count_calls.remote())["retrieve"] >= 1  # stored: looked up
        assert (rerun.written, rerun.skipped) == (1, 11)  # row 3 is back to its first text


class DiesOnce(T5EmbedBatches):
    """Kills its own actor process on its second batch, once per marker file."""

    def __init__(self, marker: str, **options: Any) -> None:
        super().__init__(**options)
        self.marker = marker
        self.batches = 0

    def __call__(self, batch: Any) -> Any:
        self.batches += 1
        if self.batches == 2 and not os.path.exists(self.marker):
            Path(self.marker).write_text(str(os.getpid()))
            os._exit(1)
        return super().__call__(batch)


def test_an_encoder_actor_killed_mid_run_is_restarted_and_the_collection_is_exact(
    encoder: T5Encoder, model_copy: Path, tmp_path: Path
) -> None:
    rows = corpus()
    expected = plain_state(encoder, rows)
    marker = tmp_path / "killed"
    with QdrantIndex(encoder, collection_name="c", storage=":memory:") as index:
        index.ensure_collection()
        server = serve(index.backend, "c")
        sink = QdrantDatasink(
            index, id_column="id", metadata_columns=["source", "chunk"], worker_storage=server
        )
        ray.data.from_items(rows, override_num_blocks=5).map_batches(
            DiesOnce,
            fn_constructor_kwargs={"marker": str(marker), "model": str(model_copy), **CPU},
            compute=ray.data.ActorPoolStrategy(size=1),
            batch_size=8,
        ).write_datasink(sink)
    assert marker.exists()  # the actor did die mid-run
    assert sink.written >= N  # batches lost with the actor were redone
    assert_same(state(server, "c"), expected)


DRIVER = """
import os, signal, sys
import ray
from t5_vectors import QdrantIndex, T5Encoder
from t5_vectors.ray import ingest

address, model, store, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ray.init(address=address, log_to_driver=False)
ray.data.DataContext.get_current().enable_progress_bars = False
encoder = T5Encoder.from_pretrained(model, device="cpu", dtype="float32")
index = QdrantIndex(encoder, collection_name="c", storage=store)
backend = index.backend
upsert, calls = backend.upsert, []

def dying_upsert(collection, points):
    upsert(collection, points)
    calls.append(len(points))
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)  # the driver dies between two writes

backend.upsert = dying_upsert
data = [{"id": f"doc-{i}", "text": f"Chunk {i}: vector databases store embeddings; "
         f"T5 reads text number {i}.", "source": f"file-{i % 7}.md", "chunk": i}
        for i in range(rows)]
ingest(ray.data.from_items(data), index, id_column="id", metadata_columns=["source", "chunk"],
       concurrency=1, batch_size=8)
print("finished")
"""


def test_a_driver_killed_mid_run_converges_on_rerun(
    encoder: T5Encoder, model_copy: Path, tmp_path: Path
) -> None:
    rows = corpus()
    store = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT}
    address = ray.get_runtime_context().gcs_address
    run = subprocess.run(
        [sys.executable, "-c", DRIVER, address, str(model_copy), str(store), str(N)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr[-2000:]
    with QdrantIndex(encoder, collection_name="c", storage=store) as index:
        partial = index.count()
        assert partial == 16  # two batches of 8 were written before the driver died
        report = ingest(
            ray.data.from_items(rows),
            index,
            id_column="id",
            metadata_columns=["source", "chunk"],
            concurrency=1,
            batch_size=8,
        )
        assert (report.written, report.skipped) == (N - partial, partial)
        assert_same(state(index.backend, "c"), plain_state(encoder, rows))


def test_default_ids_and_metadata_match_qdrant_index(encoder: T5Encoder, tmp_path: Path) -> None:
    rows = [{"text": f"text {i % 5}", "source": f"s{i % 3}", "n": i % 5} for i in range(12)]
    documents = [
        Document(page_content=r["text"], metadata={"source": r["source"], "n": r["n"]})
        for r in rows
    ]
    with QdrantIndex(encoder, collection_name="c", storage=":memory:") as plain:
        plain.ingest(documents)
        expected = state(plain.backend, "c")
    with QdrantIndex(encoder, collection_name="c", storage=tmp_path / "store") as index:
        report = ingest(ray.data.from_items(rows), index, concurrency=1)
        assert report.written + report.skipped == len(rows)
        assert_same(state(index.backend, "c"), expected)  # duplicates collapse as in ingest


def test_user_errors_are_typed(encoder: T5Encoder, tmp_path: Path) -> None:
    from langchain_core.embeddings import FakeEmbeddings

    with QdrantIndex(encoder, collection_name="c", storage=tmp_path / "store") as index:
        with pytest.raises(InvalidInputError, match="server or cluster"):
            QdrantDatasink(index)
        with pytest.raises(InvalidInputError, match="concurrency"):
            ingest(ray.data.from_items(corpus(2)), index, concurrency=0)
        with pytest.raises(InvalidInputError, match="text_column: expected a column 'body'"):
            ingest(ray.data.from_items(corpus(2)), index, text_column="body", concurrency=1)
    with (
        QdrantIndex(FakeEmbeddings(size=8), collection_name="c", storage=":memory:") as other,
        pytest.raises(InvalidInputError, match="T5Encoder"),
    ):
        ingest(ray.data.from_items(corpus(2)), other)


def test_ingest_files_equals_the_plain_file_ingest(encoder: T5Encoder, tmp_path: Path) -> None:
    from t5_vectors.files import ChunkSettings
    from t5_vectors.files import ingest_files as plain_ingest_files
    from t5_vectors.ray import ingest_files

    folder = tmp_path / "docs"
    folder.mkdir()
    paragraphs = [f"Paragraph {i}: Qdrant stores vectors and T5 reads text." for i in range(12)]
    (folder / "a.md").write_text("# A\n\n" + "\n\n".join(paragraphs))
    (folder / "b.txt").write_text("\n\n".join(reversed(paragraphs[:5])))
    (folder / "c.bin").write_bytes(bytes(range(256)))
    chunking = ChunkSettings(24, 4)
    with (
        QdrantIndex(encoder, collection_name="c", storage=":memory:") as plain,
        QdrantIndex(encoder, collection_name="c", storage=":memory:") as index,
    ):
        expected = plain_ingest_files(plain, [folder], chunking=chunking)
        report = ingest_files(index, [folder], chunking=chunking, concurrency=1, block_rows=4)
        assert (report.files, report.chunks, report.written) == (
            2,
            expected.chunks,
            expected.chunks,
        )
        assert report.binary == expected.binary
        assert_same(state(index.backend, "c"), state(plain.backend, "c"))

        (folder / "a.md").write_text("# A\n\n" + "\n\n".join(paragraphs[:3]))  # shrinks
        expected = plain_ingest_files(plain, [folder], chunking=chunking)
        report = ingest_files(index, [folder], chunking=chunking, concurrency=1)
        assert report.stale_removed == expected.stale_removed > 0
        assert (report.written, report.skipped) == (expected.written, expected.skipped)
        assert_same(state(index.backend, "c"), state(plain.backend, "c"))
