"""What the classifier learns, on synthetic tasks over a tiny random-weight T5 (issue 6, part 1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from t5_vectors import T5Classifier
from tests.transfer.tasks import keyword_task, noise_task, noisy_keyword_task


def test_word_presence_reaches_90_percent_held_out(word_encoder):
    train, test = keyword_task(300, seed=1, fillers=24), keyword_task(300, seed=2, fillers=24)
    clf = T5Classifier(word_encoder).fit(*train, lr=1e-2, seed=0, progress=False)
    assert list(clf.classes_) == ["animal", "plant", "stone"]
    accuracy = clf.score(*test)
    assert accuracy >= 0.9, accuracy
    predicted = clf.predict(test[0][:5])
    assert predicted.dtype.kind == "U"
    assert set(predicted) <= {"animal", "plant", "stone"}


def test_attention_pooling_beats_mean_pooling(word_encoder):
    # One keyword among 16-24 distractors from a 120-word vocabulary: mean pooling dilutes it
    # (and the distractors cannot all be projected away in 64 dims); attention finds it.
    train = keyword_task(400, seed=3, classes=("animal", "plant"), length=(16, 24))
    test = keyword_task(300, seed=4, classes=("animal", "plant"), length=(16, 24))
    scores = {}
    for pooling in ("mean", "attention"):
        clf = T5Classifier(word_encoder, pooling=pooling)
        scores[pooling] = clf.fit(*train, lr=1e-2, patience=10, progress=False).score(*test)
    assert scores["attention"] >= 0.95, scores
    assert scores["attention"] >= scores["mean"] + 0.15, scores


def test_training_attention_pooling_leaves_the_shared_encoder_alone(word_encoder):
    before = word_encoder.fingerprint
    weights = {k: v.clone() for k, v in word_encoder.head.state_dict().items()}
    model_weight = next(word_encoder.model.parameters()).detach().clone()
    texts, labels = keyword_task(60, seed=5, length=(8, 12))
    clf = T5Classifier(word_encoder, pooling="attention").fit(
        texts, labels, epochs=5, patience=None, progress=False
    )
    attention = clf.head.pooler.attention
    assert attention is not None
    assert attention.score.weight.abs().sum() > 0  # trained away from its zero start
    assert word_encoder.head.pooler.attention is None
    assert word_encoder.fingerprint == before
    for key, value in word_encoder.head.state_dict().items():
        assert torch.equal(value, weights[key])
    assert torch.equal(next(word_encoder.model.parameters()), model_weight)
    assert all(p.dtype == torch.float32 for p in clf.head.parameters())


def test_same_seed_same_model_other_seed_other_model(word_encoder):
    texts, labels = keyword_task(120, seed=6, length=(4, 10))
    test_texts, _ = keyword_task(40, seed=7, length=(4, 10))

    def fit(seed):
        clf = T5Classifier(word_encoder, pooling="attention", hidden_sizes=(32,), dropout=0.1)
        return clf.fit(texts, labels, epochs=8, patience=None, seed=seed, progress=False)

    first, second, other = fit(0), fit(0), fit(1)
    assert np.array_equal(first.predict_proba(test_texts), second.predict_proba(test_texts))
    assert not np.allclose(first.predict_proba(test_texts), other.predict_proba(test_texts))
    rng_state = torch.random.get_rng_state()
    fit(0)
    assert torch.equal(torch.random.get_rng_state(), rng_state)  # the caller's RNG untouched


def test_early_stopping_stops_and_restores_the_best_epoch(word_encoder):
    # 30% of the labels are noise: the validation loss falls, then rises as the MLP memorises.
    texts, labels = noisy_keyword_task(200, seed=8)
    val_texts, val_labels = noisy_keyword_task(100, seed=9)
    clf = T5Classifier(word_encoder, hidden_sizes=(64,)).fit(
        texts,
        labels,
        validation_data=(val_texts, val_labels),
        epochs=200,
        patience=3,
        lr=3e-3,
        progress=False,
    )
    history = clf.history_
    assert history.stopped_early
    assert history.n_epochs < 200
    assert history.best_epoch > 1
    assert history.best_epoch == history.n_epochs - 3
    best = history.epochs[history.best_epoch - 1]
    assert best.val_loss == min(e.val_loss for e in history.epochs)
    assert history.epochs[-1].val_loss > best.val_loss
    # The head holds the best epoch's weights: its validation loss is the recorded one.
    proba = clf.predict_proba(val_texts)
    target = np.searchsorted(clf.classes_, val_labels)
    loss = -np.mean(np.log(proba[np.arange(len(target)), target]))
    assert loss == pytest.approx(best.val_loss, rel=1e-5)


def test_without_validation_every_epoch_runs(word_encoder):
    texts, labels = keyword_task(40, seed=10)
    clf = T5Classifier(word_encoder).fit(
        texts, labels, validation_split=0, epochs=7, solver="adamw", progress=False
    )
    assert clf.history_.solver == "adamw"
    assert clf.history_.n_epochs == 7
    assert clf.history_.best_epoch == 7
    assert not clf.history_.stopped_early
    assert all(e.val_loss is None for e in clf.history_.epochs)


def test_class_weights_change_the_decision_on_an_imbalanced_set(word_encoder):
    texts, labels = noise_task(300, seed=11, minority=0.15)
    test_texts, _ = noise_task(200, seed=12, minority=0.15)

    def minority_share(class_weight):
        clf = T5Classifier(word_encoder).fit(
            texts,
            labels,
            validation_split=0,
            epochs=5,
            class_weight=class_weight,
            solver="adamw",
            progress=False,
        )
        return float(np.mean(clf.predict(test_texts) == 1))

    plain, balanced, by_hand = (minority_share(w) for w in (None, "balanced", {1: 5.0}))
    assert plain < 0.05  # the noise carries nothing: the majority class wins
    assert balanced > plain + 0.2
    assert by_hand > plain + 0.2


@pytest.mark.parametrize(
    ("labels", "kind"),
    [([7, 3], "i"), ([True, False], "b"), (np.array([2, 9], dtype=np.int32), "i")],
)
def test_int_and_bool_labels_come_back_as_given(word_encoder, labels, kind):
    texts, names = keyword_task(60, seed=13, classes=("animal", "plant"))
    mapping = {"animal": labels[0], "plant": labels[1]}
    values = [mapping[n] for n in names]
    clf = T5Classifier(word_encoder).fit(texts, values, epochs=30, lr=1e-2, progress=False)
    assert clf.classes_.dtype.kind == kind
    assert list(clf.classes_) == sorted(mapping.values())
    predicted = clf.predict(texts)
    assert predicted.dtype.kind == kind
    assert clf.score(texts, values) == float(np.mean(predicted == np.asarray(values)))


def test_progress_bars_can_be_switched_off(word_encoder, capsys):
    texts, labels = keyword_task(30, seed=14)
    T5Classifier(word_encoder).fit(texts, labels, epochs=2, progress=False)
    assert "Training" not in capsys.readouterr().err
    T5Classifier(word_encoder).fit(texts, labels, epochs=2, progress=True)
    err = capsys.readouterr().err
    assert "Encoding" in err
    assert "Training" in err
