"""``t5-vectors ingest --ray``: the same collection as a plain ingest, encoded on a local Ray."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[ray]'")


def _single_line_error(run) -> str:
    assert run.status == 2, (run.out, run.err)
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    return lines[0]


def test_ray_ingest_equals_plain_ingest(cli, docs: Path, store: Path, tmp_path: Path, points):
    ray_store = tmp_path / "on-ray"
    run = cli("ingest", str(docs), "--collection", "docs", "--json", "--ray", "--ray-actors", "1")
    assert run.status == 0, run.err
    summary = run.json()
    assert summary["written"] == summary["chunks"] > 0
    on_ray = points("docs")

    from tests.cli.conftest import open_store

    run = cli("ingest", str(docs), "--collection", "docs", "--json", "--ray")
    assert run.status == 0, run.err
    assert run.json()["written"] == 0  # unchanged: nothing encoded or written again

    store.rename(ray_store)  # the plain ingest below gets a fresh store at the same path
    run = cli("ingest", str(docs), "--collection", "docs", "--json")
    assert run.status == 0, run.err
    plain_points = points("docs")
    assert sorted(on_ray) == sorted(plain_points)
    for key, payload in plain_points.items():
        assert on_ray[key]["page_content"] == payload["page_content"]
        assert on_ray[key]["metadata"] == payload["metadata"]
        assert on_ray[key]["content_hash"] == payload["content_hash"]
    connection = open_store(ray_store)
    try:
        assert connection.kind == "edge"
    finally:
        connection.close()


def test_ray_actors_needs_ray(cli, docs: Path, store: Path):
    line = _single_line_error(cli("ingest", str(docs), "--collection", "docs", "--ray-actors", "2"))
    assert "expected together with --ray" in line
    assert not store.exists()


def test_ray_actors_must_be_positive(cli, docs: Path, store: Path):
    line = _single_line_error(
        cli("ingest", str(docs), "--collection", "docs", "--ray", "--ray-actors", "0")
    )
    assert "positive" in line
    assert not store.exists()
