"""The encoder and the encode benchmark on a machine without LangChain or Qdrant packages.

A GPU machine may have only torch, transformers and sentence-transformers. Each test runs a fresh
interpreter whose ``sys.meta_path`` refuses LangChain and Qdrant packages and records every
attempt: the encoder must not even try them; the benchmark may look for them (that is how it
finds they are missing) but must run to the end on sentence-transformers alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BLOCKER = """
import atexit, json, sys
BLOCKED = ("langchain", "langchain_core", "langchain_huggingface", "langchain_qdrant",
           "qdrant_client", "qdrant_edge")
attempts = []

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            attempts.append(name)
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None

sys.meta_path.insert(0, Blocker())

def _report():
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print("BLOCKER " + json.dumps({"attempts": attempts, "loaded": loaded}), flush=True)

atexit.register(_report)
"""


def _run(code: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, list]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER + code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("BLOCKER ")]
    assert lines, done.stdout + done.stderr
    return done, json.loads(lines[-1].removeprefix("BLOCKER "))


def test_the_blocker_blocks(tmp_path):
    done, seen = _run("import langchain_core\n", tmp_path)
    assert done.returncode != 0
    assert "blocked" in done.stderr
    assert seen["attempts"] == ["langchain_core"]


def test_encoder_never_tries_langchain_or_qdrant(tmp_path, st5_path):
    code = f"""
import t5_vectors.encoder
from t5_vectors.encoder.core import T5Encoder
encoder = T5Encoder.from_pretrained({str(st5_path)!r}, device="cpu", dtype="float32")
encoder.warmup()
assert encoder.encode(["a text", "another"]).shape == (2, encoder.dim)
assert len(encoder.encode_tokens(["tokens"], kind="query")) == 1
assert encoder.stats().forward_passes >= 3
encoder.close()
"""
    done, seen = _run(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert seen == {"attempts": [], "loaded": []}


def test_encode_benchmark_runs_on_sentence_transformers_alone(tmp_path):
    script = ROOT / "benchmarks" / "encode.py"
    argv = [
        str(script),
        "--device=cpu",
        "--tiny",
        "--docs=12",
        "--repeats=1",
        "--skip=naive",
        "--query-threads=2",
        "--queries-per-thread=2",
        "--lone-queries=3",
        "--matmul-size=64",
        "--matmul-seconds=0.05",
        f"--workdir={tmp_path / 'work'}",
        "--threads=1",
    ]
    code = f"""
import runpy
sys.argv = {argv!r}
sys.path.insert(0, {str(script.parent)!r})
try:
    runpy.run_path({str(script)!r}, run_name="__main__")
except SystemExit as exit:
    assert not exit.code, exit.code
"""
    done, seen = _run(code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert seen["loaded"] == []  # looked for, never imported
    out = done.stdout
    assert "langchain-huggingface is not installed" in done.stderr
    assert "t5-vectors T5Encoder.encode([q])" in out  # the burst without T5Embeddings
    assert "sentence-transformers encode([q])" in out  # the baseline without LangChain
    assert "### Lone queries" in out
    assert "| langchain-huggingface |" not in out


def test_gpu_check_script_smoke_run_without_langchain(tmp_path):
    """scripts/gpu_check.py on CPU with a tiny checkpoint: every section runs, nothing blocked."""
    script = ROOT / "scripts" / "gpu_check.py"
    out = tmp_path / "out"
    argv = [
        str(script),
        "--device=cpu",
        "--tiny",
        "--docs=64",
        "--cos-docs=16",
        f"--workdir={tmp_path / 'work'}",
        f"--out={out}",
    ]
    code = f"""
import runpy
sys.argv = {argv!r}
try:
    runpy.run_path({str(script)!r}, run_name="__main__")
except SystemExit as exit:
    assert not exit.code, exit.code
"""
    done, seen = _run(code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert seen == {"attempts": [], "loaded": []}
    results = json.loads((out / "check.json").read_text())
    assert set(results["sections"].values()) == {"ok"}
    assert "### 7. Tokenizer throughput" in (out / "check.md").read_text()
