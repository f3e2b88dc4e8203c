"""``t5-vectors serve`` as a process: SIGTERM drains, a second server is refused, flag errors.

Waits follow what the server prints on stderr (read line by line on a thread); the timeouts
only bound a test that would otherwise hang, and no assertion depends on speed.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import httpx
import pytest

from t5_vectors import QdrantIndex
from t5_vectors.cli import main

ROOT = Path(__file__).resolve().parents[2]
BOUND = 120  # seconds: only bounds a test that would otherwise hang


class Lines:
    """A process's stderr, read on a thread; :meth:`wait_for` returns the first matching line."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, text: str) -> str:
        while True:
            try:
                line = self._lines.get(timeout=BOUND)
            except queue.Empty:
                pytest.fail(f"no line with {text!r} within {BOUND} s; stderr: {self.seen}")
            if line is None:
                pytest.fail(f"stderr closed before a line with {text!r}; stderr: {self.seen}")
            self.seen.append(line)
            if text in line:
                return line

    def rest(self) -> str:
        while (line := self._lines.get(timeout=BOUND)) is not None:
            self.seen.append(line)
        return "".join(self.seen)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}


def _model(path: Path) -> list[str]:
    return ["--model", str(path), "--device", "cpu", "--dtype", "float32"]


def test_sigterm_drains_a_write_in_flight_then_exits_0_with_it_stored(
    tmp_path, st5_path, tiny_encoder
):
    db = tmp_path / "db"
    gated = str(ROOT / "tests" / "serve" / "gated_serve.py")
    argv = [sys.executable, gated, "serve", "--collection", "notes", "--qdrant-path", str(db),
            "--port", "0", *_model(st5_path)]  # fmt: skip
    process = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=tmp_path,
    )
    try:
        assert process.stdin is not None
        assert process.stderr is not None
        lines = Lines(process.stderr)
        ready = lines.wait_for("serving collection 'notes'")
        url = re.search(r" at (http://127\.0\.0\.1:\d+):", ready).group(1)  # type: ignore[union-attr]

        second = subprocess.run(
            [sys.executable, "-m", "t5_vectors", "serve", "--collection", "notes",
             "--qdrant-path", str(db), "--port", "0", *_model(st5_path)],
            capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=BOUND, check=False,
        )  # fmt: skip
        assert second.returncode == 2, second.stderr
        assert second.stderr.count("\n") == 1, second.stderr
        assert "open in another process" in second.stderr
        assert "--qdrant-url" in second.stderr

        answer: dict[str, httpx.Response] = {}

        def write() -> None:
            document = {"id": "kept", "page_content": "Written while the server stops."}
            answer["write"] = httpx.post(
                f"{url}/documents", json={"documents": [document]}, timeout=BOUND
            )

        writer = threading.Thread(target=write)
        writer.start()
        lines.wait_for("gate: entered")  # the write is in flight, held at the gate
        process.send_signal(signal.SIGTERM)
        lines.wait_for("SIGTERM: draining")
        process.stdin.write("\n")  # release the write
        process.stdin.flush()
        writer.join(timeout=BOUND)
        assert answer["write"].status_code == 200, answer["write"].text
        assert answer["write"].json() == {"ids": ["kept"]}
        assert process.wait(timeout=BOUND) == 0
        assert "stopped; the store is closed" in lines.rest()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with QdrantIndex(tiny_encoder, collection_name="notes", storage=db) as index:
        assert [d.page_content for d in index.get(["kept"])] == ["Written while the server stops."]


def _run(capsys, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    status = main(list(argv))
    return status, capsys.readouterr().err


def test_flag_errors_are_one_line_with_status_2_before_the_model_loads(tmp_path, capsys):
    db = str(tmp_path / "db")
    base = ["serve", "--collection", "c", "--qdrant-path", db, "--port", "0"]
    status, err = _run(capsys, *base, "--max-concurrent", "0")
    assert status == 2
    assert err == "t5-vectors: error: --max-concurrent: expected a positive int, found 0.\n"
    os.environ.pop("T5V_TEST_UNSET", None)
    status, err = _run(capsys, *base, "--server-key-env", "T5V_TEST_UNSET")
    assert status == 2
    assert err.startswith("t5-vectors: error: --server-key-env: expected the environment variable")
    status, err = _run(capsys, *base, "--read-only")
    assert status == 2
    assert "t5-vectors ingest" in err  # no store there yet
    assert not (tmp_path / "db").exists()  # nothing created


def test_a_port_in_use_is_one_line(tmp_path, capsys):
    from t5_vectors.serve import bind

    taken = bind("127.0.0.1", 0)
    taken.listen()
    try:
        port = str(taken.getsockname()[1])
        status, err = _run(
            capsys, "serve", "--collection", "c", "--qdrant-path", str(tmp_path), "--port", port
        )
    finally:
        taken.close()
    assert status == 2
    assert err.startswith(
        f"t5-vectors: error: --port: expected a free port on 127.0.0.1, found {port}"
    )


def test_a_missing_extra_names_the_pip_install(tmp_path, capsys, monkeypatch):
    for module in ("t5_vectors.serve.app", "t5_vectors.serve.mcp_server"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi raises ImportError
    monkeypatch.setitem(sys.modules, "mcp.server.mcpserver", None)
    for command in ("serve", "mcp"):
        status, err = _run(capsys, command, "--collection", "c", "--qdrant-path", str(tmp_path))
        assert status == 2
        assert err.count("\n") == 1
        assert 'pip install "t5-vectors[serve]"' in err
