"""int8 linear layers for the CPU forward pass, and the recipe that decides layer by layer.

:class:`Int8Linear` multiplies with **int8 weights per output channel** and **int8 activations
per token**, on PyTorch's own quantized kernel (``quantized::linear_dynamic``: FBGEMM on x86,
using VNNI or AMX where the CPU has them, AVX2 elsewhere). That kernel quantizes its input with
one scale for the whole matrix; each row (token) is first divided by its own absolute maximum,
so every token spans the same range and the kernel's one scale is, in effect, a scale per token.
The output rows are multiplied back by the same factors (fused with the residual add where there
is one).

T5 checkpoints have activation outliers: a few channels of the inputs to the projections run
tens to hundreds of times larger than the rest (Hugging Face keeps ``wo`` in float32 for float16
because of them). With one scale per token, such a channel leaves the others a few levels each.
:func:`plan_int8` measures, on calibration texts, each projection's input and decides per layer:

1. **Smoothing** (SmoothQuant, alpha 0.5): divide each input channel by ``s_j = sqrt(max|x_j| /
   max|W_j|)`` and multiply the weight's column by it. The division is folded, exactly, into
   what produced the input: the RMS-norm weight (for ``qkv`` and ``wi``), the ``v`` rows of
   ``qkv`` (for ``o``: attention is linear in ``v``), the rows of ``wi`` (for ``wo`` after
   ReLU, which commutes with a positive scale) or of the linear half of a gated ``wi``. So the
   float32 function is unchanged and the forward pass does no extra work.
2. **Measure**: each projection is quantized with and without smoothing; its relative output
   error ``|y_int8 - y| / |y|`` on the calibration inputs picks the better one.
3. **Keep float32 where measured**: a projection whose error is still above ``max_error``
   stays a float32 matmul (with the smoothing, which changes nothing in float32).

Per-output-channel weight scales are unchanged by scaling a weight's rows, so the choices of the
four projections of a layer do not interact.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from t5_vectors._checks import ensured

#: A projection stays float32 when its int8 output error on calibration inputs is above this.
DEFAULT_MAX_ERROR = 0.05

#: Texts the encoder runs once, in float32, to measure activations before quantizing.
CALIBRATION_TEXTS: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog.",
    "Vector databases store embeddings and search them by similarity.",
    "T5 is an encoder-decoder transformer trained on a mixture of tasks.",
    "Retrieval augmented generation feeds retrieved passages to a language model, which then "
    "answers the question with the passages in its context.",
    "Qdrant keeps points with vectors and a JSON payload in collections.",
    "Sentence embeddings map a whole text to one fixed-size vector.",
    "Hello world! Numbers like 42 and 3.14 appear in text, too.",
    "Ingestion jobs read files, split them into chunks and upload the vectors in batches, "
    "retrying the writes that fail and skipping the chunks that were stored before.",
    "What is the capital of France?",
    "def add(a, b):\n    return a + b",
    "Mean pooling averages the token vectors, ignoring the padding positions; a dense layer and "
    "a normalisation follow in sentence-transformers checkpoints.",
    "The committee will meet on Tuesday, 3 March, at 10:00 in room 204.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "She said she would call back, but the phone never rang.",
    "Prices rose 2.5% in the year to January, the smallest rise since 2021.",
    "error: expected a positive integer for --batch-size, found -1",
)


@contextmanager
def quantization_warnings_off() -> Iterator[None]:
    """Silence torch's deprecation warnings about quantized tensors inside the ``with``.

    ``torch.ao`` quantization and quantized tensors are marked deprecated in favour of torchao
    (not a dependency here); they still ship and work in the torch versions we support.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        yield


def int8_supported() -> bool:
    """Whether this torch has the x86 (FBGEMM) quantized kernels :class:`Int8Linear` runs on."""
    engines = torch.backends.quantized.supported_engines
    return "fbgemm" in engines or "x86" in engines


def _pack(weight: torch.Tensor) -> Any:
    """``weight`` (out, in) as int8 per output channel (symmetric), packed for the kernel."""
    weight = weight.detach().float().contiguous()
    scales = (weight.abs().amax(dim=1) / 127.0).clamp(min=1e-12).double()
    zeros = torch.zeros(weight.shape[0], dtype=torch.long)
    with quantization_warnings_off():
        quantized = torch.quantize_per_channel(weight, scales, zeros, 0, torch.qint8)
        return torch.ops.quantized.linear_prepack(quantized, None)


