"""The T5 encoder forward pass, written for inference.

:class:`FastT5Forward` runs a loaded ``T5EncoderModel`` (or ``MT5EncoderModel``) with the same
math as transformers' ``T5Stack``, minus what an encoder at inference never needs:

* **Fused projections**: q, k and v are one matmul (one ``(3 x inner, d_model)`` weight), and the
  two input projections of a gated feed-forward (``wi_0``, ``wi_1``) are one matmul.
* **The attention bias once per batch**: T5's relative-position bias depends only on the
  sequence length, so it is cached per length; the padding mask is folded into it once per
  forward pass, not once per layer.
* **No work on padding (CPU)**: norms, projections and the feed-forward run on the real
  tokens only, gathered into one matrix; only attention sees the padded layout. A burst of
  single queries of mixed lengths, padded to the longest, is where this matters most.
* **Residuals inside the matmuls**: ``hidden + o(x)`` and ``hidden + wo(x)`` are one ``addmm``
  each (BLAS adds the residual as it writes the product), and ReLU runs in place.
* **Attention through** ``F.scaled_dot_product_attention`` with T5's additive bias as its
  ``attn_mask`` (``scale=1``: T5 does not scale scores). On CUDA that bias rules out the flash
  kernel; the memory-efficient (or cuDNN) kernel takes it, as benchmarks/encode.py reports.
* **No host synchronisation off CPU**: on a GPU nothing in the pass reads a device value on the
  host (no ``.item()``, ``nonzero`` or boolean indexing), so the worker can queue the next batch
  while this one runs, and the pass can be captured as a CUDA graph
  (:mod:`t5_vectors.encoder._graphs`). Whether a batch has padding is told by the caller, who
  knows the lengths on the host (``padded=``); when it is not told, a CPU pass looks at the mask
  and a GPU pass folds the mask in anyway.
* **No dropout, cache, decoder or fp16-clamp branches**, and no per-layer Python dispatch through
  ``nn.Module.__call__`` hooks.

Numerics follow T5LayerNorm exactly on CPU: the RMS is taken in float32 and the result is cast
back to the weights' dtype before the weight multiplies it (bfloat16 stays bfloat16 between
layers). Off CPU, bfloat16 norms run as one fused ``F.rms_norm`` (float32 inside, the weight
applied before the single cast back): the same math with one rounding fewer, where the exact
form costs six passes over the activations (:attr:`FastT5Forward.fused_norm`). float16 is not
run here (T5 keeps ``wo`` in float32 for it); :func:`supports_fast_forward` says which models are.

:func:`install_fast_forward` makes it the model's own ``forward`` (on that instance), so the
encoder, ``encoder.model(...)`` and anything that wraps ``model.forward`` all run one forward
pass; calls with arguments it does not handle (``inputs_embeds``, ``output_attentions``, ...)
go to transformers' original.

``quantize_int8`` turns the projections into int8 ones (int8 weights per output channel, int8
activations per token; :mod:`t5_vectors.encoder._int8`), layer by layer as measured on
calibration texts: input channels smoothed where that lowers the error, a projection kept in
float32 where int8 would still miss. Norms, attention and activations stay float32.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from t5_vectors._checks import of_type
from t5_vectors.encoder._int8 import (
    DEFAULT_MAX_ERROR,
    Int8Choice,
    Int8Linear,
    Recorder,
    plan_int8,
)

# Position biases kept per sequence length (each is heads x n x n in the compute dtype), up to
# this many bytes in all (the newest is always kept): T5-base at n = 512 takes 12 MiB in fp32.
_BIAS_CACHE_BYTES = 64 * 2**20


def _activation(name: str) -> Any:
    """The feed-forward activation of a T5 config (``dense_act_fn``) as a function.

    ReLU runs in place (its input is a fresh matmul output that nothing else reads).
    """
    if name == "relu":
        return torch.relu_
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return lambda x: F.gelu(x, approximate="tanh")
    if name == "gelu":
        return F.gelu
    if name in ("silu", "swish"):
        return F.silu
    from transformers.activations import ACT2FN

    return ACT2FN[name]


def supports_fast_forward(model: Any) -> bool:
    """Whether *model* is a T5/mT5 encoder this module can run (float32 or bfloat16 weights)."""
    encoder = getattr(model, "encoder", None)
    config = getattr(model, "config", None)
    if encoder is None or config is None or not hasattr(encoder, "block"):
        return False
    if getattr(config, "model_type", "") not in ("t5", "mt5"):
        return False
    dtypes = {p.dtype for p in model.parameters()}
    return dtypes in ({torch.float32}, {torch.bfloat16})


class _Layer(nn.Module):
    """One T5 block: self-attention and feed-forward, each pre-normed with a residual."""

    def __init__(self, block: Any, *, gated: bool) -> None:
        super().__init__()
        attn = block.layer[0].SelfAttention
        ff = block.layer[1].DenseReluDense
        self.attn_norm = block.layer[0].layer_norm.weight
        self.ff_norm = block.layer[1].layer_norm.weight
        self.attn_eps = float(block.layer[0].layer_norm.variance_epsilon)
        self.ff_eps = float(block.layer[1].layer_norm.variance_epsilon)
        self.qkv = _fused_linear(attn.q, attn.k, attn.v)
        self.o: nn.Module = attn.o
        self.wi = _fused_linear(ff.wi_0, ff.wi_1) if gated else ff.wi
        self.wo: nn.Module = ff.wo
        self.heads = int(attn.n_heads)
        self.d_kv = int(attn.key_value_proj_dim)


def _fused_linear(*parts: nn.Linear) -> nn.Linear:
    """One bias-free linear layer whose output is the concatenation of *parts*' outputs."""
    weight = torch.cat([p.weight.detach() for p in parts], dim=0)
    fused = nn.Linear(weight.shape[1], weight.shape[0], bias=False, device=weight.device)
    fused.weight = nn.Parameter(weight.to(parts[0].weight.dtype), requires_grad=False)
    return fused


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float, *, fused: bool) -> torch.Tensor:
    """T5LayerNorm: scale by the float32 RMS, cast to the weight's dtype, multiply by weight.

    With *fused* (or in float32, where both are the same), one ``F.rms_norm``: float32 inside,
    the weight applied before the one cast back (one rounding fewer than T5's order).
    """
    if fused or x.dtype == torch.float32:
        return F.rms_norm(x, (x.shape[-1],), weight, eps)
    x32 = x.float()
    scaled = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return weight * scaled.to(weight.dtype)


