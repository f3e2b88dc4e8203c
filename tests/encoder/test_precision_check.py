"""compare_dtypes: speed, cosine to float32 and top-k agreement per dtype, and its verdict."""

from __future__ import annotations

import numpy as np
import pytest

from t5_vectors import InvalidInputError
from t5_vectors.encoder.precision_check import (
    DtypeReport,
    DtypeResult,
    compare_dtypes,
    neighbour_agreement,
    top_neighbours,
)
from t5_vectors.testing import SAMPLE_SENTENCES

TEXTS = [f"{sentence} ({i})" for i, sentence in enumerate(SAMPLE_SENTENCES * 2)]


def test_int8_against_float32_on_a_checkpoint(st5_path):
    report = compare_dtypes(st5_path, TEXTS, dtypes=["int8"], k=5)
    assert [r.dtype for r in report.results] == ["float32", "int8"]
    reference, int8 = report.results
    assert reference.neighbour_agreement == 1.0
    assert reference.cosine_min == pytest.approx(1.0, abs=1e-6)
    assert 0.99 < int8.cosine_min < 1.0  # it did quantize, and stayed close
    assert int8.cosine_min <= int8.cosine_mean
    assert 0.0 <= int8.neighbour_agreement <= 1.0
    assert "projections in int8" in int8.note
    assert report.texts == len(TEXTS)
    assert report.tokens > len(TEXTS)
    assert report.k == 5
    assert int8.tokens_per_second == pytest.approx(report.tokens / int8.seconds)
    text = report.to_text()
    assert "top-5 agreement" in text
    assert text.splitlines()[-1] == report.verdict()
    assert report.to_json()["recommended"] == report.recommended.dtype


def test_k_is_capped_by_the_number_of_texts(st5_path):
    report = compare_dtypes(st5_path, TEXTS[:4], dtypes=["float32"], k=10)
    assert report.k == 3
    assert len(report.results) == 1  # float32 named twice is measured once


def _result(dtype: str, speed: float, agreement: float) -> DtypeResult:
    return DtypeResult(dtype, 1.0, speed, speed, 0.99, 0.995, agreement)


def test_recommended_is_the_fastest_that_keeps_recall():
    report = DtypeReport(
        "m",
        "cpu",
        100,
        1000,
        10,
        0.01,
        (
            _result("float32", 100, 1.0),
            _result("bfloat16", 180, 0.995),
            _result("int8", 250, 0.97),
        ),
    )
    assert report.recommended.dtype == "bfloat16"
    verdict = report.verdict()
    assert verdict.startswith("bfloat16 keeps top-10 recall within 0.01 of float32")
    assert "int8 (0.970) does not" in verdict
    assert "use dtype='bfloat16' (1.80x" in verdict


def test_float32_is_recommended_when_nothing_else_keeps_recall():
    report = DtypeReport(
        "m", "cpu", 10, 100, 3, 0.01, (_result("float32", 1, 1.0), _result("int8", 3, 0.9))
    )
    assert report.recommended.dtype == "float32"
    assert report.verdict().startswith("no dtype but float32 keeps top-3 recall")


def test_neighbours_exclude_the_text_itself_and_match_brute_force():
    rng = np.random.default_rng(0)
    unit = rng.normal(size=(50, 8))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    top = top_neighbours(unit, 4, chunk=16)
    scores = unit @ unit.T
    np.fill_diagonal(scores, -np.inf)
    expected = np.argsort(-scores, axis=1)[:, :4]
    for row, want in zip(top, expected, strict=True):
        assert set(row.tolist()) == set(want.tolist())


def test_agreement_is_recall_of_the_reference_neighbours():
    reference = np.array([[1, 2, 3, 4], [0, 2, 3, 4]])
    other = np.array([[4, 3, 9, 8], [4, 3, 2, 0]])
    assert neighbour_agreement(reference, other) == pytest.approx((2 / 4 + 4 / 4) / 2)


def test_arguments_are_checked_before_loading(st5_path):
    with pytest.raises(InvalidInputError, match="at least 2 texts"):
        compare_dtypes(st5_path, ["one"])
    with pytest.raises(InvalidInputError, match="'auto' is a choice"):
        compare_dtypes(st5_path, TEXTS, dtypes=["auto"])
    with pytest.raises(InvalidInputError, match="dtypes: expected a non-empty list"):
        compare_dtypes(st5_path, TEXTS, dtypes="int8")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="dtype: expected 'auto'"):
        compare_dtypes(st5_path, TEXTS, dtypes=["int4"])
    with pytest.raises(InvalidInputError, match="k: expected a positive int"):
        compare_dtypes(st5_path, TEXTS, k=0)
    with pytest.raises(InvalidInputError, match="tolerance"):
        compare_dtypes(st5_path, TEXTS, tolerance=1.5)
