"""Device and dtype handling: the head goes where it is asked, trains in float32, on any device.

Runs on CPU here; with a GPU (or ``T5_VECTORS_TEST_DEVICE=cuda``) the CUDA cases run too.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from t5_vectors import T5Classifier, T5Encoder
from tests.transfer.conftest import DEVICE
from tests.transfer.tasks import keyword_task

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
TRAIN = keyword_task(90, seed=40, length=(3, 8))
PROBE = keyword_task(30, seed=41, length=(3, 8))[0]


def test_the_default_device_is_the_encoders(word_encoder):
    assert T5Classifier(word_encoder).device == word_encoder.device
    assert T5Classifier(word_encoder, device=torch.device("cpu")).device == torch.device("cpu")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("pooling", ["encoder", "max", "attention"])
def test_the_head_trains_and_predicts_on_the_asked_device(word_encoder, device, pooling):
    clf = T5Classifier(word_encoder, pooling=pooling, hidden_sizes=(16,), device=device)
    clf.fit(*TRAIN, epochs=3, progress=False)
    assert {p.device.type for p in clf.head.parameters()} == {device}
    assert {b.device.type for b in clf.head.buffers()} == {device}
    proba = clf.predict_proba(PROBE)
    assert isinstance(proba, np.ndarray)
    assert proba.shape == (len(PROBE), 3)


@needs_cuda
def test_gpu_and_cpu_heads_agree(word_encoder):
    probas = [
        T5Classifier(word_encoder, pooling="attention", device=device)
        .fit(*TRAIN, epochs=5, patience=None, progress=False)
        .predict_proba(PROBE)
        for device in ("cpu", "cuda")
    ]
    np.testing.assert_allclose(probas[0], probas[1], atol=1e-3)


@needs_cuda
def test_a_classifier_saved_on_one_device_loads_on_another(tmp_path, word_encoder):
    clf = T5Classifier(word_encoder, device="cpu").fit(*TRAIN, epochs=3, progress=False)
    loaded = T5Classifier.load(clf.save(tmp_path / "clf"), encoder=word_encoder, device="cuda")
    assert {p.device.type for p in loaded.head.parameters()} == {"cuda"}
    np.testing.assert_allclose(loaded.predict_proba(PROBE), clf.predict_proba(PROBE), atol=1e-5)


def test_a_bfloat16_encoder_feeds_a_float32_head(word_t5_path):
    with T5Encoder.from_pretrained(word_t5_path, device=DEVICE, dtype="bfloat16") as encoder:
        clf = T5Classifier(encoder, pooling="attention").fit(*TRAIN, epochs=3, progress=False)
        assert all(p.dtype == torch.float32 for p in clf.head.parameters())
        assert clf.predict_proba(PROBE).dtype == np.float64
