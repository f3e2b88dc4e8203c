"""The `embed` command: output, JSON, stdin, and one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from t5_vectors import T5Encoder
from t5_vectors.cli import main


def test_embed_summary(st5_path, capsys):
    assert main(["embed", "--model", str(st5_path), "--device", "cpu", "hello", "world"]) == 0
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("dim=24 norm=1.0000")
    assert "2 texts in" in out.err


def test_embed_json_equals_the_api(st5_path, capsys):
    assert (
        main(
            [
                "embed",
                "--model",
                str(st5_path),
                "--device",
                "cpu",
                "--dtype",
                "float32",
                "--json",
                "--query",
                "what is t5",
            ]
        )
        == 0
    )
    row = json.loads(capsys.readouterr().out.strip())
    with T5Encoder.from_pretrained(st5_path, device="cpu", dtype="float32") as enc:
        expected = enc.encode(["what is t5"], kind="query")[0]
    np.testing.assert_allclose(np.asarray(row["vector"], dtype=np.float32), expected, atol=1e-6)


def test_embed_tokens_from_stdin(st5_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("first line\n\nsecond line\n"))
    assert main(["embed", "--model", str(st5_path), "--device", "cpu", "--tokens"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert "tokens x 32" in lines[0]


def test_demo_model_builds_once(tmp_path, capsys):
    demo = tmp_path / "demo"
    assert main(["embed", "--demo-model", str(demo), "--device", "cpu", "hi"]) == 0
    assert (demo / "modules.json").is_file()
    assert main(["embed", "--demo-model", str(demo), "--device", "cpu", "hi again"]) == 0


def test_errors_are_one_line_without_traceback(tmp_path, capsys):
    assert main(["embed", "--model", str(tmp_path / "missing"), "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("t5-vectors: error: --model: expected a model folder")
    assert f"no folder at {str(tmp_path / 'missing')!r}" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    # CLI fixes, not Python ones; a path's fixes, not the hub's.
    for fix in ("--model DIR", "--demo-model DIR"):
        assert fix in err
    assert "hf download" not in err
    assert "from_pretrained" not in err


def test_offline_hub_id_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert main(["embed", "--offline", "--model", "google/t5-small-lm-adapt", "x"]) == 2
    err = capsys.readouterr().err
    assert "nor the hub id 'google/t5-small-lm-adapt' in the local Hugging Face cache" in err
    assert f"neither a folder 'google/t5-small-lm-adapt' in {Path.cwd()}" in err
    assert "--model DIR" in err
    assert "--demo-model DIR" in err
    assert "Qdrant" not in err


def test_one_text_is_one_text(st5_path, capsys):
    assert main(["embed", "--model", str(st5_path), "--device", "cpu", "hello"]) == 0
    assert " 1 text in " in capsys.readouterr().err


def test_offline_error_does_not_ask_for_offline_again(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert main(["embed", "--offline", "--model", "google/t5-small-lm-adapt", "x"]) == 2
    err = capsys.readouterr().err
    assert "add --offline" not in err
    assert "download it once where the hub is reachable" in err
