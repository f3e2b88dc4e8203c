"""Pooling token embeddings into one vector, and the head that follows it.

The head turns T5's ``last_hidden_state`` into the sentence vector: :class:`Pooler` (one or more
pooling modes, concatenated as sentence-transformers does), then any ``Dense`` layers, then optional
L2 normalisation. It always runs in float32, whatever dtype the encoder runs in, so pooling sums do
not lose precision.

Modes (sentence-transformers names accepted as aliases):

===================  ==========================  ==============================================
mode                 alias                       vector
===================  ==========================  ==============================================
``mean``             ``mean_tokens``             masked mean of the token vectors
``max``              ``max_tokens``              masked element-wise max
``first``            ``cls``, ``cls_token``      the first token's vector
``last``             ``lasttoken``               the last token's vector (T5: ``</s>``)
``mean_sqrt_len``    ``mean_sqrt_len_tokens``    masked sum divided by sqrt(token count)
``weighted_mean``    ``weightedmean``            mean weighted by position (1, 2, 3, ...)
``attention``                                    learned softmax weights over tokens (trainable)
===================  ==========================  ==============================================
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch
from torch import nn

from t5_vectors._checks import ensured
from t5_vectors.errors import InvalidInputError

POOLING_MODES: tuple[str, ...] = (
    "mean",
    "max",
    "first",
    "last",
    "mean_sqrt_len",
    "weighted_mean",
    "attention",
)

_ALIASES: dict[str, str] = {
    "cls": "first",
    "cls_token": "first",
    "mean_tokens": "mean",
    "max_tokens": "max",
    "lasttoken": "last",
    "mean_sqrt_len_tokens": "mean_sqrt_len",
    "weightedmean": "weighted_mean",
    "weightedmean_tokens": "weighted_mean",
}

# Parameter-free activations a Dense layer may name (sentence-transformers stores the class path).
_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "Identity": nn.Identity,
    "Tanh": nn.Tanh,
    "ReLU": nn.ReLU,
    "GELU": nn.GELU,
    "Sigmoid": nn.Sigmoid,
    "SiLU": nn.SiLU,
    "ELU": nn.ELU,
    "LeakyReLU": nn.LeakyReLU,
    "Softplus": nn.Softplus,
    "Mish": nn.Mish,
    "Hardtanh": nn.Hardtanh,
}


def normalize_pooling_modes(pooling: str | Sequence[str]) -> tuple[str, ...]:
    """Validate pooling mode names, resolve aliases, and return them as a tuple."""
    names = (pooling,) if isinstance(pooling, str) else tuple(pooling)
    if not names:
        raise InvalidInputError(
            f"pooling: expected one of {', '.join(POOLING_MODES)} (or a list of them), found an "
            "empty list."
        )
    modes: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise InvalidInputError(
                f"pooling: expected mode names as str, found {type(name).__name__} {name!r}."
            )
        mode = _ALIASES.get(name.lower(), name.lower())
        if mode not in POOLING_MODES:
            raise InvalidInputError(
                f"pooling: expected one of {', '.join(POOLING_MODES)}, found {name!r}."
            )
        modes.append(mode)
    return tuple(modes)


def activation_from_name(name: str | None) -> tuple[str, nn.Module]:
    """Map a sentence-transformers ``activation_function`` path to a module.

    ``None`` (the key absent) means Tanh, as in sentence-transformers. Only parameter-free
    ``torch.nn`` activations are accepted: nothing is imported from the name.
    """
    if name is None:
        return "Tanh", nn.Tanh()
    short = name.rsplit(".", 1)[-1]
    if not name.startswith("torch.") and "." in name:
        short = ""
    cls = _ACTIVATIONS.get(short)
    if cls is None:
        raise InvalidInputError(
            f"Dense activation_function: expected a torch.nn activation "
            f"({', '.join(sorted(_ACTIVATIONS))}), found {name!r}. Custom activations are not "
            "loaded (that would execute code from the checkpoint)."
        )
    return short, cls()


class AttentionPooling(nn.Module):
    """Softmax-weighted sum of token vectors with learned scores (trainable).

    The scorer is a linear layer over the token vector (or a one-hidden-layer tanh MLP when
    ``hidden_size > 0``). Its output weights start at zero, so an untrained module equals mean
    pooling, and training moves it away from there.
    """

    def __init__(self, d_model: int, hidden_size: int = 0) -> None:
        super().__init__()
        self.d_model = d_model
        self.hidden_size = hidden_size
        self.proj: nn.Linear | None = nn.Linear(d_model, hidden_size) if hidden_size > 0 else None
        self.score = nn.Linear(hidden_size if hidden_size > 0 else d_model, 1)
        nn.init.zeros_(self.score.weight)
        nn.init.zeros_(self.score.bias)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        features = torch.tanh(self.proj(hidden)) if self.proj is not None else hidden
        scores = self.score(features).squeeze(-1).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1).unsqueeze(-1)
        return (weights * hidden).sum(dim=1)


class Pooler(nn.Module):
    """Pool ``(batch, tokens, d_model)`` into ``(batch, d_model * len(modes))``."""

    def __init__(
        self, modes: str | Sequence[str], d_model: int, *, attention_hidden_size: int = 0
    ) -> None:
        super().__init__()
        self.modes = normalize_pooling_modes(modes)
        self.d_model = d_model
        self.attention: AttentionPooling | None = (
            AttentionPooling(d_model, attention_hidden_size) if "attention" in self.modes else None
        )

    @property
    def output_dim(self) -> int:
        return self.d_model * len(self.modes)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pool *hidden* over the positions where the boolean *mask* is true."""
        hidden = hidden.float()
        mask = mask.bool()
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        counts = weights.sum(dim=1).clamp(min=1e-9)
        positions = torch.arange(hidden.shape[1], device=hidden.device)
        out: list[torch.Tensor] = []
        for mode in self.modes:
            if mode == "mean":
                out.append((hidden * weights).sum(dim=1) / counts)
            elif mode == "mean_sqrt_len":
                out.append((hidden * weights).sum(dim=1) / counts.sqrt())
            elif mode == "max":
                out.append(hidden.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1))
            elif mode in ("first", "last"):
                ranked = torch.where(mask, positions, -1 if mode == "last" else hidden.shape[1])
                index = ranked.amax(dim=1) if mode == "last" else ranked.amin(dim=1)
                out.append(hidden[torch.arange(hidden.shape[0], device=hidden.device), index])
            elif mode == "weighted_mean":
                pos_weights = weights * (positions + 1).to(hidden.dtype).view(1, -1, 1)
                out.append((hidden * pos_weights).sum(dim=1) / pos_weights.sum(dim=1))
            else:  # attention
                out.append(ensured(self.attention, "the attention pooling")(hidden, mask))
        return out[0] if len(out) == 1 else torch.cat(out, dim=-1)


