"""Loading every supported layout, with parity against sentence-transformers on the same folder."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from t5_vectors import (
    InvalidInputError,
    ModelLoadError,
    ModelNotFoundError,
    NotT5CheckpointError,
    T5Encoder,
    UnsafeCheckpointError,
)
from t5_vectors.testing import build_sentence_transformers_checkpoint, build_t5_checkpoint


def st_vectors(path: Path, texts: list[str], **kwargs) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu", **kwargs)
    return model.encode(texts, convert_to_numpy=True, batch_size=4)


def assert_parity(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.dtype == np.float32
    assert ours.shape == theirs.shape
    cos = (ours * theirs).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    assert cos.min() >= 0.99999, cos
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("fixture", ["t5_v10_path", "t5_v11_path", "st5_path"])
def test_parity_with_sentence_transformers(fixture, request, texts):
    path = request.getfixturevalue(fixture)
    with T5Encoder.from_pretrained(path, device="cpu", dtype="float32") as encoder:
        ours = encoder.encode(texts)
    assert_parity(ours, st_vectors(path, texts))


def test_raw_t5_defaults_to_mean_pooling_without_normalize(t5_v11_path):
    with T5Encoder.from_pretrained(t5_v11_path, device="cpu", dtype="float32") as encoder:
        assert encoder.config.pooling == ("mean",)
        assert encoder.config.normalize is False
        assert encoder.dim == encoder.d_model == 32
        assert encoder.spec is not None
        assert encoder.spec.layout == "t5"


def test_v10_and_v11_are_the_two_t5_families(t5_v10_path, t5_v11_path):
    v10 = json.loads((t5_v10_path / "config.json").read_text())
    v11 = json.loads((t5_v11_path / "config.json").read_text())
    assert (v10["feed_forward_proj"], v10["tie_word_embeddings"]) == ("relu", True)
    assert (v11["feed_forward_proj"], v11["tie_word_embeddings"]) == ("gated-gelu", False)


def test_sentence_transformers_layout_as_on_the_hub(st5_path):
    assert not (st5_path / "3_Normalize").exists()
    modules = json.loads((st5_path / "modules.json").read_text())
    assert modules[-1]["type"] == "sentence_transformers.models.Normalize"
    with T5Encoder.from_pretrained(st5_path, device="cpu", dtype="float32") as encoder:
        assert encoder.dim == 24
        assert encoder.config.normalize is True
        assert encoder.max_length == 64
        vectors = encoder.encode(["unit length please", "and this one"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize(
    ("options", "label"),
    [
        ({"module_types": "new"}, "new module type names"),
        ({"dense_format": "bin"}, "Dense weights as pytorch_model.bin"),
        ({"activation": None, "dense_bias": True}, "no activation_function means Tanh"),
        ({"activation": "torch.nn.modules.activation.ReLU"}, "ReLU Dense"),
        ({"pooling": "max"}, "max pooling"),
        ({"pooling": "cls"}, "cls pooling"),
        ({"pooling": "mean_sqrt_len_tokens"}, "mean_sqrt_len pooling"),
        ({"pooling": ("mean", "max")}, "concatenated modes"),
        ({"dense_out": None, "normalize": False}, "Pooling only"),
        ({"variant": "v1_1"}, "gated-gelu body"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_sentence_transformers_variants(tmp_path, texts, options, label):
    path = build_sentence_transformers_checkpoint(tmp_path / "st", seed=7, **options)
    with T5Encoder.from_pretrained(path, device="cpu", dtype="float32") as encoder:
        ours = encoder.encode(texts)
    assert_parity(ours, st_vectors(path, texts))


def test_absent_activation_is_tanh(tmp_path):
    path = build_sentence_transformers_checkpoint(tmp_path / "st", activation=None)
    with T5Encoder.from_pretrained(path, device="cpu", dtype="float32") as encoder:
        assert encoder.head.dense_layers[0].activation_name == "Tanh"


def test_prompts_from_config_are_query_and_document_prefixes(tmp_path):
    prompts = {"query": "query: ", "document": "passage: "}
    path = build_sentence_transformers_checkpoint(tmp_path / "st", prompts=prompts)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu")
    with T5Encoder.from_pretrained(path, device="cpu", dtype="float32") as encoder:
        assert encoder.config.query_prefix == "query: "
        assert_parity(
            encoder.encode(["what is t5"], kind="query"),
            model.encode(["what is t5"], prompt_name="query"),
        )
        assert_parity(
            encoder.encode(["t5 is a model"]),
            model.encode(["t5 is a model"], prompt_name="document"),
        )


def test_explicit_prefix_overrides(st5_path):
    with T5Encoder.from_pretrained(
        st5_path, device="cpu", dtype="float32", query_prefix="query: "
    ) as encoder:
        plain = encoder.encode(["query: what"], kind="document")
        prefixed = encoder.encode(["what"], kind="query")
    np.testing.assert_allclose(plain, prefixed, atol=1e-6)


def test_decoder_weights_are_ignored_quietly(t5_v10_path, caplog, capsys, recwarn):
    caplog.set_level(logging.DEBUG)
    with T5Encoder.from_pretrained(t5_v10_path, device="cpu", dtype="float32") as encoder:
        assert not hasattr(encoder.model, "decoder")
    noise = caplog.text + capsys.readouterr().err + " ".join(str(w.message) for w in recwarn)
    assert "decoder" not in noise.lower()
    assert "not used" not in noise.lower()


def test_fp16_weights_do_not_overflow(tmp_path):
    # Weights stored in float16 and scaled so the residual stream exceeds float16's range.
    path = build_t5_checkpoint(
        tmp_path / "fp16", variant="v1_1", dtype=torch.float16, scale=8.0, num_layers=4
    )
    texts = ["overflow is a known T5 problem in float16", "short"]
    with T5Encoder.from_pretrained(path, device="cpu", dtype="float32") as fp32:
        reference = fp32.encode_tokens(texts)
        assert max(float(np.abs(t).max()) for t in reference) < 1e4  # final layer norm output
        pooled32 = fp32.encode(texts)
        with torch.inference_mode():
            hidden = fp32.model(
                input_ids=torch.tensor([fp32.tokenize(texts[:1])[0]]), output_hidden_states=True
            ).hidden_states
        assert max(float(h.abs().max()) for h in hidden) > 65504  # fp16 would overflow
    assert np.isfinite(pooled32).all()
    # sentence-transformers keeps the stored float16 here unless told otherwise.
    assert_parity(pooled32, st_vectors(path, texts, model_kwargs={"dtype": torch.float32}))
    for dtype in ("auto", "bfloat16"):
        with T5Encoder.from_pretrained(path, device="cpu", dtype=dtype) as encoder:
            assert encoder.dtype in (torch.bfloat16, torch.float32)
            assert np.isfinite(encoder.encode(texts)).all()


def test_fp16_when_asked_keeps_wo_in_fp32(t5_v11_path):
    with T5Encoder.from_pretrained(t5_v11_path, device="cpu", dtype="float16") as encoder:
        ff = encoder.model.encoder.block[0].layer[1].DenseReluDense
        assert ff.wo.weight.dtype == torch.float32
        assert ff.wi_0.weight.dtype == torch.float16
        assert encoder.dtype == torch.float16
        assert encoder.encode(["half precision"]).dtype == np.float32


def test_dtype_auto_follows_hardware(t5_v11_path, monkeypatch):
    from t5_vectors.encoder import precision

    precision.cpu_has_native_bf16.cache_clear()
    monkeypatch.setenv("T5_VECTORS_CPU_BF16", "0")
    try:
        assert precision.resolve_dtype("auto", torch.device("cpu")) == torch.float32
        precision.cpu_has_native_bf16.cache_clear()
        monkeypatch.setenv("T5_VECTORS_CPU_BF16", "1")
        assert precision.resolve_dtype("auto", torch.device("cpu")) == torch.bfloat16
        with T5Encoder.from_pretrained(t5_v11_path, device="cpu") as encoder:
            assert encoder.dtype == torch.bfloat16
    finally:
        precision.cpu_has_native_bf16.cache_clear()


def test_bad_device_and_dtype():
    from t5_vectors.encoder.precision import resolve_device, resolve_dtype

    with pytest.raises(InvalidInputError, match="dtype"):
        resolve_dtype("int4", torch.device("cpu"))
    with pytest.raises(InvalidInputError, match="device"):
        resolve_device("tpu-please")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInputError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_save_and_load_round_trip(tmp_path, st5_path, texts):
    with T5Encoder.from_pretrained(st5_path, device="cpu", dtype="float32") as encoder:
        before = encoder.encode(texts)
        saved = encoder.save_pretrained(tmp_path / "saved")
    with T5Encoder.from_pretrained(saved, device="cpu", dtype="float32") as loaded:
        assert loaded.spec is not None
        assert loaded.spec.layout == "t5-vectors"
        assert loaded.config.max_length == 64
        np.testing.assert_allclose(loaded.encode(texts), before, atol=1e-6)


# ------------------------------------------------------------------------- errors a user can cause
def test_missing_local_folder(tmp_path):
    with pytest.raises(ModelNotFoundError, match="found nothing there"):
        T5Encoder.from_pretrained(tmp_path / "nope")


def test_hub_id_offline_says_how_to_pass_a_local_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelNotFoundError) as info:
        T5Encoder.from_pretrained("sentence-transformers/sentence-t5-base")
    message = str(info.value)
    assert "offline" in message
    assert "local" in message
    assert "from_pretrained('/path" in message


def test_local_files_only_overrides_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    with pytest.raises(ModelNotFoundError, match="local_files_only=True"):
        T5Encoder.from_pretrained(
            "google/t5-small-lm-adapt", local_files_only=True, cache_dir=tmp_path
        )


def test_not_a_t5_checkpoint(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8}))
    with pytest.raises(NotT5CheckpointError, match="model_type 'bert'"):
        T5Encoder.from_pretrained(tmp_path)


def test_folder_without_config(tmp_path):
    (tmp_path / "readme.txt").write_text("not a model")
    with pytest.raises(NotT5CheckpointError, match=r"config\.json"):
        T5Encoder.from_pretrained(tmp_path)


def test_folder_without_tokenizer(tmp_path, t5_v11_path):
    import shutil

    target = tmp_path / "no-tokenizer"
    shutil.copytree(t5_v11_path, target)
    for name in ("tokenizer.json", "spiece.model", "tokenizer_config.json"):
        (target / name).unlink(missing_ok=True)
    with pytest.raises(ModelLoadError, match="tokenizer"):
        T5Encoder.from_pretrained(target)


def test_truncated_weights(tmp_path, t5_v11_path):
    import shutil

    target = tmp_path / "truncated"
    shutil.copytree(t5_v11_path, target)
    weights = target / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelLoadError):
        T5Encoder.from_pretrained(target, device="cpu")


class _Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_malicious_pickle_in_dense_is_refused(tmp_path, capsys):
    path = build_sentence_transformers_checkpoint(tmp_path / "st", dense_format="bin")
    (path / "2_Dense" / "pytorch_model.bin").write_bytes(
        pickle.dumps({"linear.weight": _Exploit()})
    )
    with pytest.raises(UnsafeCheckpointError, match="execute code"):
        T5Encoder.from_pretrained(path, device="cpu")
    assert "this must never run" not in capsys.readouterr().out


def test_unknown_activation_is_refused(tmp_path):
    path = build_sentence_transformers_checkpoint(
        tmp_path / "st", activation="mypackage.evil.Activation"
    )
    with pytest.raises(InvalidInputError, match="activation_function"):
        T5Encoder.from_pretrained(path, device="cpu")


def test_unsupported_sentence_transformers_module(tmp_path):
    path = build_sentence_transformers_checkpoint(tmp_path / "st")
    modules = json.loads((path / "modules.json").read_text())
    modules.append(
        {"idx": 9, "name": "9", "path": "9_LSTM", "type": "sentence_transformers.models.LSTM"}
    )
    (path / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(NotT5CheckpointError, match="LSTM"):
        T5Encoder.from_pretrained(path, device="cpu")


def test_bad_pooling_name(t5_v11_path):
    with pytest.raises(InvalidInputError, match="pooling"):
        T5Encoder.from_pretrained(t5_v11_path, device="cpu", pooling="median")