class Int8Linear(nn.Module):
    """A bias-free linear layer: int8 weights per output channel, int8 activations per token.

    Args:
        weight: the float32 weight ``(out_features, in_features)``; it is not kept.
    """

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.out_features, self.in_features = (int(n) for n in weight.shape)
        self._packed = _pack(weight)

    def _scaled(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x W^T / scale, scale)`` with *scale* each row's absolute maximum.

        After the division every row lies in [-1, 1]; the kernel is given the quantization
        range those rows span (from the per-row extremes, not another pass over *x*) over 7
        bits, as PyTorch's dynamic int8 layers do on x86 (``reduce_range``: the AVX2 u8 x s8
        pair sums cannot saturate).
        """
        if x.shape[0] == 0:
            return x.new_zeros((0, self.out_features)), x.new_ones((0, 1))
        high = x.amax(dim=-1, keepdim=True)
        low = x.amin(dim=-1, keepdim=True)
        scale = torch.maximum(high, low.neg()).clamp_(min=1e-30)
        top = min(max(float((high / scale).max()), 0.0), 1.0)
        bottom = max(min(float((low / scale).min()), 0.0), -1.0)
        step = max(top - bottom, 1e-6) / 127.0
        zero = round(-bottom / step)
        out = torch.ops.quantized.linear_with_input_q_dq_qweight_dq_output_fp32(
            x / scale, step, zero, self._packed
        )
        return out, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, scale = self._scaled(x)
        return out.mul_(scale)

    def add_to(self, hidden: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``hidden + self(x)`` in one pass over the output."""
        out, scale = self._scaled(x)
        return torch.addcmul(hidden, out, scale)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


class Recorder(nn.Module):
    """Wraps a float32 linear layer during calibration: records what its input looks like.

    Keeps each input channel's absolute maximum and the input rows (calibration is small).
    """

    def __init__(self, linear: nn.Module) -> None:
        super().__init__()
        self.linear = linear
        self.channel_max: torch.Tensor | None = None
        self.rows: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.detach().reshape(-1, x.shape[-1]).float()
        peak = flat.abs().amax(dim=0)
        self.channel_max = (
            peak if self.channel_max is None else torch.maximum(self.channel_max, peak)
        )
        self.rows.append(flat.clone())
        out: torch.Tensor = self.linear(x)
        return out

    def sample(self) -> torch.Tensor:
        return torch.cat(self.rows)


@dataclass(frozen=True)
class Int8Choice:
    """What the recipe chose for one projection.

    Attributes:
        layer: the block's index (0-based).
        name: ``"qkv"``, ``"o"``, ``"wi"`` or ``"wo"``.
        int8: whether it runs in int8 (else float32).
        smoothed: whether its input channels were smoothed (folded into the layer before).
        error: relative output error of the chosen int8 form on the calibration inputs
            (of the better int8 form when it was kept in float32).
        outlier_ratio: largest input channel maximum over the median one.
    """

    layer: int
    name: str
    int8: bool
    smoothed: bool
    error: float
    outlier_ratio: float

    @property
    def label(self) -> str:
        return f"{self.layer}.{self.name}"


def _relative_error(weight: torch.Tensor, x: torch.Tensor) -> float:
    """``|Int8Linear(weight)(x) - x W^T| / |x W^T|`` (0 for an all-zero reference)."""
    reference = x @ weight.t()
    approx = Int8Linear(weight)(x)
    norm = float(reference.norm())
    return float((approx - reference).norm()) / norm if norm > 0 else 0.0


def smoothing_factors(channel_max: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """SmoothQuant's ``s_j = sqrt(max|x_j| / max|W_j|)``, 1 where a channel is all zero."""
    weight_max = weight.detach().abs().amax(dim=0).float()
    factors = (channel_max.clamp(min=1e-8) / weight_max.clamp(min=1e-8)).sqrt()
    dead = (channel_max <= 0) | (weight_max <= 0)
    return torch.where(dead, torch.ones_like(factors), factors).clamp(min=1e-4, max=1e4)


@dataclass(frozen=True)
class _Candidate:
    weight: torch.Tensor  # the (maybe smoothed) float32 weight
    factors: torch.Tensor | None  # the smoothing factors, None when not smoothed
    error: float


def choose(
    recorder: Recorder, weight: torch.Tensor, *, smoothable: bool, max_error: float
) -> tuple[_Candidate, bool]:
    """The better int8 form of one projection and whether it runs in int8 (see the docstring)."""
    channel_max = ensured(recorder.channel_max, "the recorded channel maxima")
    sample = recorder.sample()
    weight = weight.detach().float()
    plain = _Candidate(weight, None, _relative_error(weight, sample))
    best = plain
    if smoothable:
        factors = smoothing_factors(channel_max, weight)
        smoothed_weight = weight * factors
        error = _relative_error(smoothed_weight, sample / factors)
        if error < plain.error:
            best = _Candidate(smoothed_weight, factors, error)
    return best, math.isfinite(best.error) and best.error <= max_error


def outlier_ratio(channel_max: torch.Tensor) -> float:
    median = float(channel_max.median())
    return float(channel_max.max()) / median if median > 0 else math.inf


def plan_int8(
    recorders: dict[str, Recorder],
    weights: dict[str, torch.Tensor],
    smoothable: dict[str, bool],
    *,
    layer: int,
    max_error: float,
) -> dict[str, tuple[_Candidate, Int8Choice]]:
    """The choice for each projection of one layer (see the module docstring)."""
    out: dict[str, tuple[_Candidate, Int8Choice]] = {}
    for name, recorder in recorders.items():
        candidate, use_int8 = choose(
            recorder, weights[name], smoothable=smoothable[name], max_error=max_error
        )
        choice = Int8Choice(
            layer=layer,
            name=name,
            int8=use_int8,
            smoothed=candidate.factors is not None,
            error=candidate.error,
            outlier_ratio=outlier_ratio(ensured(recorder.channel_max, "the channel maxima")),
        )
        out[name] = (candidate, choice)
    return out
