"""Every error a user can cause: one line on stderr, status 2, no traceback, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from t5_vectors.testing import build_sentence_transformers_checkpoint


def _one_line(run, status: int = 2) -> str:
    assert run.status == status, (run.out, run.err)
    assert "Traceback" not in run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("t5-vectors: error: ")
    return lines[0]


def test_missing_path(cli, docs, store):
    line = _one_line(cli("ingest", str(docs / "nope"), "--collection", "docs"))
    assert "found nothing at" in line
    assert "nope" in line
    assert not store.exists()  # nothing was created


def test_unreadable_file_is_refused_before_anything_is_written(cli, docs, store, monkeypatch):
    # Tests may run as root, which reads any file: make one file's open() fail as it would.
    secret = docs / "light.txt"
    real_open = Path.open

    def fake_open(self, *args, **kwargs):
        if self == secret:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", fake_open)
    line = _one_line(cli("ingest", str(docs), "--collection", "docs"))
    assert "light.txt: Permission denied" in line
    assert "--exclude" in line
    assert not store.exists()


def test_unknown_collection(cli, docs):
    assert cli("ingest", str(docs), "--collection", "docs").status == 0
    for command in (
        ("search", "q", "--collection", "nope"),
        ("info", "--collection", "nope"),
        ("delete", "--collection", "nope"),
    ):
        line = _one_line(cli(*command))
        assert "Expected a collection 'nope'" in line
        assert "only 'docs'" in line


def test_no_store_at_all(cli):
    line = _one_line(cli("search", "q", "--collection", "docs"))
    assert "found no such folder" in line


def test_wrong_model_for_a_collection(cli, docs, tmp_path, points):
    assert cli("ingest", str(docs), "--collection", "docs").status == 0
    before = points("docs")
    other = build_sentence_transformers_checkpoint(tmp_path / "other", seed=7)
    for command in (("ingest", str(docs)), ("search", "water")):
        line = _one_line(cli(*command, "--collection", "docs", model=other))
        assert "expected the model recorded with collection 'docs'" in line
        assert "st5" in line
        assert str(other) in line
        assert "another --collection" in line
        assert "t5-vectors delete --collection docs" in line
        assert "recreate=True" not in line
    assert points("docs") == before


def test_server_down_is_one_line(cli, docs):
    run = cli(
        "search", "q", "--collection", "docs", "--qdrant-url", "http://127.0.0.1:1", qdrant=False
    )
    line = _one_line(run)
    assert "Expected a Qdrant server at http://127.0.0.1:1, found none reachable" in line
    assert "docker compose up -d" in line


@pytest.mark.parametrize("debug", [False, True])
def test_api_key_is_never_printed(cli, docs, monkeypatch, debug):
    monkeypatch.setenv("MY_QDRANT_KEY", "s3cr3t-key-value")
    argv = ["search", "q", "--collection", "docs", "--qdrant-url", "http://127.0.0.1:1"]
    argv += ["--api-key-env", "MY_QDRANT_KEY"]
    run = cli("--debug", *argv, qdrant=False) if debug else cli(*argv, qdrant=False)
    assert run.status == 2
    assert "s3cr3t-key-value" not in run.out + run.err
    assert ("Traceback" in run.err) is debug


def test_api_key_env_must_be_set(cli, monkeypatch):
    monkeypatch.delenv("NOT_SET_KEY", raising=False)
    line = _one_line(
        cli(
            "info",
            "--qdrant-url",
            "http://127.0.0.1:1",
            "--api-key-env",
            "NOT_SET_KEY",
            qdrant=False,
        )
    )
    assert "NOT_SET_KEY" in line
    assert "unset" in line


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--chunk-tokens", "32", "--chunk-overlap", "32"], "expected fewer tokens"),
        (["--chunk-tokens", "65"], "at most the model's max_length (64 tokens)"),
        (["--chunk-tokens", "4"], "at least 8 tokens"),
    ],
)
def test_bad_chunk_sizes(cli, docs, store, options, message):
    line = _one_line(cli("ingest", str(docs), "--collection", "docs", *options))
    assert message in line
    assert not store.exists()  # refused before the store is opened


def test_bad_filter(cli, docs):
    assert cli("ingest", str(docs), "--collection", "docs").status == 0
    line = _one_line(cli("search", "q", "--collection", "docs", "--filter", "source"))
    assert "expected KEY=VALUE" in line


def test_unexpected_errors_exit_1_with_a_hint(cli, docs, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("t5_vectors.files.ingest.ingest_files", boom)
    run = cli("ingest", str(docs), "--collection", "docs")
    assert run.status == 1
    assert run.err.strip() == (
        "t5-vectors: unexpected error: RuntimeError: disk on fire (run with --debug for the "
        "traceback)"
    )


def test_debug_shows_the_traceback(cli, docs):
    run = cli("--debug", "ingest", str(docs / "nope"), "--collection", "docs")
    assert run.status == 2
    assert "Traceback" in run.err
    assert "SourceFileError" in run.err


def test_local_mode_storage_in_use(cli, docs, store):
    from qdrant_client import QdrantClient

    QdrantClient(path=str(store)).close()  # a folder written by qdrant-client's local mode
    assert cli("ingest", str(docs), "--collection", "docs").status == 0
    assert (store / "meta.json").is_file()  # still local mode, not turned into Edge
    holder = QdrantClient(path=str(store))
    try:
        line = _one_line(cli("info"))
    finally:
        holder.close()
    assert "found it open in another process" in line
    assert "--qdrant-url" in line


@pytest.mark.parametrize("key", ["$x", 'a"b', "a..b"])
def test_filter_keys_that_cannot_be_metadata_keys_are_refused_in_flag_words(cli, docs, key):
    assert cli("ingest", str(docs), "--collection", "docs").status == 0
    line = _one_line(cli("search", "water", "--collection", "docs", "--filter", f"{key}=1"))
    assert line.startswith("t5-vectors: error: --filter: expected KEY=VALUE with a metadata key")
    assert repr(key) in line
    assert "models.Filter" not in line  # the command line's forms, not Python's


def test_filter_keys_with_spaces_and_symbols_search(cli, docs):
    assert cli("ingest", str(docs), "--collection", "docs").status == 0
    run = cli("search", "water", "--collection", "docs", "--filter", "a b=1", "--json")
    assert run.status == 0, run.err
    assert run.json()["results"] == []  # no chunk has that key: nothing matches, no error