class DenseLayer(nn.Module):
    """``activation(linear(x))``: sentence-transformers' ``Dense`` module."""

    def __init__(
        self, in_features: int, out_features: int, *, bias: bool, activation: str | None
    ) -> None:
        super().__init__()
        self.activation_name, self.activation = activation_from_name(activation)
        self.linear = nn.Linear(in_features, out_features, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.linear(x))  # type: ignore[no-any-return]


class EmbeddingHead(nn.Module):
    """Pooler → Dense layers → optional L2 normalisation, in float32."""

    def __init__(self, pooler: Pooler, denses: Sequence[DenseLayer], *, normalize: bool) -> None:
        super().__init__()
        self.pooler = pooler
        self.denses = nn.ModuleList(denses)
        self.normalize = normalize
        width = pooler.output_dim
        for index, dense in enumerate(denses):
            if dense.linear.in_features != width:
                raise InvalidInputError(
                    f"Dense layer {index}: expected in_features={width} (the size of the "
                    f"previous stage), found {dense.linear.in_features}. The checkpoint's pooling "
                    "and Dense configs disagree."
                )
            width = dense.linear.out_features
        self.dim = width
        self._digest_key: tuple[object, ...] | None = None
        self._digest = ""

    @property
    def dense_layers(self) -> list[DenseLayer]:
        return [d for d in self.denses if isinstance(d, DenseLayer)]

    def weights_digest(self) -> str:
        """A short SHA-256 of the trainable weights (pooling, Dense); ``""`` when there are none.

        Cached, and recomputed only when a tensor was changed in place (optimiser steps,
        ``load_state_dict``: torch bumps its version counter) or replaced. Writes through
        ``tensor.data`` bypass the version counter and are not seen.
        """
        tensors = list(self.state_dict(keep_vars=True).items())
        if not tensors:
            return ""
        key = tuple(
            (name, t.data_ptr(), t._version, t.dtype, tuple(t.shape)) for name, t in tensors
        )
        if key != self._digest_key:
            digest = hashlib.sha256()
            for name, tensor in tensors:
                digest.update(name.encode())
                digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
            self._digest = digest.hexdigest()[:16]
            self._digest_key = key
        return self._digest

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        vectors = self.pooler(hidden, mask)
        for dense in self.denses:
            vectors = dense(vectors)
        if self.normalize:
            vectors = nn.functional.normalize(vectors, p=2.0, dim=-1)
        return vectors  # type: ignore[no-any-return]
