"""Loading a checkpoint's parts: tokenizer, T5 weights, the pooling/Dense head, default budgets.

:func:`load_tokenizer`, :func:`load_model` and :func:`build_head` are what
:meth:`T5Encoder.from_pretrained` runs once the checkpoint folder is known and read
(:mod:`t5_vectors.encoder._checkpoint`). Weights load through safetensors or
``torch.load(weights_only=True)`` only; a pickle that needs more is refused.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from t5_vectors.encoder._checkpoint import CheckpointSpec, read_safetensors, read_state_dict
from t5_vectors.encoder.pooling import DenseLayer, EmbeddingHead, Pooler, normalize_pooling_modes
from t5_vectors.errors import ModelLoadError, UnsafeCheckpointError


def default_budget(device: torch.device) -> tuple[int, int, float]:
    """(token_budget, max_batch_size, max_wait_ms) per forward pass.

    GPUs want large batches. CPUs do better with small ones, whose activations stay in cache: on
    a 2-core AVX512-BF16 machine T5-base ran 1.2-1.3x faster at 1,024 tokens than at 2,048 and
    2.0-2.3x faster than at 8,192 (benchmarks/budget.py, docs/benchmarks.md).
    """
    if device.type == "cuda":
        return 65536, 1024, 2.0
    return 1024, 64, 10.0


def compute_dtype(model: torch.nn.Module) -> torch.dtype:
    """The dtype most of *model*'s parameters have (float16 models keep ``wo`` in float32)."""
    dtypes = [p.dtype for p in model.parameters()]
    return max(set(dtypes), key=dtypes.count)


def tokenizer_limit(tokenizer: Any) -> int:
    """The tokenizer's ``model_max_length`` when it is a sane number, else 512."""
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 2 <= limit <= 100_000:
        return limit
    return 512


def load_tokenizer(spec: CheckpointSpec) -> Any:
    """The checkpoint's tokenizer (fast when the folder allows)."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(spec.transformer_dir))
    except (OSError, ValueError, TypeError) as err:
        raise ModelLoadError(
            f"Expected a loadable T5 tokenizer in {spec.transformer_dir}, found an error: {err}. "
            "Save the tokenizer next to the model, or copy spiece.model from the original "
            "checkpoint."
        ) from err


def load_model(spec: CheckpointSpec, dtype: torch.dtype, device: torch.device) -> Any:
    """The T5 (or mT5) encoder of *spec* in *dtype* on *device*, decoder weights ignored.

    ``torch.qint8`` loads float32 weights; the encoder quantizes the forward pass.
    """
    from safetensors import SafetensorError
    from transformers import MT5EncoderModel, T5EncoderModel
    from transformers.utils import logging as hf_logging_module

    hf_logging: Any = hf_logging_module

    model_cls: Any = MT5EncoderModel if spec.model_type == "mt5" else T5EncoderModel
    bar_enabled = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        model = model_cls.from_pretrained(
            str(spec.transformer_dir),
            dtype=torch.float32 if dtype == torch.qint8 else dtype,
            attn_implementation="sdpa",
        )
    except pickle.UnpicklingError as err:  # torch.load(weights_only=True) refused the file
        raise UnsafeCheckpointError(
            f"Refused to load the weights in {spec.transformer_dir}: expected a pickle of "
            "tensors only, found other objects (loading them would execute code from the file) "
            "or a corrupt file. Use model.safetensors from a trusted copy of the checkpoint."
        ) from err
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as err:
        raise ModelLoadError(
            f"Expected loadable T5 weights in {spec.transformer_dir}, found an error: "
            f"{type(err).__name__}: {err}. The checkpoint is incomplete or corrupt: download or "
            "save it again."
        ) from err
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar_enabled:
            hf_logging.enable_progress_bar()
    return model.to(device)


def build_head(spec: CheckpointSpec, pooling: str | Sequence[str] | None) -> EmbeddingHead:
    """The pooling → Dense → Normalize head of *spec*, with its weights loaded."""
    modes = spec.pooling if pooling is None else normalize_pooling_modes(pooling)
    pooler = Pooler(modes, spec.d_model, attention_hidden_size=spec.attention_hidden_size)
    denses = [
        DenseLayer(d.in_features, d.out_features, bias=d.bias, activation=d.activation)
        for d in spec.denses
    ]
    head = EmbeddingHead(pooler, denses, normalize=spec.normalize)
    if spec.layout == "t5-vectors" and spec.head_weights is not None:
        state = read_safetensors(spec.head_weights)
        if pooling is not None and modes != spec.pooling:
            state = {k: v for k, v in state.items() if not k.startswith("pooler.")}
        _load_into(
            head, state, strict=pooling is None or modes == spec.pooling, where=spec.head_weights
        )
    for dense, dense_spec in zip(denses, spec.denses, strict=True):
        if dense_spec.folder is not None:
            _load_into(
                dense, read_state_dict(dense_spec.folder), strict=True, where=dense_spec.folder
            )
    return head


def _load_into(
    module: torch.nn.Module, state: dict[str, torch.Tensor], *, strict: bool, where: Path
) -> None:
    try:
        module.load_state_dict({k: v.float() for k, v in state.items()}, strict=strict)
    except RuntimeError as err:
        raise ModelLoadError(
            f"Expected weights in {where} to match the module's config, found a mismatch: {err}"
        ) from err