def _add_linear(hidden: torch.Tensor, x: torch.Tensor, linear: nn.Module) -> torch.Tensor:
    """``hidden + linear(x)``: one ``addmm`` for a plain linear layer (2-D *hidden*)."""
    if isinstance(linear, nn.Linear) and linear.bias is None:
        weight: torch.Tensor = linear.weight
        return torch.addmm(hidden, x, weight.t())
    if isinstance(linear, Int8Linear):
        return linear.add_to(hidden, x)
    out: torch.Tensor = hidden + linear(x)  # calibration recorders
    return out


def _plain_linear(weight: torch.Tensor) -> nn.Linear:
    """A bias-free float32 linear layer holding *weight* (a fresh copy)."""
    linear = nn.Linear(weight.shape[1], weight.shape[0], bias=False, device=weight.device)
    linear.weight = nn.Parameter(weight.detach().clone(), requires_grad=False)
    return linear


class FastT5Forward(nn.Module):
    """``last_hidden_state`` of a T5 encoder, computed as described in the module docstring.

    The fused weights are copies (the model's own parameters are left untouched, so saving the
    model still writes the standard layout); they cost the size of the attention and gated
    input projections once more in memory.

    Args:
        model: a loaded ``T5EncoderModel`` / ``MT5EncoderModel`` in float32 or bfloat16.
    """

    def __init__(self, model: Any) -> None:
        super().__init__()
        if not supports_fast_forward(model):
            raise ValueError(
                "FastT5Forward: expected a T5/mT5 encoder with float32 or bfloat16 weights, found "
                f"{type(model).__name__}. Run the model itself instead."
            )
        config = model.config
        encoder = model.encoder
        self.embed = encoder.embed_tokens
        gated = bool(getattr(config, "is_gated_act", False))
        self.act_name = str(getattr(config, "dense_act_fn", "relu"))
        self.act = _activation(self.act_name)
        self.gated = gated
        self.layers = nn.ModuleList(_Layer(block, gated=gated) for block in encoder.block)
        self.final_norm = encoder.final_layer_norm.weight
        self.final_eps = float(encoder.final_layer_norm.variance_epsilon)
        first = encoder.block[0].layer[0].SelfAttention
        self.relative_bias = first.relative_attention_bias
        self.num_buckets = int(first.relative_attention_num_buckets)
        self.max_distance = int(first.relative_attention_max_distance)
        self.heads = int(first.n_heads)
        self.dtype = self.final_norm.dtype
        self._bias_cache: OrderedDict[tuple[int, str], torch.Tensor] = OrderedDict()
        self._bias_lock = threading.Lock()
        self.quantized = False
        #: What :meth:`quantize_int8` chose for each projection (empty before it runs).
        self.int8_choices: tuple[Int8Choice, ...] = ()
        #: Norms as one fused ``F.rms_norm`` in bfloat16 (see the module docstring): ``None``
        #: (default) fuses off CPU only; ``True`` / ``False`` force it either way.
        self.fused_norm: bool | None = None

    # ------------------------------------------------------------------------ position bias
    def position_bias(self, length: int, device: torch.device) -> torch.Tensor:
        """The relative-position bias for *length* tokens, ``(1, heads, length, length)``.

        Computed once per (length, device) and kept in an LRU cache of at most 64 MiB.
        """
        key = (length, str(device))
        with self._bias_lock:
            cached = self._bias_cache.get(key)
            if cached is not None:
                self._bias_cache.move_to_end(key)
                return cached
        positions = torch.arange(length, dtype=torch.long, device=device)
        relative = positions[None, :] - positions[:, None]
        buckets = relative_position_bucket(
            relative, num_buckets=self.num_buckets, max_distance=self.max_distance
        )
        table: torch.Tensor = self.relative_bias(buckets)
        bias = table.permute(2, 0, 1).unsqueeze(0).to(self.dtype)
        with self._bias_lock:
            self._bias_cache[key] = bias
            total = sum(t.numel() * t.element_size() for t in self._bias_cache.values())
            while total > _BIAS_CACHE_BYTES and len(self._bias_cache) > 1:
                _, dropped = self._bias_cache.popitem(last=False)
                total -= dropped.numel() * dropped.element_size()
        return bias

    def attention_bias(
        self, attention_mask: torch.Tensor, *, padded: bool | None = None
    ) -> torch.Tensor:
        """Position bias plus the padding mask, ``(batch, heads, n, n)`` (or ``(1, ...)``).

        Padded key positions get the dtype's lowest value, as transformers' mask does.
        *padded* says whether any position is masked; ``None`` looks at the mask on CPU and
        assumes padding elsewhere (reading the mask there would wait for the device).
        """
        batch, length = attention_mask.shape
        bias = self.position_bias(length, attention_mask.device)
        if padded is None:
            padded = attention_mask.device.type != "cpu" or not bool(attention_mask.all())
        if not padded:
            return bias
        masked = torch.zeros((batch, 1, 1, length), dtype=self.dtype, device=bias.device)
        masked.masked_fill_(~attention_mask.bool()[:, None, None, :], torch.finfo(self.dtype).min)
        return bias + masked

    # -------------------------------------------------------------------------------- int8
    def quantize_int8(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        *,
        max_error: float = DEFAULT_MAX_ERROR,
    ) -> tuple[Int8Choice, ...]:
        """Quantize the projections to int8 as measured on calibration tokens (CPU, float32).

        Runs one float32 pass over *input_ids* (``(batch, n)``, under *attention_mask*) while
        recording each projection's input, then chooses per projection: smoothed or not, int8
        or float32 (see :mod:`t5_vectors.encoder._int8`). The model's own weights are left
        untouched (norm weights and projections are replaced by copies). Returns the choices
        (also kept in :attr:`int8_choices`).
        """
        if self.dtype != torch.float32:
            raise ValueError(
                f"int8 quantization: expected float32 weights, found {self.dtype}. Load the "
                "model in float32 before quantizing."
            )
        layers = [layer for layer in self.layers if isinstance(layer, _Layer)]
        names = ("qkv", "o", "wi", "wo")
        recorders = [{name: Recorder(getattr(layer, name)) for name in names} for layer in layers]
        for layer, recorded in zip(layers, recorders, strict=True):
            for name, recorder in recorded.items():
                setattr(layer, name, recorder)
        try:
            with torch.inference_mode():
                self(input_ids, attention_mask)
        finally:
            for layer, recorded in zip(layers, recorders, strict=True):
                for name, recorder in recorded.items():
                    setattr(layer, name, recorder.linear)
        smoothable = {
            "qkv": True,
            "o": True,
            "wi": True,
            # wo's input is act(wi x): a positive row scale of wi passes through ReLU and
            # through the linear half of a gated layer, not through GELU alone.
            "wo": self.gated or self.act_name == "relu",
        }
        choices: list[Int8Choice] = []
        for index, (layer, recorded) in enumerate(zip(layers, recorders, strict=True)):
            weights = {name: _weight(getattr(layer, name)) for name in names}
            plan = plan_int8(recorded, weights, smoothable, layer=index, max_error=max_error)
            self._apply_int8(layer, plan)
            choices.extend(choice for _candidate, choice in plan.values())
        self.quantized = True
        self.int8_choices = tuple(choices)
        return self.int8_choices

    def _apply_int8(self, layer: _Layer, plan: dict[str, Any]) -> None:
        """Fold the chosen smoothing into copies of the layer's weights and swap the modules."""
        qkv, o, wi, wo = (plan[name][0] for name in ("qkv", "o", "wi", "wo"))
        attn_norm = layer.attn_norm.detach().clone()
        ff_norm = layer.ff_norm.detach().clone()
        qkv_weight = qkv.weight.clone()
        wi_weight = wi.weight.clone()
        if qkv.factors is not None:
            attn_norm /= qkv.factors
        if wi.factors is not None:
            ff_norm /= wi.factors
        if o.factors is not None:  # context = softmax(...) v: v's rows carry the division
            inner = layer.heads * layer.d_kv
            qkv_weight[2 * inner :] /= o.factors[:, None]
        if wo.factors is not None:  # the linear half of a gated wi, or all of a ReLU wi
            start = wi_weight.shape[0] // 2 if self.gated else 0
            wi_weight[start:] /= wo.factors[:, None]
        layer.attn_norm = nn.Parameter(attn_norm, requires_grad=False)
        layer.ff_norm = nn.Parameter(ff_norm, requires_grad=False)
        final = {"qkv": qkv_weight, "o": o.weight, "wi": wi_weight, "wo": wo.weight}
        for name, weight in final.items():
            use_int8 = plan[name][1].int8
            setattr(layer, name, Int8Linear(weight) if use_int8 else _plain_linear(weight))

    # ----------------------------------------------------------------------------- forward
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        *,
        padded: bool | None = None,
    ) -> torch.Tensor:
        """``last_hidden_state`` for *input_ids* ``(batch, n)`` under a bool or 0/1 mask.

        *padded* tells whether any position is masked (see :meth:`attention_bias`); pass
        ``False`` only when none is. On CPU, when padding is more than :attr:`unpad_below` of
        the batch, the per-token work (norms, projections, feed-forward) runs on the real
        tokens only, gathered into one ``(tokens, d_model)`` matrix; attention runs on the
        padded layout. Padded positions of the result are then zero (transformers leaves
        values there that nothing should read). Off CPU the pass never synchronises with the
        host (see the module docstring).
        """
        mask = attention_mask.bool()
        bias = self.attention_bias(mask, padded=padded)
        batch, length = input_ids.shape
        cpu = input_ids.device.type == "cpu"
        fused = not cpu if self.fused_norm is None else self.fused_norm
        real: torch.Tensor | None = None
        if cpu and batch > 1 and padded is not False:
            flat_mask = mask.reshape(-1)
            count = int(flat_mask.sum())
            if count < self.unpad_below * flat_mask.numel():
                real = flat_mask.nonzero().squeeze(1)
        if real is None:
            hidden = self.embed(input_ids).reshape(batch * length, -1)
        else:
            hidden = self.embed(input_ids.reshape(-1)[real])
        for module in self.layers:
            layer = of_type(module, _Layer, "an encoder layer")
            context = self._attend(layer, hidden, bias, real, batch, length, fused)
            hidden = _add_linear(hidden, context, layer.o)
            normed = _rms_norm(hidden, layer.ff_norm, layer.ff_eps, fused=fused)
            inner = layer.wi(normed)
            if self.gated:
                gate, linear = inner.chunk(2, dim=-1)
                inner = self.act(gate) * linear
            else:
                inner = self.act(inner)
            hidden = _add_linear(hidden, inner, layer.wo)
        hidden = _rms_norm(hidden, self.final_norm, self.final_eps, fused=fused)
        if real is None:
            return hidden.view(batch, length, -1)
        out = hidden.new_zeros((batch * length, hidden.shape[-1]))
        out.index_copy_(0, real, hidden)
        return out.view(batch, length, -1)

    #: Unpad (see :meth:`forward`) when real tokens are fewer than this share of the batch.
    unpad_below = 0.9

    def _attend(
        self,
        layer: _Layer,
        hidden: torch.Tensor,
        bias: torch.Tensor,
        real: torch.Tensor | None,
        batch: int,
        length: int,
        fused: bool,
    ) -> torch.Tensor:
        """Self-attention of one layer; *hidden* is ``(batch * n, d)`` or the real rows only."""
        normed = _rms_norm(hidden, layer.attn_norm, layer.attn_eps, fused=fused)
        qkv = layer.qkv(normed)
        if real is not None:
            padded = qkv.new_zeros((batch * length, qkv.shape[-1]))
            padded.index_copy_(0, real, qkv)
            qkv = padded
        q, k, v = qkv.view(batch, length, 3, layer.heads, layer.d_kv).permute(2, 0, 3, 1, 4)
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0)
        context = context.transpose(1, 2).reshape(batch * length, layer.heads * layer.d_kv)
        return context if real is None else context.index_select(0, real)


