"""`t5-vectors ingest` end to end: chunks, idempotent re-runs, replaced chunks, pruning."""

from __future__ import annotations

from pathlib import Path

from t5_vectors import T5Encoder
from t5_vectors.files import chunk_id
from t5_vectors.plan.model_record import read_record
from tests.cli.conftest import open_store


def _by_source(points: dict[str, dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for payload in points.values():
        grouped.setdefault(payload["metadata"]["source"], []).append(payload)
    return {
        source: sorted(chunks, key=lambda p: p["metadata"]["chunk"])
        for source, chunks in grouped.items()
    }


def test_ingest_writes_token_chunks_with_metadata(cli, docs, points, st5_path, store):
    run = cli("ingest", str(docs), "--collection", "docs", "--json")
    assert run.status == 0, run.err
    summary = run.json()
    assert summary["files"] == 3  # the PNG is binary, the hidden file is not walked
    assert summary["binary_skipped"] == [str(docs / "image.png")]
    assert summary["written"] == summary["chunks"] > 3  # the files need several chunks each
    assert (summary["skipped"], summary["failed"], summary["stale_removed"]) == (0, 0, 0)
    stored = points("docs")
    assert len(stored) == summary["chunks"]
    grouped = _by_source(stored)
    assert sorted(grouped) == sorted(
        str(p) for p in (docs / "watering.md", docs / "light.txt", docs / "sub" / "pests.md")
    )
    with T5Encoder.from_pretrained(st5_path, device="cpu") as encoder:
        for source, chunks in grouped.items():
            text = Path(source).read_text()
            assert [c["metadata"]["chunk"] for c in chunks] == list(range(len(chunks)))
            for payload in chunks:
                meta, content = payload["metadata"], payload["page_content"]
                assert set(meta) == {"source", "chunk", "start_index"}
                assert payload["document_id"] == chunk_id(source, meta["chunk"])
                start = meta["start_index"]
                assert text[start : start + len(content)] == content
                # no chunk is longer than the model reads (64 tokens, </s> included)
                assert encoder.count_tokens([content])[0] <= 64
    connection = open_store(store)
    record = read_record(connection.backend.describe("docs"))
    connection.close()
    assert record is not None
    assert record.model == str(st5_path)


def test_text_summary_and_rerun_writes_nothing(cli, docs, points):
    first = cli("ingest", str(docs), "--collection", "docs")
    assert first.status == 0, first.err
    assert first.out.startswith("Ingested 3 files (")
    assert "binary files skipped: 1" in first.out
    assert "chunks/s" in first.out
    before = points("docs")
    again = cli("ingest", str(docs), "--collection", "docs", "--json", model=None)
    assert again.status == 0, again.err
    summary = again.json()
    assert (summary["written"], summary["stale_removed"]) == (0, 0)
    assert summary["skipped"] == summary["chunks"] == len(before)
    assert points("docs") == before


def test_a_changed_file_replaces_exactly_its_chunks(cli, docs, points):
    assert cli("ingest", str(docs), "--collection", "docs").status == 0
    before = _by_source(points("docs"))
    watering = str(docs / "watering.md")
    old = len(before[watering])
    (docs / "watering.md").write_text("# Watering\n\nWater less in winter. " * 3)
    summary = cli("ingest", str(docs), "--collection", "docs", "--json").json()
    after = _by_source(points("docs"))
    new = len(after[watering])
    assert 0 < new < old
    assert summary["stale_removed"] == old - new
    assert summary["written"] <= new  # only the changed file is encoded again
    assert summary["skipped"] == summary["chunks"] - summary["written"]
    assert [c["metadata"]["chunk"] for c in after[watering]] == list(range(new))
    text = (docs / "watering.md").read_text()
    assert all(c["page_content"] in text for c in after[watering])
    for source in after:
        if source != watering:
            assert after[source] == before[source]


def test_moved_text_updates_start_index_even_when_the_chunk_text_is_the_same(cli, docs, points):
    assert cli("ingest", str(docs), "--collection", "docs").status == 0
    light = str(docs / "light.txt")
    before = _by_source(points("docs"))[light]
    (docs / "light.txt").write_text("\n\n\n" + (docs / "light.txt").read_text())
    summary = cli("ingest", str(docs), "--collection", "docs", "--json").json()
    after = _by_source(points("docs"))[light]
    assert [c["page_content"] for c in after] == [c["page_content"] for c in before]
    assert [c["metadata"]["start_index"] for c in after] == [
        c["metadata"]["start_index"] + 3 for c in before
    ]
    assert summary["written"] == len(before)


def test_deleted_files_stay_unless_pruned(cli, docs, points):
    assert cli("ingest", str(docs), "--collection", "docs").status == 0
    pests = str(docs / "sub" / "pests.md")
    count = len(_by_source(points("docs"))[pests])
    (docs / "sub" / "pests.md").unlink()
    kept = cli("ingest", str(docs), "--collection", "docs", "--json").json()
    assert kept["pruned"] == 0
    assert pests in _by_source(points("docs"))
    pruned = cli("ingest", str(docs), "--collection", "docs", "--prune", "--json").json()
    assert pruned["pruned"] == count
    assert pruned["written"] == 0
    assert pests not in _by_source(points("docs"))


def test_prune_only_touches_the_folders_given(cli, docs, tmp_path, points):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("Repot in spring, into a slightly larger pot. " * 4)
    assert cli("ingest", str(docs), str(other), "--collection", "docs").status == 0
    (other / "notes.txt").unlink()
    summary = cli("ingest", str(docs), "--collection", "docs", "--prune", "--json").json()
    assert summary["pruned"] == 0  # other/ was not part of this run
    assert str(other / "notes.txt") in _by_source(points("docs"))


def test_glob_exclude_and_an_emptied_file(cli, docs, points):
    run = cli("ingest", str(docs), "--collection", "md", "--glob", "*.md", "--json")
    assert sorted(_by_source(points("md"))) == [
        str(docs / "sub" / "pests.md"),
        str(docs / "watering.md"),
    ]
    assert run.json()["binary_skipped"] == []
    cli("ingest", str(docs), "--collection", "ex", "--exclude", "sub/*", "--json")
    assert str(docs / "sub" / "pests.md") not in _by_source(points("ex"))
    (docs / "watering.md").write_text("   \n")
    summary = cli("ingest", str(docs), "--collection", "md", "--glob", "*.md", "--json").json()
    assert str(docs / "watering.md") not in _by_source(points("md"))
    assert summary["stale_removed"] > 0


def test_chunk_size_and_overlap_are_in_tokens(cli, docs, points, st5_path):
    run = cli(
        "ingest",
        str(docs / "watering.md"),
        "--collection",
        "small",
        "--chunk-tokens",
        "16",
        "--chunk-overlap",
        "4",
        "--json",
    )
    assert run.status == 0, run.err
    with T5Encoder.from_pretrained(st5_path, device="cpu") as encoder:
        counts = encoder.count_tokens([p["page_content"] for p in points("small").values()])
    assert max(counts) <= 16
    assert run.json()["chunks"] > 10


def test_python_dash_m_runs_the_cli(docs, st5_path, store):
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable,
        "-m",
        "t5_vectors",
        "ingest",
        str(docs),
        "--collection",
        "docs",
        "--model",
        str(st5_path),
        "--device",
        "cpu",
        "--qdrant-path",
        str(store),
        "--json",
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"] == 3
