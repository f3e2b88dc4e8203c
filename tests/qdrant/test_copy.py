"""Copying a collection between stores without re-encoding: Edge, local-mode folders, :memory:."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient

from t5_vectors import CollectionSpec, QdrantIndex
from t5_vectors.cli import _copy as copy_command
from t5_vectors.errors import CollectionConfigError, InvalidInputError
from t5_vectors.index.collection import Collection
from t5_vectors.storage.base import Backend, SparseVector
from t5_vectors.storage.copy import copy_collection
from t5_vectors.storage.open import Storage, open_storage
from t5_vectors.testing import SAMPLE_SENTENCES

# Distinct texts of distinct lengths: equal vectors or BM25 scores would tie, and ties have no
# defined order on any engine (and move ranks, hence fused scores).
_PAIRS = zip(SAMPLE_SENTENCES, SAMPLE_SENTENCES[5:] + SAMPLE_SENTENCES[:5], strict=True)
CORPUS = [*SAMPLE_SENTENCES, *(f"{a} {b}" for a, b in _PAIRS)]
QUERY = "vector search with token pieces"


def _local_mode_folder(path: Path) -> Path:
    """A folder written by qdrant-client's local mode (as langchain-qdrant path= leaves it)."""
    QdrantClient(path=str(path)).close()
    assert (path / "meta.json").is_file()
    return path