def _weight(module: nn.Module) -> torch.Tensor:
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor):
        raise ValueError(f"int8 quantization: expected a float32 linear layer, found {module!r}.")
    return weight


def install_fast_forward(model: Any) -> FastT5Forward | None:
    """Run *model* through a :class:`FastT5Forward` from now on; ``None`` if it is not supported.

    The instance's ``forward`` is replaced (the class is untouched): ``input_ids`` with an
    optional ``attention_mask`` (and the fast path's own ``padded`` hint, see
    :meth:`FastT5Forward.forward`) take the fast path and return a ``BaseModelOutput``; any other
    argument goes to the original forward.
    """
    if not supports_fast_forward(model):
        return None
    from transformers.modeling_outputs import BaseModelOutput

    fast = FastT5Forward(model).eval()
    original = model.forward

    def forward(
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        padded: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        if input_ids is None or any(value is not None for value in kwargs.values()):
            return original(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        if attention_mask is None:
            attention_mask, padded = torch.ones_like(input_ids, dtype=torch.bool), False
        return BaseModelOutput(last_hidden_state=fast(input_ids, attention_mask, padded=padded))

    model.forward = forward
    return fast


def relative_position_bucket(
    relative_position: torch.Tensor, *, num_buckets: int, max_distance: int
) -> torch.Tensor:
    """T5's bidirectional relative-position buckets (as transformers' ``T5Attention``)."""
    num_buckets //= 2
    buckets = (relative_position > 0).to(torch.long) * num_buckets
    distance = torch.abs(relative_position)
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    large = max_exact + (
        torch.log(distance.float() / max_exact)
        / math.log(max_distance / max_exact)
        * (num_buckets - max_exact)
    ).to(torch.long)
    large = torch.minimum(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(is_small, distance, large)
