"""The per-file record on chunk 0: unchanged files are read but not split again.

A file's record (its digest and chunk count, top-level payload key ``file``) is written only
after every chunk of the file is stored; a re-run compares the digest and, when it matches,
takes the file as stored without splitting it. These tests count the splits, and check that a
record can never make a run skip content that is not stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from t5_vectors.files.chunking import ChunkSettings, TokenChunker
from t5_vectors.files.ingest import chunk_id
from t5_vectors.plan.ids import point_id
from t5_vectors.plan.payload import FILE_KEY

KINDS = ("edge", "local-mode", "memory")


def _index(kind: str, tmp_path: Path, encoder: Any) -> Any:
    from qdrant_client import QdrantClient

    from t5_vectors import QdrantIndex

    if kind == "memory":
        return QdrantIndex(encoder, collection_name="c", storage=":memory:")
    folder = tmp_path / kind
    if kind == "local-mode" and not folder.exists():
        QdrantClient(path=str(folder)).close()
    index = QdrantIndex(encoder, collection_name="c", storage=folder)
    assert index.connection.kind == kind
    return index


def _corpus(folder: Path, n: int = 5) -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"note{i}.md"
        path.write_text(f"# Note {i}\n\n" + f"Ferns {i} like shade and damp soil. " * (8 + 4 * i))
        paths.append(path)
    return paths


@pytest.fixture
def splits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the texts split (one entry per call of ``TokenChunker.split``)."""
    calls: list[int] = []
    real = TokenChunker.split

    def counting(self: TokenChunker, text: str, language: Any = None) -> Any:
        calls.append(len(text))
        return real(self, text, language)

    monkeypatch.setattr(TokenChunker, "split", counting)
    return calls


def _record(index: Any, source: Path) -> Any:
    records = index.backend.retrieve(
        index.collection_name, [point_id(chunk_id(str(source), 0))], with_payload=(FILE_KEY,)
    )
    return (records[0].payload or {}).get(FILE_KEY) if records else None


@pytest.mark.parametrize("kind", KINDS)
def test_an_unchanged_file_is_read_but_not_split_again(
    kind: str, tmp_path: Path, tiny_encoder: Any, splits: list[int]
) -> None:
    from t5_vectors.files import ingest_files

    paths = _corpus(tmp_path / "docs")
    index = _index(kind, tmp_path, tiny_encoder)
    first = ingest_files(index, [tmp_path / "docs"], batch_size=2)
    assert len(splits) == len(paths)
    assert first.written == first.chunks == index.count() > len(paths)
    for path in paths:  # every file recorded, with its chunk count
        record = _record(index, path)
        assert record["chunks"] == index.count({"source": str(path)})
        assert len(record["digest"]) == 64
    stored = index.get([chunk_id(str(paths[0]), 0), chunk_id(str(paths[2]), 1)])
    splits.clear()
    again = ingest_files(index, [tmp_path / "docs"], batch_size=2)
    assert splits == []  # nothing split: every file matched its record
    assert (again.files, again.chunks, again.written) == (5, first.chunks, 0)
    assert again.skipped == first.chunks
    assert again.stale_removed == 0
    assert index.count() == first.chunks
    # The record is bookkeeping: documents read back exactly as written.
    assert index.get([chunk_id(str(paths[0]), 0), chunk_id(str(paths[2]), 1)]) == stored
    assert FILE_KEY not in stored[0].metadata
    index.close()


def test_a_changed_file_is_split_and_its_record_follows(
    tmp_path: Path, tiny_encoder: Any, splits: list[int]
) -> None:
    from t5_vectors.files import ingest_files

    paths = _corpus(tmp_path / "docs")
    index = _index("edge", tmp_path, tiny_encoder)
    ingest_files(index, [tmp_path / "docs"])
    old = _record(index, paths[4])
    # Shrink one file: it is split again, its leftover chunks go, its record changes.
    paths[4].write_text("# Note 4\n\nFerns are fine.")
    splits.clear()
    report = ingest_files(index, [tmp_path / "docs"])
    assert len(splits) == 1
    assert report.stale_removed == old["chunks"] - 1
    new = _record(index, paths[4])
    assert new["chunks"] == 1
    assert new["digest"] != old["digest"]
    # The same bytes again: nothing split.
    splits.clear()
    assert ingest_files(index, [tmp_path / "docs"]).written == 0
    assert splits == []
    # Other chunking settings: every file is split again (and, here, rewritten).
    small = ChunkSettings(chunk_tokens=24)
    rechunked = ingest_files(index, [tmp_path / "docs"], chunking=small)
    assert len(splits) == len(paths)
    assert rechunked.written > 0
    splits.clear()
    assert ingest_files(index, [tmp_path / "docs"], chunking=small).written == 0
    assert splits == []
    index.close()


def test_a_file_is_recorded_only_once_all_its_chunks_are_stored(
    tmp_path: Path, tiny_encoder: Any, monkeypatch: pytest.MonkeyPatch, splits: list[int]
) -> None:
    """An ingest stopped half-way leaves no record on a file whose chunks are not all stored."""
    from t5_vectors import IngestError, T5Encoder
    from t5_vectors.files import ingest_files

    paths = _corpus(tmp_path / "docs")
    index = _index("edge", tmp_path, tiny_encoder)
    real = T5Encoder.encode
    calls = {"n": 0}

    def broken(self: Any, texts: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 9:
            raise RuntimeError("out of memory")
        return real(self, texts, *args, **kwargs)

    monkeypatch.setattr(T5Encoder, "encode", broken)
    with pytest.raises(IngestError):
        ingest_files(index, [tmp_path / "docs"], batch_size=1)
    monkeypatch.setattr(T5Encoder, "encode", real)
    recorded = [path for path in paths if _record(index, path) is not None]
    for path in paths:
        record = _record(index, path)
        if record is not None:  # recorded: every chunk is stored
            assert index.count({"source": str(path)}) == record["chunks"]
    assert len(recorded) < len(paths)  # the run stopped before the last files were stored
    splits.clear()
    report = ingest_files(index, [tmp_path / "docs"], batch_size=1)
    assert len(splits) == len(paths) - len(recorded)  # only the unrecorded files are split
    assert report.failed == 0
    assert all(_record(index, path) is not None for path in paths)
    index.close()


def test_a_chunk_deleted_by_hand_is_stored_again(
    tmp_path: Path, tiny_encoder: Any, splits: list[int]
) -> None:
    """A record that no longer matches what is stored (a chunk deleted by id) is not trusted."""
    from t5_vectors.files import ingest_files

    paths = _corpus(tmp_path / "docs")
    index = _index("edge", tmp_path, tiny_encoder)
    first = ingest_files(index, [tmp_path / "docs"])
    index.delete([chunk_id(str(paths[3]), 1)])
    assert index.count() == first.chunks - 1
    splits.clear()
    report = ingest_files(index, [tmp_path / "docs"])
    assert len(splits) == 1  # only the file with the missing chunk
    assert report.written == 1
    assert (report.chunks, report.files) == (first.chunks, first.files)
    assert index.count() == first.chunks
    index.close()
