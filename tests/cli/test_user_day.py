"""What a new user met on a first day (issue 29), through the command line as a process.

- Output piped into a reader that stops early (``| head -1``) ends the command quietly with 141.
- A ``--model`` written as a path gets the path's fixes, not a hub download.
- Declining the delete prompt keeps the collection and exits 0.
- A short Latin-1 text file is text (reported lossy), not binary.

Waits are on the processes themselves (a line read, an exit); the timeouts only bound a test that
would otherwise hang.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from t5_vectors.cli import main
from tests.cli_process import BOUND, cli_argv, cli_env, run_cli

SIGPIPE_STATUS = 141  # 128 + SIGPIPE, as shells report a command that a closed pipe stopped


def _model(path: Path) -> list[str]:
    return ["--model", str(path), "--offline", "--device", "cpu", "--dtype", "float32"]


def _quiet(stderr: str) -> None:
    """No traceback and no error line: the command stopped as a closed pipe stops a tool."""
    for noise in ("Traceback", "unexpected error", "BrokenPipe", "Exception ignored", "error:"):
        assert noise not in stderr, stderr


def _run_with_no_reader(argv: list[str], **options: object) -> subprocess.CompletedProcess[str]:
    """Run *argv* with stdout a pipe whose reader is gone before the command starts: its first
    write (or the flush at its end) meets a closed pipe, whatever it prints and whenever."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            argv,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
            timeout=BOUND,
            check=False,
            **options,  # type: ignore[arg-type]
        )
    finally:
        os.close(write_end)


