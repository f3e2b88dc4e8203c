"""The inference forward pass against transformers' own T5 stack, and the int8 dtype."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import T5EncoderModel

from t5_vectors import InvalidInputError, T5Encoder
from t5_vectors.encoder._forward import FastT5Forward, supports_fast_forward
from t5_vectors.encoder.precision import resolve_dtype


def _batch(vocab: int, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    width = max(lengths)
    ids = torch.randint(3, vocab, (len(lengths), width), generator=generator)
    mask = torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]
    return ids.masked_fill(~mask, 0), mask


def _hf_states(path, dtype: torch.dtype, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    model = T5EncoderModel.from_pretrained(str(path), dtype=dtype, attn_implementation="eager")
    with torch.inference_mode():
        return model.eval()(input_ids=ids, attention_mask=mask.long()).last_hidden_state.float()


@pytest.mark.parametrize("fixture", ["t5_v10_path", "t5_v11_path"])
def test_fast_forward_equals_transformers_in_float32(fixture, request):
    path = request.getfixturevalue(fixture)
    model = T5EncoderModel.from_pretrained(str(path), dtype=torch.float32).eval()
    ids, mask = _batch(model.config.vocab_size, [9, 3, 17, 1, 17])
    fast = FastT5Forward(model).eval()
    with torch.inference_mode():
        ours = fast(ids, mask)
    theirs = _hf_states(path, torch.float32, ids, mask)
    np.testing.assert_allclose(ours[mask].numpy(), theirs[mask].numpy(), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("fixture", ["t5_v10_path", "t5_v11_path"])
def test_fast_forward_in_bfloat16_tracks_float32(fixture, request):
    path = request.getfixturevalue(fixture)
    model = T5EncoderModel.from_pretrained(str(path), dtype=torch.bfloat16).eval()
    ids, mask = _batch(model.config.vocab_size, [12, 5, 20])
    with torch.inference_mode():
        ours = FastT5Forward(model).eval()(ids, mask)
    assert ours.dtype == torch.bfloat16
    reference = _hf_states(path, torch.float32, ids, mask)
    cos = torch.nn.functional.cosine_similarity(ours.float()[mask], reference[mask], dim=-1)
    assert cos.min().item() > 0.99, cos.min()


def test_position_bias_is_t5s_and_cached_per_length(t5_v11_path):
    model = T5EncoderModel.from_pretrained(str(t5_v11_path), dtype=torch.float32).eval()
    fast = FastT5Forward(model)
    attention = model.encoder.block[0].layer[0].SelfAttention
    with torch.inference_mode():
        for length in (1, 7, 40, 300):  # 300 is past max_distance: the log buckets saturate
            bias = fast.position_bias(length, torch.device("cpu"))
            expected = attention.compute_bias(length, length)
            torch.testing.assert_close(bias, expected)
            assert fast.position_bias(length, torch.device("cpu")) is bias


def test_padding_mask_is_folded_into_the_bias(t5_v10_path):
    model = T5EncoderModel.from_pretrained(str(t5_v10_path), dtype=torch.float32).eval()
    fast = FastT5Forward(model)
    _ids, mask = _batch(model.config.vocab_size, [4, 2])
    with torch.inference_mode():
        bias = fast.attention_bias(mask)
        full = fast.attention_bias(torch.ones_like(mask))
    assert bias.shape == (2, fast.heads, 4, 4)
    assert full.shape == (1, fast.heads, 4, 4)  # nothing padded: the shared position bias
    assert (bias[1, :, :, 2:] <= torch.finfo(torch.float32).min / 2).all()
    torch.testing.assert_close(bias[0], full[0])


def test_padding_does_not_change_a_texts_states(t5_v11_path):
    """A text's rows are the same alone and next to a longer text (mask folded correctly)."""
    model = T5EncoderModel.from_pretrained(str(t5_v11_path), dtype=torch.float32).eval()
    fast = FastT5Forward(model)
    ids, mask = _batch(model.config.vocab_size, [6, 15])
    with torch.inference_mode():
        padded = fast(ids, mask)[0, :6]
        alone = fast(ids[:1, :6], mask[:1, :6])[0]
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=1e-4)


