"""A newcomer's first commands (issue 29), through the command line as a process.

- ``--demo-model DIR`` builds a model whose max length is a real model's (256 tokens), so the
  sample notes become chunks of a realistic size; ``ingest`` says the chunk size it used.
- A Qdrant server that is down, or goes down after the store was opened, is one message in the
  command line's words (``--qdrant-url``, ``--from-url``), said once, with no Python advice.

Waits are on the processes themselves (their exit) and on the fake server's own request loop;
the timeouts only bound a test that would otherwise hang.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from t5_vectors.testing import DEMO_MAX_LENGTH
from tests.cli_process import BOUND, ROOT, run_cli, run_python


# ------------------------------------------------------------------------------ the demo model
@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the repository's sample notes, as a fresh clone has them."""
    folder = tmp_path_factory.mktemp("newcomer")
    shutil.copytree(ROOT / "examples" / "docs", folder / "examples" / "docs")
    return folder


def test_the_demo_model_chunks_at_a_real_models_size_and_says_so(sample: Path) -> None:
    ingest = ["ingest", "examples/docs", "--collection", "demo", "--demo-model", "tiny-t5"]
    first = run_cli(*ingest, cwd=sample)
    assert first.returncode == 0, first.stderr
    headline = first.stdout.splitlines()[0]
    assert f"chunks, up to {DEMO_MAX_LENGTH} tokens each: the model's max length)" in headline
    config = json.loads((sample / "tiny-t5" / "sentence_bert_config.json").read_text())
    assert config["max_seq_length"] == DEMO_MAX_LENGTH

    again = run_cli(*ingest, "--json", cwd=sample)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["written"] == 0  # the same model: nothing is encoded again
    assert (summary["chunk_tokens"], summary["max_length"]) == (DEMO_MAX_LENGTH, DEMO_MAX_LENGTH)
    assert summary["chunk_overlap"] == DEMO_MAX_LENGTH // 8

    # The chunks really are that large: the longest holds more than the old demo's 64 tokens.
    check = (
        "from t5_vectors import T5Encoder\n"
        "from t5_vectors.storage.open import open_storage\n"
        "storage = open_storage('t5_vectors_data')\n"
        "records, _ = storage.backend.scroll('demo', limit=1000, with_payload=True)\n"
        "storage.close()\n"
        "encoder = T5Encoder.from_pretrained('tiny-t5', device='cpu', dtype='float32')\n"
        "texts = [r.payload['page_content'] for r in records]\n"
        "print(max(encoder.count_tokens(texts)))\n"
    )
    longest = run_python([sys.executable, "-c", check], cwd=sample)
    assert longest.returncode == 0, longest.stderr
    assert 64 < int(longest.stdout.strip()) <= DEMO_MAX_LENGTH


def test_a_model_with_a_short_max_length_is_named_as_the_limit(
    sample: Path, st5_path: Path
) -> None:
    # st5_path is a test checkpoint whose max_seq_length is 64: the chunks are capped by it.
    run = run_cli(
        "ingest", "examples/docs", "--collection", "short", "--model", str(st5_path), cwd=sample
    )
    assert run.returncode == 0, run.stderr
    assert "chunks, up to 64 tokens each: the model's max length)" in run.stdout.splitlines()[0]
    chosen = run_cli(
        "ingest",
        "examples/docs",
        "--collection",
        "chosen",
        "--model",
        str(st5_path),
        "--chunk-tokens",
        "32",
        cwd=sample,
    )
    assert chosen.returncode == 0, chosen.stderr
    headline = chosen.stdout.splitlines()[0]
    assert "chunks, up to 32 tokens each)" in headline


# ------------------------------------------------------------------------- a server that is down
def _one_message(run: subprocess.CompletedProcess[str], flag: str) -> str:
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    assert run.stderr.count("Expected a Qdrant server") == 1, run.stderr
    line = run.stderr.strip().splitlines()[-1]
    assert line.startswith("t5-vectors: error: Expected a Qdrant server at http://127.0.0.1:")
    assert "found none reachable" in line
    assert flag in line
    for python in ("path=", "storage=", "(docker compose up -d), check the URL"):
        assert python not in run.stderr, run.stderr
    return line


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound, never listening."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    try:
        yield holder.getsockname()[1]
    finally:
        holder.close()


def test_a_server_that_is_down_is_one_message_in_flags(tmp_path: Path, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    run = run_cli("search", "water", "--collection", "docs", "--qdrant-url", url, cwd=tmp_path)
    line = _one_message(run, "--qdrant-url")
    assert "Connection refused" in line
    assert len(run.stderr.strip().splitlines()) == 1


def test_copy_names_the_flag_of_the_server_that_is_down(tmp_path: Path, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    run = run_cli(
        "copy", "--collection", "docs", "--from-url", url, "--to-path", "backup", cwd=tmp_path
    )
    line = _one_message(run, "--from-url")
    assert "--qdrant-url" not in line
    assert not (tmp_path / "backup").exists()


class _ListsOneCollection(BaseHTTPRequestHandler):
    """Answers any GET with a collection list naming ``docs``."""

    def do_GET(self) -> None:
        body = json.dumps(
            {"result": {"collections": [{"name": "docs"}]}, "status": "ok", "time": 0.0}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.listed = self.path == "/collections"  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:
        pass


def test_a_server_lost_after_opening_is_said_once(tmp_path: Path) -> None:
    """The server answers until the store is opened (the collection list), then goes away: the
    retries' warnings name the cause only, and the one error is in the command's words."""
    server = HTTPServer(("127.0.0.1", 0), _ListsOneCollection)
    server.listed = False  # type: ignore[attr-defined]

    def serve_until_listed() -> None:
        while not server.listed:  # type: ignore[attr-defined]
            server.handle_request()
        server.server_close()

    thread = threading.Thread(target=serve_until_listed, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    run = run_cli(
        "search",
        "water",
        "--collection",
        "docs",
        "--qdrant-url",
        url,
        "--demo-model",
        "tiny",
        cwd=tmp_path,
    )
    thread.join(BOUND)
    assert not thread.is_alive()
    _one_message(run, "--qdrant-url")
    retries = [line for line in run.stderr.splitlines() if "retrying" in line]
    assert retries, run.stderr  # the store was opened: the later calls were retried
    assert all(line.endswith(f"Connection refused ({url})") for line in retries), retries
