"""The CLI on the storage seam: Edge folders by default, local-mode folders as they are, copy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from t5_vectors.storage.open import is_local_mode_folder
from tests.cli.conftest import open_store

ROOT = Path(__file__).resolve().parents[2]


def _error(run) -> str:
    assert run.status == 2, (run.out, run.err)
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("t5-vectors: error: ")
    return lines[0]


def _search(cli, path: Path) -> list[tuple[str, float]]:
    run = cli(
        "search", "when to water", "--collection", "docs", "-k", "5", "--json",
        "--qdrant-path", str(path), model=None, qdrant=False,
    )  # fmt: skip
    assert run.status == 0, run.err
    return [(row["id"], row["score"]) for row in run.json()["results"]]


def _kind(path: Path) -> str:
    connection = open_store(path)
    try:
        return connection.kind
    finally:
        connection.close()


def test_ingest_into_the_default_path_makes_an_edge_folder(cli, docs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("ingest", str(docs), "--collection", "d", qdrant=False).status == 0
    folder = tmp_path / "t5_vectors_data"
    assert folder.is_dir()
    assert not is_local_mode_folder(folder)
    assert _kind(folder) == "edge"
    info = cli("info", "--json", qdrant=False).json()["collections"]
    assert [item["name"] for item in info] == ["d"]


def test_copy_edge_to_local_mode_and_back_searches_the_same(cli, docs, store, tmp_path):
    assert cli("ingest", str(docs), "--collection", "docs").status == 0
    assert _kind(store) == "edge"
    local = tmp_path / "local"
    QdrantClient(path=str(local)).close()  # a folder written by qdrant-client's local mode
    run = cli(
        "copy", "--collection", "docs", "--from-path", str(store), "--to-path", str(local),
        qdrant=False,
    )  # fmt: skip
    assert run.status == 0, run.err
    assert is_local_mode_folder(local)
    assert _kind(local) == "local-mode"
    back = tmp_path / "back"
    run = cli(
        "copy", "--collection", "docs", "--from-path", str(local), "--to-path", str(back),
        qdrant=False,
    )  # fmt: skip
    assert run.status == 0, run.err
    assert _kind(back) == "edge"
    expected = _search(cli, store)
    assert len(expected) == 5
    for path in (local, back):
        found = _search(cli, path)
        assert [hit for hit, _ in found] == [hit for hit, _ in expected]
        assert [score for _, score in found] == pytest.approx(
            [score for _, score in expected], abs=1e-5
        )


def test_an_edge_folder_held_by_another_process_is_one_line(cli, docs, store):
    assert cli("ingest", str(docs), "--collection", "docs").status == 0
    code = (
        "import sys\n"
        "from t5_vectors import open_storage\n"
        f"connection = open_storage({str(store)!r})\n"
        "connection.backend.list_collections()\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "connection.close()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        for command in (("info",), ("delete", "--collection", "docs", "--yes")):
            run = cli(*command)
            line = _error(run)
            assert "found it open in another process" in line
            assert repr(str(store)) in line
            assert "--qdrant-url" in line
    finally:
        holder.communicate("\n", timeout=60)
    assert cli("info", "--collection", "docs").status == 0  # free again; nothing was deleted
