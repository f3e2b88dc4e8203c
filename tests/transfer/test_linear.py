"""The default fit of a linear head: L2-regularised logistic regression solved by L-BFGS, its
C chosen by cross-validation (t5_vectors.transfer.linear)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from t5_vectors import T5Classifier
from t5_vectors.transfer.linear import C_GRID, stratified_folds
from tests.transfer.tasks import keyword_task, noisy_keyword_task


def _objective_gradient(clf: T5Classifier, texts, labels, C: float) -> float:
    """Norm of the gradient of mean CE + |W|^2 / (2 C n) at the fitted head."""
    head = clf.head
    vectors = torch.as_tensor(clf.encoder.encode(texts), device=clf.device)
    z = (vectors - head.shift) / head.scale
    y = torch.as_tensor(np.searchsorted(clf.classes_, labels), device=clf.device)
    output = head.mlp[-1]
    weight = output.weight.detach().clone().requires_grad_(True)
    bias = output.bias.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(F.linear(z, weight, bias), y) + weight.pow(2).sum() / (2 * C * len(y))
    loss.backward()
    return float(torch.cat([weight.grad.flatten(), bias.grad]).norm())


def test_a_linear_head_is_solved_by_default(word_encoder):
    texts, labels = noisy_keyword_task(150, seed=30)
    clf = T5Classifier(word_encoder).fit(texts, labels, progress=False)
    history = clf.history_
    assert history.solver == "lbfgs"
    assert history.C in C_GRID
    assert [row[0] for row in history.search] == list(C_GRID)
    chosen = next(row for row in history.search if row[0] == history.C)
    assert chosen[1] == min(row[1] for row in history.search)  # monitor="loss"
    assert history.epochs[0].val_loss == chosen[1]
    assert _objective_gradient(clf, texts, labels, history.C) < 1e-3


def test_a_given_C_is_used_without_search_and_regularises(word_encoder):
    texts, labels = keyword_task(120, seed=31)
    norms = {}
    for C in (1e-3, 10.0):
        clf = T5Classifier(word_encoder).fit(texts, labels, C=C, progress=False)
        assert clf.history_.C == C
        assert clf.history_.search == ()
        assert _objective_gradient(clf, texts, labels, C) < 1e-3
        norms[C] = float(clf.head.mlp[-1].weight.detach().norm())
    assert norms[1e-3] < norms[10.0] / 5


def test_validation_data_chooses_C_and_monitor_accuracy(word_encoder):
    texts, labels = noisy_keyword_task(150, seed=32)
    val = noisy_keyword_task(80, seed=33)
    clf = T5Classifier(word_encoder).fit(
        texts, labels, validation_data=val, monitor="accuracy", progress=False
    )
    search = clf.history_.search
    chosen = next(row for row in search if row[0] == clf.history_.C)
    assert chosen[2] == max(row[2] for row in search)
    # the chosen figures are the head's own on the validation texts: it was refit on the
    # training texts only, with the same C, from the same start
    assert clf.score(*val) == pytest.approx(chosen[2], abs=1e-6)


def test_same_seed_same_head_and_the_caller_rng_untouched(word_encoder):
    texts, labels = noisy_keyword_task(120, seed=34)
    probe = keyword_task(30, seed=35)[0]
    state = torch.random.get_rng_state()
    first = T5Classifier(word_encoder).fit(texts, labels, seed=3, progress=False)
    second = T5Classifier(word_encoder).fit(texts, labels, seed=3, progress=False)
    assert np.array_equal(first.predict_proba(probe), second.predict_proba(probe))
    assert torch.equal(torch.random.get_rng_state(), state)


def test_balanced_class_weights_raise_the_minority_recall(word_encoder):
    # "plant" is 10% of the texts and its keyword is often missing: weighting it up moves
    # the decision towards it.
    rng = np.random.default_rng(36)
    texts, labels = keyword_task(400, seed=36, classes=("animal", "plant"))
    keep = [i for i, label in enumerate(labels) if label == "animal" or rng.random() < 0.12]
    texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    flipped = [
        ("animal" if rng.random() < 0.3 else "plant") if lab == "plant" else lab for lab in labels
    ]
    test_texts, _ = keyword_task(300, seed=37, classes=("animal", "plant"))

    def plant_share(class_weight):
        clf = T5Classifier(word_encoder).fit(
            texts, flipped, class_weight=class_weight, C=0.01, progress=False
        )
        return float(np.mean(clf.predict(test_texts) == "plant"))

    assert plant_share("balanced") > plant_share(None)


def test_folds_spread_each_class_evenly():
    y = torch.tensor([0] * 10 + [1] * 7 + [2] * 3)
    folds = stratified_folds(y, 3, torch.Generator().manual_seed(0))
    sizes = torch.bincount(folds, minlength=3)
    assert int(sizes.max() - sizes.min()) <= 1
    for cls in range(3):
        per_fold = torch.bincount(folds[y == cls], minlength=3)
        assert int(per_fold.max() - per_fold.min()) <= 1
