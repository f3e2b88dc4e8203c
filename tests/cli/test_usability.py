"""The command line never misleads: empty input, --version, confirmations, Ctrl-C, disk state."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from t5_vectors.cli import main


def _error(run, status: int = 2) -> str:
    assert run.status == status, (run.out, run.err)
    assert "Traceback" not in run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    return lines[0]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_version(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    from t5_vectors import __version__

    assert capsys.readouterr().out.strip() == f"t5-vectors {__version__}"


def test_cli_constants_match_the_library():
    from t5_vectors.cli import _common as common
    from t5_vectors.cli import _ingest as ingest
    from t5_vectors.files import chunking
    from t5_vectors.storage import open as connection

    assert common.DEFAULT_PATH == connection.DEFAULT_PATH
    assert ingest.DEFAULT_CHUNK_TOKENS == chunking.DEFAULT_CHUNK_TOKENS


@pytest.mark.parametrize(
    ("setup", "flags", "expected"),
    [
        ("empty", [], "found none"),
        ("docs", ["--glob", "*.mdx"], "matching --glob '*.mdx'"),
        ("docs", ["--exclude", "*"], "leaving out --exclude '*'"),
        ("binary", [], "found 2 files with no text (1 binary, 1 empty)"),
    ],
)
def test_ingest_with_nothing_to_read_exits_2_and_creates_nothing(
    cli, docs, store, tmp_path, setup, flags, expected
):
    folder = {"docs": docs, "empty": tmp_path / "empty", "binary": tmp_path / "bin"}[setup]
    folder.mkdir(exist_ok=True)
    if setup == "binary":
        (folder / "a.png").write_bytes(b"\x89PNG\x00\x01")
        (folder / "blank.txt").write_text("  \n")
    line = _error(cli("ingest", str(folder), "--collection", "docs", *flags))
    assert expected in line
    assert repr(str(folder)) in line  # says what was searched
    assert not store.exists()
    # Into an existing store: still no collection created.
    assert cli("ingest", str(docs), "--collection", "other").status == 0
    _error(cli("ingest", str(folder), "--collection", "docs", *flags))
    names = [c["name"] for c in cli("info", "--json").json()["collections"]]
    assert names == ["other"]


def test_a_model_that_fails_to_load_leaves_no_store_behind(cli, docs, store, tmp_path):
    line = _error(cli("ingest", str(docs), "--collection", "docs", model=tmp_path / "nope"))
    assert "--model: expected a model folder" in line
    assert not store.exists()


def test_model_download_failure_is_not_reported_as_qdrant(cli, docs, store, monkeypatch):
    import httpx

    from t5_vectors import ModelNotFoundError, T5Encoder

    def unreachable_hub(*args, **kwargs):
        try:
            raise httpx.ConnectError("[Errno -2] Name or service not known")
        except httpx.ConnectError as error:
            raise ModelNotFoundError("Could not load 'org/model': offline") from error

    monkeypatch.setattr(T5Encoder, "from_pretrained", unreachable_hub)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for argv in (
        ("embed", "x", "--model", "org/model"),
        ("ingest", str(docs), "--collection", "d"),
    ):
        run = cli(*argv, model="org/model") if argv[0] == "ingest" else cli(*argv, qdrant=False)
        line = _error(run)
        assert "Qdrant" not in line
        assert "'org/model'" in line
        assert (
            "Hugging Face hub could not provide it ([Errno -2] Name or service not known)" in line
        )
        assert "--offline" in line
        assert "--demo-model DIR" in line
    assert not store.exists()


def test_embed_without_text_exits_2(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("\n  \n"))
    assert main(["embed", "-"]) == 2
    assert "expected texts to embed, found none" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", _Terminal(""))
    assert main(["embed"]) == 2  # never waits on a terminal
    err = capsys.readouterr().err
    assert err.startswith("t5-vectors: error: embed: expected texts")


def test_delete_asks_on_a_terminal_and_needs_yes_in_scripts(cli, docs, monkeypatch):
    assert cli("ingest", str(docs), "--collection", "docs").status == 0
    line = _error(cli("delete", "--collection", "docs"))  # stdin is no terminal here
    assert "expected --yes" in line
    assert cli("info", "--collection", "docs").status == 0  # still there
    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    kept = cli("delete", "--collection", "docs")
    assert kept.status == 0  # declining is not an error
    assert "nothing deleted" in kept.out
    assert cli("info", "--collection", "docs").status == 0
    monkeypatch.setattr("sys.stdin", _Terminal("y\n"))
    gone = cli("delete", "--collection", "docs")
    assert gone.status == 0, gone.err
    assert "Deleted collection 'docs'" in gone.out
    assert cli("info", "--json").json()["collections"] == []


def test_ctrl_c_during_ingest_says_what_is_stored_and_resumes(cli, docs, monkeypatch, points):
    from t5_vectors import T5Encoder

    real = T5Encoder.encode
    calls = {"n": 0}

    def interrupted(self, texts, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, texts, *args, **kwargs)

    monkeypatch.setattr(T5Encoder, "encode", interrupted)
    run = cli("ingest", str(docs), "--collection", "docs", "--batch-size", "2")
    assert run.status == 130
    line = run.err.strip()
    assert "Traceback" not in run.err
    assert len(line.splitlines()) == 1
    found = re.fullmatch(
        r"t5-vectors: interrupted: (\d+) chunks of (\d+) files stored; run the same command "
        r"again to resume",
        line,
    )
    assert found, line
    stored = points("docs")
    assert int(found.group(1)) == len(stored) > 0
    monkeypatch.setattr(T5Encoder, "encode", real)
    again = cli("ingest", str(docs), "--collection", "docs", "--json")
    assert again.status == 0, again.err
    summary = again.json()
    assert summary["skipped"] == len(stored)
    assert summary["written"] == summary["chunks"] - len(stored)


def test_ctrl_c_while_loading_the_model_is_one_line(cli, docs, store, monkeypatch):
    from t5_vectors import T5Encoder

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(T5Encoder, "from_pretrained", interrupted)
    run = cli("ingest", str(docs), "--collection", "docs")
    assert run.status == 130
    assert run.err.strip() == "t5-vectors: interrupted"
    assert not store.exists()


def test_one_line_joins_sentences_cleanly():
    from t5_vectors.cli._common import one_line

    error = ValueError("It was built with another model.\n  expected: a\n  found: b")
    assert one_line(error) == "It was built with another model. expected: a; found: b"


def test_chunk_size_errors_use_flag_words(cli, docs):
    line = _error(cli("ingest", str(docs), "--collection", "d", "--chunk-tokens", "4"))
    assert "--chunk-tokens: expected at least 8 tokens" in line


def test_qdrant_path_default_is_the_library_default(cli, docs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("ingest", str(docs), "--collection", "d", qdrant=False).status == 0
    assert Path("t5_vectors_data").is_dir()


def test_a_real_ctrl_c_mid_ingest_is_one_line_and_exit_130(tmp_path, st5_path):
    import os
    import signal
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(400):  # many groups of chunks: the child stops after the first is stored
        (corpus / f"note{n:03}.txt").write_text(f"Note {n}: ferns like shade and humid air. " * 40)
    store = tmp_path / "db"  # a new folder: Qdrant Edge, the default engine
    argv = [sys.executable, "-m", "tests.cli.interrupt_child", "ingest", str(corpus)]
    argv += ["--collection", "c", "--model", str(st5_path), "--device", "cpu"]
    argv += ["--qdrant-path", str(store)]
    env = {**os.environ, "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"}
    # SIGINT as a terminal delivers it: an earlier test in this process (Ray's) may have left
    # SIGINT ignored, and an ignored signal stays ignored in a child (Python then installs no
    # KeyboardInterrupt handler), which made this test fail in full-suite runs only.
    child = subprocess.Popen(
        argv,
        env=env,
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert child.stdout is not None
    # The child prints "stored" once a group of chunks is stored and it holds before reading
    # the next file (tests/cli/interrupt_child.py): the signal lands mid-ingest.
    line = child.stdout.readline()
    assert line == "stored\n", (line, child.poll())
    child.send_signal(signal.SIGINT)
    assert child.stderr is not None
    err = child.stderr.read()  # stdin stays open: only the signal can end the child's wait
    out = child.stdout.read()
    assert child.wait() == 130, (out, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    found = re.fullmatch(
        r"t5-vectors: interrupted: (\d+) chunks of \d+ files stored; run the same command "
        r"again to resume",
        lines[0],
    )
    assert found, lines[0]
    assert int(found.group(1)) > 0


def test_the_same_checkpoint_from_another_folder_rewrites_nothing(cli, docs, st5_path, tmp_path):
    import shutil

    assert cli("ingest", str(docs), "--collection", "docs").status == 0
    copy = shutil.copytree(st5_path, tmp_path / "moved-model")
    again = cli("ingest", str(docs), "--collection", "docs", "--json", model=copy)
    assert again.status == 0, again.err
    assert again.json()["written"] == 0
    assert f"--model {copy} is the model collection 'docs' records as {st5_path}" in again.err
    info = cli("info", "--collection", "docs", "--json")
    assert str(copy) in info.out
    assert cli("search", "water", "--collection", "docs", model=None).status == 0


def test_a_resaved_copy_of_the_model_says_that_chunks_are_encoded_again(
    cli, docs, st5_path, tmp_path
):
    """``save_pretrained`` writes other files: accepted by its probe vectors, not kept."""
    from t5_vectors import T5Encoder

    first = cli("ingest", str(docs), "--collection", "docs", "--json")
    assert first.status == 0, first.err
    stored = first.json()["written"]
    with T5Encoder.from_pretrained(st5_path, device="cpu") as encoder:
        saved = encoder.save_pretrained(tmp_path / "saved-model")
    again = cli("ingest", str(docs), "--collection", "docs", "--json", model=saved)
    assert again.status == 0, again.err
    assert again.json()["written"] == stored  # rewritten, as the note says
    assert "stored chunks are kept" not in again.err
    assert f"--model {saved} embeds like the model collection 'docs' records" in again.err
    assert "stored chunks are encoded again with it and rewritten" in again.err
    third = cli("ingest", str(docs), "--collection", "docs", "--json", model=saved)
    assert third.json()["written"] == 0
    assert "note:" not in third.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["search", "x", "--colection", "docs"],
            "t5-vectors search: error: unrecognized argument --colection "
            "(did you mean --collection?)",
        ),
        (
            ["search", "x", "--collection", "docs", "--k", "3"],
            "t5-vectors search: error: unrecognized argument --k (did you mean -k?)",
        ),
        (
            ["ingest", "docs", "--collection", "docs", "--chunk-size=100"],
            "t5-vectors ingest: error: unrecognized argument --chunk-size "
            "(did you mean --chunk-tokens or --chunk-overlap?)",
        ),
        (
            ["ingest", "docs", "--collection", "docs", "--qdrant-paht", "store"],
            "t5-vectors ingest: error: unrecognized argument --qdrant-paht "
            "(did you mean --qdrant-path?)",
        ),
        (
            ["--debg", "info"],
            "t5-vectors: error: unrecognized argument --debg (did you mean --debug?)",
        ),
        (
            ["search", "x", "--collection", "docs", "--zzz"],
            "t5-vectors search: error: unrecognized argument --zzz; see t5-vectors search --help",
        ),
    ],
)
def test_a_misspelt_flag_is_named_with_the_nearest_one(
    capsys, tmp_path, monkeypatch, argv, message
):
    """Before any other error (the missing --collection) and before anything is read or written
    (the default store ./t5_vectors_data would appear in the working folder)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == message
    assert not any(tmp_path.iterdir())


def test_words_argparse_reads_as_values_are_not_taken_for_flags(cli, docs):
    """Negative numbers, a word with a space, an abbreviation and -kN still parse as before."""
    assert cli("ingest", str(docs), "--collection", "docs").status == 0
    assert cli("search", "-1", "--collection", "docs", "-k2", model=None).status == 0
    assert cli("search", "-a text", "--coll", "docs", model=None).status == 0