def test_float16_models_keep_transformers_forward(t5_v11_path):
    model = T5EncoderModel.from_pretrained(str(t5_v11_path), dtype=torch.float16)
    assert not supports_fast_forward(model)  # wo stays float32: mixed dtypes
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        FastT5Forward(model)


def test_the_model_forward_is_the_fast_one(t5_v11_path, texts):
    with T5Encoder.from_pretrained(t5_v11_path, device="cpu", dtype="float32") as encoder:
        ids = torch.tensor([encoder.tokenize(["hello world"])[0]])
        with torch.inference_mode():
            direct = encoder.model(input_ids=ids).last_hidden_state[0].numpy()
        np.testing.assert_allclose(direct, encoder.encode_tokens(["hello world"])[0], atol=1e-6)
        reference = _hf_states(t5_v11_path, torch.float32, ids, torch.ones_like(ids, dtype=bool))
        np.testing.assert_allclose(direct, reference[0].numpy(), atol=1e-5, rtol=1e-4)


# ------------------------------------------------------------------------------------- int8
def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_int8_is_explicit_cpu_only_and_close_to_float32(st5_path, texts):
    with T5Encoder.from_pretrained(st5_path, device="cpu", dtype="float32") as encoder:
        reference = encoder.encode(texts)
    with T5Encoder.from_pretrained(st5_path, device="cpu", dtype="int8") as encoder:
        assert encoder.dtype == torch.qint8
        assert "qint8" in repr(encoder)
        vectors = encoder.encode(texts)
        tokens = encoder.encode_tokens(texts[:2])
    assert vectors.dtype == np.float32
    assert not np.array_equal(vectors, reference)  # it did quantize
    assert _cosines(vectors, reference).min() >= 0.99
    assert all(t.dtype == np.float32 for t in tokens)


def test_int8_is_never_auto_and_refused_off_cpu(monkeypatch):
    from t5_vectors.encoder import precision

    for flag in ("0", "1"):
        precision.cpu_has_native_bf16.cache_clear()
        monkeypatch.setenv("T5_VECTORS_CPU_BF16", flag)
        assert resolve_dtype("auto", torch.device("cpu")) != torch.qint8
    precision.cpu_has_native_bf16.cache_clear()
    assert resolve_dtype("int8", torch.device("cpu")) == torch.qint8
    with pytest.raises(InvalidInputError, match="CPU only"):
        resolve_dtype("int8", torch.device("cuda"))


def test_int8_refuses_a_bfloat16_model(t5_v11_path):
    model = T5EncoderModel.from_pretrained(str(t5_v11_path), dtype=torch.bfloat16)
    ids = torch.tensor([[5, 6, 7, 1]])
    with pytest.raises(ValueError, match="float32 weights"):
        FastT5Forward(model).quantize_int8(ids, torch.ones_like(ids, dtype=torch.bool))


@pytest.mark.parametrize("fixture", ["t5_v10_path", "t5_v11_path"])
def test_unpadded_and_padded_layouts_agree(fixture, request):
    """Per-token work on the real tokens only gives the padded layout's real rows."""
    path = request.getfixturevalue(fixture)
    model = T5EncoderModel.from_pretrained(str(path), dtype=torch.float32).eval()
    fast = FastT5Forward(model)
    ids, mask = _batch(model.config.vocab_size, [2, 11, 5, 11, 1])
    with torch.inference_mode():
        fast.unpad_below = 1.01  # always unpad
        unpadded = fast(ids, mask)
        fast.unpad_below = 0.0  # never
        padded = fast(ids, mask)
    torch.testing.assert_close(unpadded[mask], padded[mask], atol=1e-5, rtol=1e-4)
    assert not unpadded[~mask].any()  # padded positions are zero in the unpadded layout