@pytest.fixture(params=["edge", "local-mode", "memory"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _open(kind: str, tmp_path: Path, name: str) -> Storage:
    if kind == "memory":
        return open_storage(":memory:")
    folder = tmp_path / name
    if kind == "local-mode":
        _local_mode_folder(folder)
    connection = open_storage(folder)
    assert connection.kind == kind
    return connection


@pytest.fixture
def source(tiny_encoder: Any, tmp_path: Path) -> Iterator[QdrantIndex]:
    index = QdrantIndex(
        tiny_encoder,
        collection_name="docs",
        storage=tmp_path / "source",
        spec=CollectionSpec(token_vectors=True, sparse_vectors=True),
    )
    index.ingest(CORPUS)
    yield index
    index.close()


def _all(backend: Backend, collection: str) -> dict[Any, Any]:
    records, offset = backend.scroll(collection, limit=1000, with_vectors=True)
    assert offset is None
    return {record.id: record for record in records}


def ranking(pairs: list[tuple[Any, float]], places: int = 4) -> list[tuple[float, list[str]]]:
    """Scores (rounded to *places*) best first, each with the ids that share it, sorted.

    Points that tie (the same text read by the tiny model's first tokens) have no defined
    order on any engine, so a ranking is compared group by group.
    """
    groups: dict[float, list[str]] = {}
    for document, score in pairs:
        groups.setdefault(round(score, places), []).append(str(document.id))
    return [(score, sorted(ids)) for score, ids in groups.items()]


def _same_vectors(a: Any, b: Any) -> bool:
    if isinstance(a, SparseVector):
        return a.indices == b.indices and np.allclose(a.values, b.values, atol=1e-6)
    return bool(np.allclose(a, b, atol=1e-6))


def test_copy_preserves_ids_payloads_every_vector_and_the_model_record(
    source: QdrantIndex, kind: str, tmp_path: Path, tiny_encoder: Any
) -> None:
    destination = _open(kind, tmp_path, "dest")
    seen: list[tuple[int, int | None]] = []
    report = copy_collection(
        source.backend,
        "docs",
        destination.backend,
        page=7,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert report.points == len(CORPUS)
    assert report.created
    assert seen[0] == (0, len(CORPUS))
    assert seen[-1] == (len(CORPUS), len(CORPUS))
    assert len(seen) == 1 + -(-len(CORPUS) // 7)  # one call per page: it streams
    original, copied = _all(source.backend, "docs"), _all(destination.backend, "docs")
    assert copied.keys() == original.keys()
    for point_id, record in original.items():
        assert copied[point_id].payload == record.payload
        assert record.vectors is not None
        assert copied[point_id].vectors is not None
        assert (
            copied[point_id].vectors.keys()
            == record.vectors.keys()
            == {
                "",
                "tokens",
                "langchain-sparse",
            }
        )
        for name, vector in record.vectors.items():
            assert _same_vectors(vector, copied[point_id].vectors[name]), name
    schema = destination.backend.describe("docs")
    assert schema is not None
    assert schema.metadata == source.backend.describe("docs").metadata  # type: ignore[union-attr]
    # The copy is a collection the same model opens and searches, in every mode.
    reopened = QdrantIndex(
        tiny_encoder,
        collection_name="docs",
        create_if_missing=False,
        storage=destination.backend,
        spec=CollectionSpec(token_vectors=True, sparse_vectors=True),
    )
    for mode in ("dense", "maxsim", "rerank", "sparse", "hybrid"):
        expected = source.search(QUERY, k=len(CORPUS), mode=mode, exact=True)
        found = reopened.search(QUERY, k=len(CORPUS), mode=mode, exact=True)
        assert ranking(found) == ranking(expected), mode
    # Running it again is safe: nothing is duplicated.
    again = copy_collection(source.backend, "docs", destination.backend)
    assert (again.points, again.created) == (len(CORPUS), False)
    assert destination.backend.count("docs") == len(CORPUS)
    destination.close()


def test_a_different_collection_at_the_destination_is_refused(
    source: QdrantIndex, tmp_path: Path, tiny_encoder: Any
) -> None:
    other = QdrantIndex(tiny_encoder, collection_name="docs", storage=tmp_path / "other")
    other.add(["already here"])
    with pytest.raises(CollectionConfigError, match="another collection; nothing was copied"):
        copy_collection(source.backend, "docs", other.backend)
    assert other.count() == 1
    with pytest.raises(CollectionConfigError, match="Expected collection 'nope'"):
        copy_collection(source.backend, "nope", other.backend)
    other.close()


def test_index_copy_to_a_local_mode_folder_and_back(tiny_encoder: Any, tmp_path: Path) -> None:
    index = QdrantIndex(tiny_encoder, collection_name="docs", storage=tmp_path / "edge")
    ids = index.add(CORPUS[:5])
    folder = _local_mode_folder(tmp_path / "local")
    report = index.copy_to(folder, collection_name="moved")
    assert (report.points, report.created) == (5, True)
    index.close()
    with QdrantIndex(tiny_encoder, collection_name="moved", storage=folder) as moved:
        assert moved.connection.kind == "local-mode"
        assert [d.id for d in moved.get(ids)] == ids
        with pytest.raises(TypeError, match="storage"):
            moved.copy_to()  # type: ignore[call-arg]


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    copy_command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["copy", *argv])
    status: int = args.run(args)
    return status


def test_cli_copy_between_folders(
    source: QdrantIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source.close()  # the CLI opens the folder itself
    to = tmp_path / "copied"
    args = ("--collection", "docs", "--from-path", str(tmp_path / "source"), "--to-path", str(to))
    assert _cli(*args) == 0
    assert f"Copied {len(CORPUS)} points of 'docs'" in capsys.readouterr().out
    assert _cli(*args) == 0  # again: the same collection is completed, not refused
    assert "existing collection 'docs'" in capsys.readouterr().out
    missing = tmp_path / "missing"
    with pytest.raises(CollectionConfigError, match="found no such folder"):
        _cli("--collection", "docs", "--from-path", str(missing), "--to-path", str(to))
    assert not missing.exists()
    with pytest.raises(CollectionConfigError, match="Expected collection 'nope'"):
        _cli("--collection", "nope", "--from-path", str(to), "--to-path", str(tmp_path / "new"))
    assert not (tmp_path / "new").exists()  # nothing is created when the first step fails
    inside = ("--collection", "docs", "--from-path", str(to), "--to-path", str(to))
    assert _cli(*inside, "--to-collection", "twin") == 0  # within one folder, opened once
    assert "created collection 'twin'" in capsys.readouterr().out
    with pytest.raises(InvalidInputError, match="found the source collection itself"):
        _cli(*inside)
    with pytest.raises(InvalidInputError, match="--to-api-key-env: expected together"):
        _cli(*args, "--to-api-key-env", "SOME_VARIABLE")
    unset = ("--to-url", "http://localhost:1", "--to-api-key-env", "T5V_TEST_UNSET_KEY")
    with pytest.raises(InvalidInputError, match=r"^--to-api-key-env: expected the environment"):
        _cli("--collection", "docs", "--from-path", str(to), *unset)  # the flag given, named


def test_cli_copy_reads_the_default_folder_and_copies_inside_a_store(
    source: QdrantIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Like every command, copy reads ./t5_vectors_data unless told; --to-collection alone
    copies inside the source's store; no destination at all is refused before anything opens."""
    source.close()
    (tmp_path / "source").rename(tmp_path / "t5_vectors_data")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInputError, match="expected a destination, found none"):
        _cli("--collection", "docs")
    assert _cli("--collection", "docs", "--to-collection", "docs-v2") == 0
    out = capsys.readouterr().out
    assert "from 't5_vectors_data' to 't5_vectors_data' (created collection 'docs-v2')" in out
    assert _cli("--collection", "docs", "--to-path", "backup") == 0
    from t5_vectors.storage.open import open_storage

    for folder, name in (("backup", "docs"), ("t5_vectors_data", "docs-v2")):
        storage = open_storage(folder)
        assert Collection(storage, name).count() == len(CORPUS)
        storage.close()