# ---------------------------------------------------------------------------------- pipes
def test_embed_into_a_reader_that_stops_after_one_line_ends_quietly_with_141(st5_path, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("".join(f"text number {i} about ferns and light\n" for i in range(3000)))
    errors = tmp_path / "stderr.txt"
    with texts.open() as stdin, errors.open("w") as stderr:
        process = subprocess.Popen(
            cli_argv("embed", "-", "--json", *_model(st5_path)),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=cli_env(),
        )
        assert process.stdout is not None
        first = process.stdout.readline()  # what `head -1` keeps
        process.stdout.close()  # `head` exits
        status = process.wait(timeout=BOUND)
    assert json.loads(first)["text"] == "text number 0 about ferns and light"
    # 3000 JSON lines of vectors are megabytes: far more than a pipe holds, so the command was
    # still writing when the reader left, in every run.
    assert len(first) * 3000 > 1 << 20
    _quiet(errors.read_text())
    assert status == SIGPIPE_STATUS


def test_ingest_and_search_into_a_closed_pipe_end_quietly_with_141_and_the_store_is_whole(
    st5_path, docs, store, cli
):
    where = ["--collection", "docs", "--qdrant-path", str(store)]
    ingest = _run_with_no_reader(cli_argv("ingest", str(docs), *where, *_model(st5_path)))
    _quiet(ingest.stderr)
    assert ingest.returncode == SIGPIPE_STATUS
    search = _run_with_no_reader(
        cli_argv("search", "watering", *where, "-k", "50", "--json", "--offline", "--device", "cpu")
    )
    _quiet(search.stderr)
    assert search.returncode == SIGPIPE_STATUS
    # The ingest finished and closed its store before its summary met the closed pipe.
    found = cli("search", "watering", "--collection", "docs", "-k", "50", "--json", model=None)
    assert found.status == 0, found.err
    sources = {Path(hit["metadata"]["source"]).name for hit in found.json()["results"]}
    assert sources == {"watering.md", "light.txt", "pests.md"}


def test_a_broken_pipe_that_is_not_stdout_is_still_reported(monkeypatch, capsys):
    from t5_vectors.cli import _info

    def broken(args: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")  # a connection, say; stdout is fine

    monkeypatch.setattr(_info, "run", broken)
    assert main(["info"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("t5-vectors: unexpected error: BrokenPipeError")


# ------------------------------------------------------------------------------- --model
@pytest.mark.parametrize("written", ["absolute", "relative", "file"])
def test_a_model_path_that_is_not_there_gets_a_path_hint_not_a_hub_download(
    written, st5_path, tmp_path
):
    name = {
        "absolute": str(tmp_path / "models" / "x"),
        "relative": "./models/x",
        "file": str(st5_path / "config.json"),
    }[written]
    done = run_cli("embed", "--offline", "--model", name, "a text", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    line = lines[0]
    assert line.startswith("t5-vectors: error: --model: expected a model folder on this machine")
    assert "hf download" not in line
    assert "hub" not in line
    assert "--demo-model DIR" in line
    if written == "file":
        assert f"{name!r} is a file, not a checkpoint folder" in line
        assert f"the folder that holds it (--model {st5_path})" in line
    else:
        assert f"no folder at {name!r}" in line
        assert "--model DIR with the path of a folder that exists" in line
        relative_hint = f"a relative path starts at {tmp_path}"
        assert (relative_hint in line) == (written == "relative")


def test_a_hub_id_offline_still_gets_the_download_hint(tmp_path):
    done = run_cli(
        "embed", "--offline", "--model", "org/t5-model", "a text", HF_HUB_CACHE=str(tmp_path)
    )
    assert done.returncode == 2
    assert "`hf download org/t5-model`" in done.stderr


# -------------------------------------------------------------------------------- delete
def test_declining_the_delete_prompt_keeps_the_collection_and_exits_0(cli, docs, store):
    pty = pytest.importorskip("pty", reason="needs a pseudo-terminal (POSIX)")
    assert cli("ingest", str(docs), "--collection", "docs").status == 0

    def answer(typed: bytes) -> subprocess.CompletedProcess[str]:
        """``delete`` on a terminal (a pty) where the user types *typed*."""
        terminal, its_end = pty.openpty()
        try:
            process = subprocess.Popen(
                cli_argv("delete", "--collection", "docs", "--qdrant-path", str(store)),
                stdin=its_end,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=cli_env(),
            )
            os.close(its_end)
            its_end = -1
            os.write(terminal, typed)  # held by the terminal until the prompt reads it
            out, err = process.communicate(timeout=BOUND)
        finally:
            os.close(terminal)
            if its_end != -1:
                os.close(its_end)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    for typed in (b"n\n", b"\x04", b"\n"):  # no, Ctrl-D, Enter (the default is no)
        kept = answer(typed)
        assert kept.returncode == 0, kept.stderr
        assert "[y/N]" in kept.stdout
        assert "Kept collection 'docs': nothing deleted." in kept.stdout
        assert kept.stderr == ""
        assert cli("info", "--collection", "docs").status == 0  # still there
    gone = answer(b"y\n")
    assert gone.returncode == 0, gone.stderr
    assert "Deleted collection 'docs'" in gone.stdout
    assert cli("info", "--json").json()["collections"] == []


# ---------------------------------------------------------------------------- encodings
LATIN_1 = (
    "Grüße aus Köln: Äpfel, Öl, Übermaß. Café, crème brûlée, façade, naïve, señor, à bientôt!!\n"
)


def test_a_short_latin_1_file_is_ingested_as_lossy_text_not_binary(st5_path, tmp_path, cli):
    folder = tmp_path / "notes"
    folder.mkdir()
    data = LATIN_1.encode("latin-1")
    assert len(data) == 90  # the file: 90 bytes, 16 of them not UTF-8 (18%)
    assert b"\x00" not in data
    (folder / "koeln.txt").write_bytes(data)
    argv = ["ingest", str(folder), "--collection", "notes", "--qdrant-path", str(tmp_path / "q")]
    done = run_cli(*argv, *_model(st5_path))
    assert done.returncode == 0, done.stderr
    assert "binary files skipped: 0" in done.stdout
    assert re.search(r"written: +1 chunks", done.stdout), done.stdout
    assert "koeln.txt is not valid UTF-8; invalid bytes became U+FFFD" in done.stderr
    assert "iconv -f cp1252 -t utf-8" in done.stderr
    assert "--glob" not in done.stderr


def test_a_folder_of_binary_files_says_what_binary_means(st5_path, tmp_path):
    folder = tmp_path / "blobs"
    folder.mkdir()
    (folder / "a.txt").write_bytes(LATIN_1.encode("latin-1") + b"\x00")  # one NUL: binary
    argv = ["ingest", str(folder), "--collection", "c", "--qdrant-path", str(tmp_path / "q")]
    done = run_cli(*argv, *_model(st5_path))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "found 1 file with no text (1 binary)" in lines[0]
    assert "Binary means a NUL byte or control bytes in the first 8 KiB" in lines[0]
    assert "text in Latin-1 or another encoding is read" in lines[0]
    assert not (tmp_path / "q").exists()
