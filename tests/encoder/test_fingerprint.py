"""The fingerprint covers the head's weights (attention pooling, Dense), not only settings."""

from __future__ import annotations

import hashlib

import torch

from t5_vectors import T5Encoder
from t5_vectors.encoder import pooling as pooling_module


def test_a_weightless_head_keeps_the_settings_only_fingerprint(t5_v11_path):
    with T5Encoder.from_pretrained(t5_v11_path, device="cpu") as encoder:
        assert "head=" not in encoder.fingerprint
        assert encoder.head.weights_digest() == ""


def test_loading_twice_gives_the_same_fingerprint(st5_path):
    with (
        T5Encoder.from_pretrained(st5_path, device="cpu") as a,
        T5Encoder.from_pretrained(st5_path, device="cpu") as b,
    ):
        assert "head=" in a.fingerprint  # sentence-t5 layout: a Dense layer
        assert a.fingerprint == b.fingerprint


def test_training_attention_pooling_changes_the_fingerprint(t5_v11_path):
    with T5Encoder.from_pretrained(t5_v11_path, device="cpu", pooling="attention") as encoder:
        before = encoder.fingerprint
        saved = {k: v.clone() for k, v in encoder.head.state_dict().items()}
        attention = encoder.head.pooler.attention
        optimiser = torch.optim.SGD(attention.parameters(), lr=0.1)
        attention(
            torch.randn(2, 3, encoder.d_model), torch.ones(2, 3, dtype=torch.bool)
        ).sum().backward()
        optimiser.step()
        trained = encoder.fingerprint
        assert trained != before
        encoder.head.load_state_dict(saved)
        assert encoder.fingerprint == before  # the digest follows the values


def test_changing_a_dense_layer_changes_the_fingerprint(st5_path):
    with T5Encoder.from_pretrained(st5_path, device="cpu") as encoder:
        before = encoder.fingerprint
        with torch.no_grad():
            encoder.head.dense_layers[0].linear.weight.mul_(2.0)
        assert encoder.fingerprint != before
        encoder.head.dense_layers[0].linear.weight = torch.nn.Parameter(
            torch.zeros_like(encoder.head.dense_layers[0].linear.weight)
        )
        assert encoder.fingerprint != before


def test_the_digest_is_cached_until_a_weight_changes(st5_path, monkeypatch):
    calls = []
    real = hashlib.sha256

    def counting_sha256(*args):
        calls.append(1)
        return real(*args)

    with T5Encoder.from_pretrained(st5_path, device="cpu") as encoder:
        # counted from here: loading digests the checkpoint's files (hashlib is one module)
        monkeypatch.setattr(pooling_module.hashlib, "sha256", counting_sha256)
        first = encoder.fingerprint
        for _ in range(5):
            assert encoder.fingerprint == first
        assert len(calls) == 1
        with torch.no_grad():
            encoder.head.dense_layers[0].linear.weight.add_(1.0)
        assert encoder.fingerprint != first
        assert len(calls) == 2
