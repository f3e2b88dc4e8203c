"""The int8 recipe: per-token activations, per-channel weights, and activation outliers.

The outlier checkpoints (``build_t5_checkpoint(outlier_channels=2)``) compute the same function
as their plain twins in float32 but carry 100x channels at every projection's input, as trained
T5 v1.1 checkpoints do; a recipe that quantizes activations with one scale per matrix collapses
on them (tested below, so the checkpoints are known to stress int8), the encoder's must not.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import T5EncoderModel

from t5_vectors import T5Encoder
from t5_vectors.encoder._forward import FastT5Forward
from t5_vectors.encoder._int8 import Int8Linear
from t5_vectors.encoder._runner import stage_batch
from t5_vectors.testing import SAMPLE_SENTENCES, build_t5_checkpoint

TEXTS = list(SAMPLE_SENTENCES)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _build(directory, variant: str, outliers: int):
    return build_t5_checkpoint(
        directory,
        variant=variant,
        d_model=64,
        d_ff=128,
        num_layers=2,
        encoder_only=True,
        seed=5,
        outlier_channels=outliers,
    )


@pytest.fixture(scope="module", params=["v1_0", "v1_1"])
def twins(request, tmp_path_factory):
    """(plain, with outliers) checkpoints of one variant, same seed."""
    root = tmp_path_factory.mktemp(f"outliers-{request.param}")
    return _build(root / "plain", request.param, 0), _build(root / "outliers", request.param, 2)


def _encode(path, dtype: str) -> tuple[np.ndarray, T5Encoder]:
    encoder = T5Encoder.from_pretrained(path, device="cpu", dtype=dtype)
    try:
        return encoder.encode(TEXTS), encoder
    finally:
        encoder.close()


def test_outliers_keep_the_float32_function(twins):
    plain, outliers = twins
    a, _ = _encode(plain, "float32")
    b, _ = _encode(outliers, "float32")
    assert _cosines(a, b).min() > 0.99999


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_outlier_checkpoint_defeats_one_activation_scale_per_matrix(twins):
    """torch's quantize_dynamic (one activation scale per call, per-tensor weights) on the
    outlier checkpoint: the stress is real, so the next test can fail."""
    from torch.ao.quantization import quantize_dynamic
    from transformers import AutoTokenizer

    _, outliers = twins
    tokenizer = AutoTokenizer.from_pretrained(str(outliers))
    model = T5EncoderModel.from_pretrained(str(outliers), dtype=torch.float32).eval()
    quantized = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    mask = batch["attention_mask"][..., None].float()
    with torch.inference_mode():
        full = (model(**batch).last_hidden_state * mask).sum(1) / mask.sum(1)
        low = (quantized(**batch).last_hidden_state * mask).sum(1) / mask.sum(1)
    assert _cosines(full.numpy(), low.numpy()).min() < 0.9


def test_int8_recipe_holds_on_outliers(twins):
    _, outliers = twins
    reference, _ = _encode(outliers, "float32")
    vectors, encoder = _encode(outliers, "int8")
    assert not np.array_equal(vectors, reference)
    assert _cosines(vectors, reference).min() > 0.999
    choices = {choice.label: choice for choice in encoder.int8_choices}
    assert len(choices) == 8  # 2 layers x qkv, o, wi, wo
    for layer in (0, 1):
        for name in ("qkv", "wi", "wo"):  # the inputs the outliers were put in
            choice = choices[f"{layer}.{name}"]
            assert choice.outlier_ratio > 30
            assert choice.smoothed
            assert choice.int8
            assert choice.error < 0.05


def test_plain_checkpoints_run_every_projection_in_int8(twins):
    plain, _ = twins
    reference, _ = _encode(plain, "float32")
    vectors, encoder = _encode(plain, "int8")
    assert _cosines(vectors, reference).min() > 0.999
    assert all(choice.int8 for choice in encoder.int8_choices)


def test_float32_encoder_has_no_int8_choices(twins):
    _, encoder = _encode(twins[0], "float32")
    assert encoder.int8_choices == ()


def test_projection_over_the_error_bound_stays_float32(twins):
    """max_error=0: every projection misses it, so all stay float32 (smoothing folded in
    exactly) and the pass is float32's up to rounding."""
    _, outliers = twins
    model = T5EncoderModel.from_pretrained(str(outliers), dtype=torch.float32).eval()
    fast = FastT5Forward(model)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(outliers))
    ids, mask = stage_batch(tokenizer(TEXTS)["input_ids"], pad_id=0)
    with torch.inference_mode():
        before = fast(ids, mask)
    choices = fast.quantize_int8(ids, mask, max_error=0.0)
    assert choices
    assert not any(choice.int8 for choice in choices)
    with torch.inference_mode():
        after = fast(ids, mask)
    real = mask.numpy()
    np.testing.assert_allclose(after.numpy()[real], before.numpy()[real], rtol=1e-3, atol=1e-4)
    # the model's own weights were not smoothed in place
    reloaded = T5EncoderModel.from_pretrained(str(outliers), dtype=torch.float32)
    for (name, mine), (_, theirs) in zip(
        model.state_dict().items(), reloaded.state_dict().items(), strict=True
    ):
        assert torch.equal(mine, theirs), name


def test_activations_are_quantized_per_token():
    """A token 1000x larger than the others leaves their error where it was: one scale per
    token, not per matrix."""
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(48, 32, generator=generator)
    x = torch.randn(8, 32, generator=generator)
    loud = x.clone()
    loud[0] *= 1000
    layer = Int8Linear(weight)
    with torch.inference_mode():
        quiet_error = (layer(x)[1:] - x[1:] @ weight.t()).norm() / (x[1:] @ weight.t()).norm()
        loud_error = (layer(loud)[1:] - x[1:] @ weight.t()).norm() / (x[1:] @ weight.t()).norm()
    assert quiet_error < 0.03
    assert loud_error < 0.03


def test_weights_are_quantized_per_output_channel():
    """An output channel 1000x larger than the others leaves their error small."""
    generator = torch.Generator().manual_seed(1)
    weight = torch.randn(48, 32, generator=generator)
    weight[0] *= 1000
    x = torch.randn(8, 32, generator=generator)
    with torch.inference_mode():
        out = Int8Linear(weight)(x)
        hidden = torch.randn(8, 48, generator=generator)
        added = Int8Linear(weight).add_to(hidden, x)
    reference = x @ weight.t()
    rest = (out[:, 1:] - reference[:, 1:]).norm() / reference[:, 1:].norm()
    assert rest < 0.03
    torch.testing.assert_close(added, hidden + out)


def test_no_rows_in_no_rows_out():
    layer = Int8Linear(torch.randn(6, 4))
    with torch.inference_mode():
        assert layer(torch.zeros(0, 4)).shape == (0, 6)


def test_a_torch_without_x86_quantized_kernels_is_told_what_to_use(st5_path, monkeypatch):
    from t5_vectors import InvalidInputError
    from t5_vectors.encoder import core

    monkeypatch.setattr(core, "int8_supported", lambda: False)
    with pytest.raises(InvalidInputError, match="dtype: 'int8' runs on PyTorch's x86"):
        T5Encoder.from_pretrained(st5_path, device="cpu", dtype="int8")
