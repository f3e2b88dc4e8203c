"""Save → load gives identical predictions; the encoder a classifier meets is checked."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from t5_vectors import (
    EncoderMismatchError,
    InvalidInputError,
    ModelLoadError,
    ModelNotFoundError,
    T5Classifier,
    T5Encoder,
)
from tests.transfer.conftest import DEVICE
from tests.transfer.tasks import keyword_task


@pytest.fixture(scope="module")
def trained(word_encoder):
    texts, labels = keyword_task(120, seed=20, length=(4, 10))
    clf = T5Classifier(word_encoder, pooling="attention", hidden_sizes=(16,), dropout=0.1)
    return clf.fit(texts, labels, epochs=10, lr=1e-2, progress=False)


@pytest.fixture(scope="module")
def probe_texts():
    return keyword_task(50, seed=21, length=(4, 10))[0]


def test_save_load_gives_identical_probabilities(tmp_path, trained, word_encoder, probe_texts):
    expected = trained.predict_proba(probe_texts)
    folder = trained.save(tmp_path / "clf")
    assert sorted(p.name for p in folder.iterdir()) == ["classifier.json", "head.safetensors"]
    record = json.loads((folder / "classifier.json").read_text())
    assert record["classes"] == {"kind": "str", "values": ["animal", "plant", "stone"]}
    assert record["encoder"]["fingerprint"] == word_encoder.fingerprint
    assert record["training"]["best_epoch"] == trained.history_.best_epoch

    loaded = T5Classifier.load(folder, encoder=word_encoder)
    assert loaded.encoder is word_encoder
    assert np.array_equal(loaded.predict_proba(probe_texts), expected)
    assert np.array_equal(loaded.classes_, trained.classes_)
    assert loaded.head_config == trained.head_config
    assert loaded.head.pooler.attention is not None  # the trained pooling came back with it


def test_load_rebuilds_the_recorded_encoder(tmp_path, trained, probe_texts):
    expected = trained.predict_proba(probe_texts)
    folder = trained.save(tmp_path / "clf")
    loaded = T5Classifier.load(folder, device=DEVICE)
    with loaded.encoder:
        assert loaded.encoder.name_or_path == trained.encoder.name_or_path
        np.testing.assert_allclose(loaded.predict_proba(probe_texts), expected, atol=1e-6)


def test_include_encoder_makes_a_self_contained_folder(tmp_path, trained, probe_texts):
    expected = trained.predict_proba(probe_texts)
    folder = trained.save(tmp_path / "clf", include_encoder=True)
    assert (folder / "encoder" / "config.json").is_file()
    assert not list(folder.rglob("*.bin"))  # no pickle anywhere
    assert not list(folder.rglob("*.pkl"))
    loaded = T5Classifier.load(folder, device=DEVICE)
    with loaded.encoder:
        assert loaded.encoder.name_or_path == str(folder / "encoder")
        np.testing.assert_allclose(loaded.predict_proba(probe_texts), expected, atol=1e-6)


@pytest.mark.parametrize("labels", [[4, 1], [True, False]])
def test_int_and_bool_classes_survive_json(tmp_path, word_encoder, labels):
    texts, names = keyword_task(40, seed=22, classes=("animal", "plant"))
    values = [labels[0] if n == "animal" else labels[1] for n in names]
    clf = T5Classifier(word_encoder).fit(texts, values, epochs=3, progress=False)
    loaded = T5Classifier.load(clf.save(tmp_path / "clf"), encoder=word_encoder)
    assert loaded.classes_.dtype == clf.classes_.dtype
    assert np.array_equal(loaded.predict(texts), clf.predict(texts))


def test_an_encoder_with_other_settings_is_refused(tmp_path, trained, word_t5_path):
    folder = trained.save(tmp_path / "clf")
    with (
        T5Encoder.from_pretrained(word_t5_path, device=DEVICE, max_length=32) as other,
        pytest.raises(EncoderMismatchError, match="trained on") as info,
    ):
        T5Classifier.load(folder, encoder=other)
    assert info.value.recorded == trained.encoder.fingerprint
    assert info.value.given != info.value.recorded


def test_an_encoder_whose_head_weights_differ_is_refused(tmp_path, word_t5_path):
    with T5Encoder.from_pretrained(word_t5_path, device=DEVICE, pooling="attention") as encoder:
        attention = encoder.head.pooler.attention
        with torch.no_grad():
            trained = torch.randn(
                attention.score.weight.shape, generator=torch.Generator().manual_seed(0)
            )
            attention.score.weight.copy_(trained)
        texts, labels = keyword_task(40, seed=23)
        clf = T5Classifier(encoder).fit(texts, labels, epochs=2, progress=False)
        folder = clf.save(tmp_path / "clf")
        # Rebuilt from its checkpoint, the encoder lacks the pooling it was trained with.
        with pytest.raises(EncoderMismatchError, match="include_encoder=True"):
            T5Classifier.load(folder)
        assert T5Classifier.load(folder, encoder=encoder).encoder is encoder
        with torch.no_grad():
            attention.score.weight.add_(0.5)  # the shared encoder's pooling changes again
        with pytest.raises(EncoderMismatchError):
            T5Classifier.load(folder, encoder=encoder)


def test_load_errors(tmp_path, trained, word_encoder):
    with pytest.raises(ModelNotFoundError, match="no such folder"):
        T5Classifier.load(tmp_path / "missing", encoder=word_encoder)
    folder = trained.save(tmp_path / "clf")
    with pytest.raises(InvalidInputError, match="T5Encoder"):
        T5Classifier.load(folder, encoder="t5-small")
    for damaged in ("{not json", "[1, 2]"):
        (folder / "classifier.json").write_text(damaged)
        with pytest.raises(ModelLoadError, match="save the classifier again"):
            T5Classifier.load(folder, encoder=word_encoder)
    (folder / "classifier.json").write_bytes(b'{"format": "\xff"}')
    with pytest.raises(ModelLoadError, match="save the classifier again"):
        T5Classifier.load(folder, encoder=word_encoder)
    trained.save(folder)
    record = json.loads((folder / "classifier.json").read_text())
    record["classes"] = {"kind": "float", "values": [0.5, 1.5]}
    (folder / "classifier.json").write_text(json.dumps(record))
    with pytest.raises(ModelLoadError):
        T5Classifier.load(folder, encoder=word_encoder)
    trained.save(folder)
    record = json.loads((folder / "classifier.json").read_text())
    record["head"]["hidden_sizes"] = [8]
    (folder / "classifier.json").write_text(json.dumps(record))
    with pytest.raises(ModelLoadError, match="match"):
        T5Classifier.load(folder, encoder=word_encoder)


def test_save_refuses_a_file_path(tmp_path, trained):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(InvalidInputError, match="folder"):
        trained.save(target)
