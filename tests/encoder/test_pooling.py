"""Pooling against hand-computed masked operations on the same token states."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from t5_vectors import T5Encoder
from t5_vectors.encoder.pooling import AttentionPooling, Pooler

TEXTS = ["short", "a somewhat longer text with several tokens", "", "mid length one"]


def hand_pool(tokens: np.ndarray, mode: str) -> np.ndarray:
    n = tokens.shape[0]
    if mode == "mean":
        return tokens.mean(0)
    if mode == "max":
        return tokens.max(0)
    if mode == "first":
        return tokens[0]
    if mode == "last":
        return tokens[-1]
    if mode == "mean_sqrt_len":
        return tokens.sum(0) / np.sqrt(n)
    if mode == "weighted_mean":
        w = np.arange(1, n + 1, dtype=np.float64)[:, None]
        return (tokens * w).sum(0) / w.sum()
    raise AssertionError(mode)


@pytest.mark.parametrize("mode", ["mean", "max", "first", "last", "mean_sqrt_len", "weighted_mean"])
def test_pooling_equals_masked_hand_computation(t5_v11_path, mode):
    with T5Encoder.from_pretrained(t5_v11_path, device="cpu", dtype="float32", pooling=mode) as enc:
        pooled = enc.encode(TEXTS)  # batched together: padding is present
        tokens = enc.encode_tokens(TEXTS)
    expected = np.stack([hand_pool(t.astype(np.float64), mode) for t in tokens])
    np.testing.assert_allclose(pooled, expected, atol=1e-5, rtol=1e-5)


def test_concatenated_modes(t5_v11_path):
    with T5Encoder.from_pretrained(
        t5_v11_path, device="cpu", dtype="float32", pooling=["mean", "max"]
    ) as enc:
        assert enc.dim == 2 * enc.d_model
        pooled = enc.encode(TEXTS)
        tokens = enc.encode_tokens(TEXTS)
    expected = np.stack([np.concatenate([t.mean(0), t.max(0)]) for t in tokens])
    np.testing.assert_allclose(pooled, expected, atol=1e-5)


def test_normalize_gives_unit_vectors(t5_v11_path):
    with T5Encoder.from_pretrained(
        t5_v11_path, device="cpu", dtype="float32", normalize=True
    ) as enc:
        vectors = enc.encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_untrained_attention_pooling_is_mean_pooling(t5_v11_path):
    with T5Encoder.from_pretrained(
        t5_v11_path, device="cpu", dtype="float32", pooling="attention"
    ) as enc:
        pooled = enc.encode(TEXTS)
        tokens = enc.encode_tokens(TEXTS)
    np.testing.assert_allclose(pooled, np.stack([t.mean(0) for t in tokens]), atol=1e-5)


def test_attention_pooling_matches_softmax_by_hand():
    torch.manual_seed(0)
    pool = AttentionPooling(8)
    torch.nn.init.normal_(pool.score.weight)
    hidden = torch.randn(2, 5, 8)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    out = pool(hidden, mask)
    for row in range(2):
        n = int(mask[row].sum())
        h = hidden[row, :n]
        w = torch.softmax(h @ pool.score.weight[0] + pool.score.bias, dim=0)
        torch.testing.assert_close(out[row], (w[:, None] * h).sum(0))


def test_attention_pooling_is_trainable_and_saved(tmp_path, t5_v11_path):
    with T5Encoder.from_pretrained(
        t5_v11_path, device="cpu", dtype="float32", pooling="attention"
    ) as enc:
        attention = enc.head.pooler.attention
        assert attention is not None
        params = list(attention.parameters())
        assert params
        assert all(p.requires_grad for p in params)
        # One optimisation step on token states from the frozen encoder.
        states = [torch.from_numpy(t) for t in enc.encode_tokens(TEXTS)]
        hidden = torch.nn.utils.rnn.pad_sequence(states, batch_first=True)
        mask = torch.nn.utils.rnn.pad_sequence(
            [torch.ones(len(s), dtype=torch.bool) for s in states], batch_first=True
        )
        optimiser = torch.optim.SGD(attention.parameters(), lr=1.0)
        loss = -enc.head.pooler(hidden, mask)[:, 0].sum()
        loss.backward()
        optimiser.step()
        trained = enc.encode(TEXTS)
        mean = np.stack([s.numpy().mean(0) for s in states])
        assert not np.allclose(trained, mean, atol=1e-4)
        enc.save_pretrained(tmp_path / "trained")
    with T5Encoder.from_pretrained(tmp_path / "trained", device="cpu", dtype="float32") as loaded:
        assert loaded.config.pooling == ("attention",)
        np.testing.assert_allclose(loaded.encode(TEXTS), trained, atol=1e-6)


def test_pooler_ignores_padding_values():
    pooler = Pooler(["mean", "max", "first", "last"], 4)
    hidden = torch.randn(1, 3, 4)
    mask = torch.tensor([[True, True, False]])
    poisoned = hidden.clone()
    poisoned[0, 2] = 1e6
    torch.testing.assert_close(pooler(hidden, mask), pooler(poisoned, mask))
