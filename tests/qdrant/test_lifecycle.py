"""Opening and closing embedded stores: nothing on disk before a write, closed at exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from t5_vectors import QdrantIndex
from t5_vectors.errors import CollectionConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_opening_a_missing_folder_creates_nothing_until_a_write(
    tiny_encoder: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "missing" / "store"
    with pytest.raises(CollectionConfigError, match="does not exist"):
        QdrantIndex(tiny_encoder, create_if_missing=False, storage=folder)
    assert not (tmp_path / "missing").exists()
    with QdrantIndex(tiny_encoder, storage=folder) as index:
        assert index.connection.kind == "edge"
        index.add(["now something is written"])
    assert folder.is_dir()


@pytest.mark.parametrize("kind", ["edge", "local-mode"])
def test_a_script_that_forgets_close_exits_cleanly(st5_path: Path, tmp_path: Path, kind: str):
    """Stores left open are closed at interpreter exit: no 'Exception ignored' traceback."""
    folder = tmp_path / "store"
    script = textwrap.dedent(
        f"""
        from qdrant_client import QdrantClient
        from t5_vectors import T5Encoder
        from t5_vectors import QdrantIndex

        if {kind == "local-mode"!r}:
            QdrantClient(path={str(folder)!r}).close()
        encoder = T5Encoder.from_pretrained({str(st5_path)!r}, device="cpu", dtype="float32")
        index = QdrantIndex(encoder, storage={str(folder)!r}, collection_name="c")
        index.add(["a text left in an open store"])
        print(index.connection.kind, index.count())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [kind, "1"]
    assert "Exception ignored" not in done.stderr
    assert "Traceback" not in done.stderr
    # The store was closed properly: it opens again with the point in it.
    with QdrantIndex(
        _encoder(st5_path), collection_name="c", create_if_missing=False, storage=folder
    ) as index:
        assert index.count() == 1


def _encoder(path: Path) -> Any:
    from t5_vectors import T5Encoder

    return T5Encoder.from_pretrained(str(path), device="cpu", dtype="float32")


def test_two_collections_of_one_folder_in_one_process(tiny_encoder: Any, tmp_path: Path) -> None:
    """As with Chroma's persist_directory: each index opens the folder, both work, either closes
    first; the folder's Edge backend (and its lock) is shared until the last one closes."""
    from langchain_core.documents import Document

    from t5_vectors import T5QdrantVectorStore

    notes = QdrantIndex(tiny_encoder, collection_name="notes", storage=tmp_path)
    store = T5QdrantVectorStore.from_texts(
        ["ferns like humidity"], tiny_encoder, collection_name="plants", path=str(tmp_path)
    )
    notes.add([Document(page_content="water weekly", id="n1")])
    assert [d.page_content for d in store.similarity_search("ferns", k=1)] == [
        "ferns like humidity"
    ]
    notes.close()
    store.add_texts(["cacti like sun"])  # the store's lease still holds the folder open
    store.index.close()
    with QdrantIndex(tiny_encoder, collection_name="notes", storage=tmp_path) as again:
        assert [d.id for d in again.get(["n1"])] == ["n1"]
        assert again.backend.count("plants") == 2
