"""The `check-dtype` command: the report, its JSON, and one-line errors in the CLI's words."""

from __future__ import annotations

import json

import pytest

from t5_vectors.cli import main
from t5_vectors.testing import SAMPLE_SENTENCES


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(SAMPLE_SENTENCES), encoding="utf-8")
    return path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(["check-dtype", *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_report_names_each_dtype_and_ends_with_the_verdict(st5_path, corpus, capsys):
    status, out, err = _run(capsys, "--model", str(st5_path), "--dtype", "int8", str(corpus))
    assert status == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith(f"{len(SAMPLE_SENTENCES)} texts (")
    assert lines[2].split()[:3] == ["dtype", "texts/s", "tokens/s"]
    assert [line.split()[0] for line in lines[3:5]] == ["float32", "int8"]
    assert lines[3].split()[3] == "1.00x"  # float32's speed-up over itself
    assert "recall within 0.01 of float32" in lines[-1]
    assert "check-dtype: int8: loading" in err


def test_json_and_lines(st5_path, corpus, capsys, tmp_path):
    lines_file = tmp_path / "lines.txt"
    lines_file.write_text("\n".join(SAMPLE_SENTENCES[:6]) + "\n\n", encoding="utf-8")
    status, out, _ = _run(
        capsys,
        "--model",
        str(st5_path),
        "--dtype",
        "int8",
        "--lines",
        "--json",
        "--k",
        "3",
        str(lines_file),
    )
    assert status == 0
    report = json.loads(out)
    assert report["texts"] == 6
    assert report["k"] == 3
    assert [r["dtype"] for r in report["results"]] == ["float32", "int8"]
    assert report["recommended"] in ("float32", "int8")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--dtype", "int4"), "--dtype: expected 'auto', 'float32'"),
        (("--dtype", "auto,int8"), "--dtype: expected names of dtypes"),
        (("--k", "0"), "--k: expected an integer >= 1, found 0."),
        (("--tolerance", "2"), "--tolerance: expected a number in [0, 1)"),
    ],
)
def test_bad_flags_are_one_line_errors(st5_path, corpus, capsys, argv, message):
    status, _, err = _run(capsys, "--model", str(st5_path), *argv, str(corpus))
    assert status == 2
    assert message in err
    assert "Traceback" not in err


def test_missing_file_and_too_few_texts(st5_path, tmp_path, capsys):
    status, _, err = _run(capsys, "--model", str(st5_path), str(tmp_path / "nope.txt"))
    assert status == 2
    assert "check-dtype FILE: expected a text file, found nothing there" in err
    one = tmp_path / "one.txt"
    one.write_text("just one paragraph", encoding="utf-8")
    status, _, err = _run(capsys, "--model", str(st5_path), str(one))
    assert status == 2
    assert "expected at least 2 texts, found 1" in err


def test_embed_runs_in_int8(st5_path, capsys):
    status = main(["embed", "--model", str(st5_path), "--device", "cpu", "--dtype", "int8", "hi"])
    assert status == 0
    assert "dtype='qint8'" in capsys.readouterr().err


def test_serve_reads_dtype_int8_through_the_shared_model_flags(st5_path):
    """`serve` (and `mcp`) load the encoder with the model flags every command shares."""
    from t5_vectors.cli import _parser
    from t5_vectors.cli._common import load_encoder

    for command in ("serve", "mcp"):
        args = _parser().parse_args(
            [command, "--collection", "c", "--model", str(st5_path), "--dtype", "int8"]
        )
        assert args.dtype == "int8"
    encoder = load_encoder(args)
    try:
        assert str(encoder.dtype) == "torch.qint8"
        assert encoder.int8_choices
    finally:
        encoder.close()
