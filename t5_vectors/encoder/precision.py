"""Device and dtype choice.

``dtype="auto"`` picks bfloat16 where the hardware multiplies it natively (Ampere or newer GPUs;
CPUs with AVX512-BF16 or AMX) and float32 everywhere else. It never picks float16: T5 was trained
in bfloat16 and its activations overflow float16's range (inf/NaN). float16 is used only when asked
for, and then T5's ``wo`` projections stay in float32 (transformers' ``_keep_in_fp32_modules``).

``"int8"`` (CPU only, never chosen by ``"auto"``) loads float32 weights and then quantizes the
encoder's projections (int8 weights per output channel, int8 activations per token, layer by
layer as calibration measures: :meth:`FastT5Forward.quantize_int8`); it resolves to
``torch.qint8``.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

import torch

from t5_vectors.errors import InvalidInputError

_DTYPE_NAMES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "int8": torch.qint8,
    "qint8": torch.qint8,
}


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU has native bfloat16 matrix instructions (AVX512-BF16 or AMX-BF16).

    ``T5_VECTORS_CPU_BF16=0|1`` overrides the detection.
    """
    override = os.environ.get("T5_VECTORS_CPU_BF16")
    if override is not None:
        return override.strip().lower() in {"1", "true", "yes", "on"}
    if platform.system() != "Linux" or platform.machine() not in {"x86_64", "AMD64"}:
        return False
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return bool(flags & {"avx512_bf16", "amx_bf16"})
    return False


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or a device into a device."""
    if isinstance(device, torch.device):
        resolved = device
    elif not isinstance(device, str):
        raise InvalidInputError(
            f"device: expected 'auto', 'cpu', 'cuda', 'cuda:N', 'mps' or a torch.device, "
            f"found {type(device).__name__}."
        )
    elif device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    else:
        try:
            resolved = torch.device(device)
        except RuntimeError as err:
            raise InvalidInputError(
                f"device: expected 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', found {device!r}."
            ) from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(
            f"device: {str(resolved)!r} was asked for, but this torch build sees no CUDA GPU "
            f"(torch {torch.__version__}). Use device='auto' or 'cpu', or install a CUDA build "
            "of torch before t5-vectors."
        )
    return resolved


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """Resolve ``"auto"`` or a dtype name for *device* (see the module docstring)."""
    if isinstance(dtype, torch.dtype):
        resolved = dtype
    elif isinstance(dtype, str) and dtype.lower() == "auto":
        return _auto_dtype(device)
    elif isinstance(dtype, str) and dtype.lower() in _DTYPE_NAMES:
        resolved = _DTYPE_NAMES[dtype.lower()]
    else:
        raise InvalidInputError(
            "dtype: expected 'auto', 'float32', 'bfloat16', 'float16' or 'int8' (or a torch "
            f"dtype), found {dtype!r}."
        )
    if resolved == torch.qint8:
        if device.type != "cpu":
            raise InvalidInputError(
                f"dtype: 'int8' runs on CPU only, found device {str(device)!r}. Use "
                "device='cpu' with dtype='int8', or dtype='auto' on this device."
            )
        return resolved
    if resolved not in (torch.float32, torch.bfloat16, torch.float16):
        raise InvalidInputError(
            "dtype: expected a floating dtype (float32, bfloat16, float16) or 'int8', found "
            f"{resolved}."
        )
    return resolved


def _auto_dtype(device: torch.device) -> torch.dtype:
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        major, _minor = torch.cuda.get_device_capability(index)
        return torch.bfloat16 if major >= 8 else torch.float32
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    return torch.float32
