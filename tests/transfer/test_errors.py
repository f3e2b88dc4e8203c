"""Every mistake a caller can make gets a typed error, raised before the encoder runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from t5_vectors import (
    EncoderClosedError,
    InvalidInputError,
    LabelError,
    NotFittedError,
    T5Classifier,
    T5Encoder,
)
from tests.transfer.tasks import keyword_task

TEXTS, LABELS = keyword_task(20, seed=30)


@pytest.fixture(scope="module")
def closed_encoder(word_t5_path):
    """A closed encoder: any call that reached it would raise EncoderClosedError instead."""
    encoder = T5Encoder.from_pretrained(word_t5_path, device="cpu")
    encoder.close()
    return encoder


def test_the_closed_encoder_really_fails(closed_encoder):
    with pytest.raises(EncoderClosedError):
        T5Classifier(closed_encoder).fit(TEXTS, LABELS, progress=False)


@pytest.mark.parametrize(
    ("texts", "labels", "error", "match"),
    [
        ([], [], InvalidInputError, "at least one text"),
        ("one text", ["a"], InvalidInputError, "single str"),
        ([None, "b"], ["a", "b"], InvalidInputError, r"texts\[0\]"),
        (TEXTS, LABELS[:-1], LabelError, "one label per text"),
        (TEXTS, ["same"] * len(TEXTS), LabelError, "at least 2 classes"),
        (TEXTS, [0.5] * len(TEXTS), LabelError, "Floats are refused"),
        (TEXTS, [None] * len(TEXTS), LabelError, "found None"),
        (TEXTS, [(1, 2)] * len(TEXTS), LabelError, "str, int or bool"),
        (TEXTS, [1, "a"] * (len(TEXTS) // 2), LabelError, "of one kind"),
        (TEXTS, [True, 1] * (len(TEXTS) // 2), LabelError, "of one kind"),
        (TEXTS, "ab" * (len(TEXTS) // 2), LabelError, "list of labels"),
    ],
)
def test_bad_training_data(closed_encoder, texts, labels, error, match):
    with pytest.raises(error, match=match):
        T5Classifier(closed_encoder).fit(texts, labels, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"validation_data": (TEXTS[:2], ["animal", "mineral"])}, LabelError, "'mineral'"),
        ({"validation_data": (TEXTS[:2], [1, 2])}, LabelError, "training classes"),
        ({"validation_data": (TEXTS[:2], ["animal"])}, LabelError, "one label per text"),
        ({"validation_data": TEXTS}, InvalidInputError, r"\(texts, labels\) pair"),
        ({"validation_split": 1.0}, InvalidInputError, r"\[0, 1\)"),
        ({"validation_split": -0.1}, InvalidInputError, "validation_split"),
        (
            {"validation_split": 0.01, "solver": "adamw"},
            LabelError,
            "at least one validation example",
        ),
        ({"solver": "sgd"}, InvalidInputError, "solver: expected 'auto', 'lbfgs' or 'adamw'"),
        ({"C": 0}, InvalidInputError, "C: expected a number > 0 or None, found 0"),
        ({"C": float("nan")}, InvalidInputError, "C: expected a number > 0"),
        ({"class_weight": "auto"}, InvalidInputError, "'balanced'"),
        ({"class_weight": {"mineral": 2.0}}, LabelError, "'mineral'"),
        ({"class_weight": {"animal": -1.0}}, InvalidInputError, "positive number"),
        ({"class_weight": [1.0, 2.0]}, InvalidInputError, "class_weight"),
        ({"epochs": 0}, InvalidInputError, "epochs"),
        ({"batch_size": 1.5}, InvalidInputError, "batch_size"),
        ({"lr": 0}, InvalidInputError, "lr"),
        ({"lr": float("nan")}, InvalidInputError, "lr"),
        ({"weight_decay": -1}, InvalidInputError, "weight_decay"),
        ({"patience": 0}, InvalidInputError, "patience"),
        ({"monitor": "f1"}, InvalidInputError, "monitor"),
        ({"seed": -1}, InvalidInputError, "seed"),
        ({"progress": "yes"}, InvalidInputError, "progress"),
    ],
)
def test_bad_fit_arguments(closed_encoder, kwargs, error, match):
    with pytest.raises(error, match=match):
        T5Classifier(closed_encoder).fit(TEXTS, LABELS, **{"progress": False, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pooling": ("encoder", "mean")}, "'encoder' alone"),
        ({"pooling": "median"}, "pooling"),
        ({"hidden_sizes": (0,)}, "hidden_sizes"),
        ({"dropout": 1.0}, "dropout"),
        ({"activation": "softmax"}, "activation"),
        ({"attention_hidden_size": -1}, "attention_hidden_size"),
        ({"standardize": 1}, "standardize"),
        ({"kind": "passage"}, "kind"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_head_arguments(closed_encoder, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        T5Classifier(closed_encoder, **kwargs)


def test_the_encoder_must_be_a_t5_encoder():
    with pytest.raises(InvalidInputError, match="T5Encoder"):
        T5Classifier("google/t5-v1_1-base")


def test_an_unfitted_classifier_says_so(closed_encoder, tmp_path):
    clf = T5Classifier(closed_encoder)
    for call in (
        lambda: clf.predict(TEXTS),
        lambda: clf.predict_proba(TEXTS),
        lambda: clf.score(TEXTS, LABELS),
        lambda: clf.save(tmp_path / "clf"),
        lambda: clf.classes_,
    ):
        with pytest.raises(NotFittedError, match="fit"):
            call()
    assert not (tmp_path / "clf").exists()
    assert "unfitted" in repr(clf)


def test_prediction_arguments_are_checked(word_encoder):
    clf = T5Classifier(word_encoder).fit(TEXTS, LABELS, epochs=1, progress=False)
    with pytest.raises(InvalidInputError, match="single str"):
        clf.predict("one text")
    with pytest.raises(LabelError, match="found int labels"):
        clf.score(TEXTS, [1] * len(TEXTS))
    with pytest.raises(LabelError, match="one label per text"):
        clf.score(TEXTS, LABELS[:3])
    assert clf.predict_proba([]).shape == (0, 3)
    assert clf.predict([]).shape == (0,)
    # Labels it never saw are simply wrong, as in scikit-learn.
    assert clf.score(TEXTS[:4], ["mineral"] * 4) == 0.0


def test_cuda_is_refused_cleanly_without_a_gpu(word_encoder):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(InvalidInputError, match="no CUDA GPU"):
        T5Classifier(word_encoder, device="cuda")


def test_proba_rows_sum_to_one(word_encoder):
    clf = T5Classifier(word_encoder, hidden_sizes=8).fit(TEXTS, LABELS, epochs=2, progress=False)
    proba = clf.predict_proba(TEXTS)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs", [{"hidden_sizes": (8,)}, {"pooling": "attention"}, {"dropout": 0.1}]
)
def test_lbfgs_refuses_heads_it_cannot_solve(closed_encoder, kwargs):
    with pytest.raises(InvalidInputError, match="'lbfgs' solves a linear head on fixed features"):
        T5Classifier(closed_encoder, **kwargs).fit(TEXTS, LABELS, solver="lbfgs", progress=False)
