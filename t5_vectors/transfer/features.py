"""Frozen features from a shared :class:`~t5_vectors.T5Encoder`, computed once and cached.

The encoder runs once per text, through its batched, token-budget path, never once per epoch:

* ``pooling="encoder"``: the encoder's sentence vectors (``encode``) → :class:`PooledFeatures`.
* fixed pooling modes (``"mean"``, ``"max"``, ...): token states (``encode_tokens``) pooled by
  the head's parameter-free pooler chunk by chunk → :class:`PooledFeatures`.
* trainable pooling (``"attention"``): the token states themselves → :class:`TokenFeatures`,
  stored flat (``total_tokens x d_model`` float32 on the training device) and padded per batch.

The encoder's output is float32 whatever dtype it runs in; the cache is float32 too. Prefix
tokens are left out of pooling when the encoder's ``pool_prefix`` is off, as the encoder does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal

import numpy as np
import torch

from t5_vectors._checks import ensured
from t5_vectors.transfer.heads import HeadConfig

Kind = Literal["document", "query"]
Pool = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: Texts per encoder call: bounds the memory of token states between pooling steps.
CHUNK_SIZE = 1024


def batches(index: torch.Tensor, size: int) -> list[torch.Tensor]:
    """*index* cut into consecutive slices of at most *size*."""
    return [index[first : first + size] for first in range(0, len(index), size)]


class _Cache:
    """What both caches share: their length and device, read from a tensor with a row per text."""

    def _per_text(self) -> torch.Tensor:
        raise NotImplementedError

    def __len__(self) -> int:
        return int(self._per_text().shape[0])

    @property
    def device(self) -> torch.device:
        return self._per_text().device


class PooledFeatures(_Cache):
    """One pooled float32 vector per text, ``(n, dim)`` on a device."""

    def __init__(self, vectors: torch.Tensor) -> None:
        self.vectors = vectors.float()

    def _per_text(self) -> torch.Tensor:
        return self.vectors

    def take(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(vectors, None)`` of the texts at *index*."""
        return self.vectors[index], None

    def subset(self, index: np.ndarray) -> PooledFeatures:
        return PooledFeatures(self.vectors[torch.as_tensor(index, device=self.device)])


class TokenFeatures(_Cache):
    """Token states of *n* texts, stored flat; :meth:`take` pads a batch of them.

    Args:
        states: one float32 ``(n_tokens_i, d_model)`` array per text.
        starts: per text, the first token that takes part in pooling (0 unless prefix tokens
            are left out).
        device: where the cache lives (the training device).
    """

    def __init__(
        self, states: Sequence[np.ndarray], starts: Sequence[int], device: torch.device
    ) -> None:
        lengths = [len(s) for s in states]
        flat = np.concatenate(list(states), axis=0) if states else np.zeros((0, 0), np.float32)
        self.tokens = torch.from_numpy(np.ascontiguousarray(flat, dtype=np.float32)).to(device)
        self.lengths = torch.tensor(lengths, dtype=torch.long, device=device)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if lengths else np.zeros(0)
        self.offsets = torch.tensor(offsets, dtype=torch.long, device=device)
        self.starts = torch.tensor(list(starts), dtype=torch.long, device=device)

    @classmethod
    def _from_parts(
        cls, tokens: torch.Tensor, lengths: torch.Tensor, offsets: torch.Tensor, starts: Any
    ) -> TokenFeatures:
        self = cls.__new__(cls)
        self.tokens, self.lengths, self.offsets, self.starts = tokens, lengths, offsets, starts
        return self

    def _per_text(self) -> torch.Tensor:
        return self.lengths  # on the device of the flat store

    def take(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(hidden (b, L, d_model), mask (b, L))`` for the texts at *index*, zero-padded."""
        lengths = self.lengths[index]
        longest = int(lengths.max()) if len(lengths) else 0
        positions = torch.arange(longest, device=self.device)
        inside = positions.unsqueeze(0) < lengths.unsqueeze(1)
        rows = (self.offsets[index].unsqueeze(1) + positions.unsqueeze(0)).clamp(
            max=max(len(self.tokens) - 1, 0)
        )
        hidden = self.tokens[rows] * inside.unsqueeze(-1)
        mask = inside & (positions.unsqueeze(0) >= self.starts[index].unsqueeze(1))
        return hidden, mask

    def subset(self, index: np.ndarray) -> TokenFeatures:
        # The flat store is shared; only the per-text views are selected.
        at = torch.as_tensor(index, device=self.device)
        return TokenFeatures._from_parts(
            self.tokens, self.lengths[at], self.offsets[at], self.starts[at]
        )


Features = PooledFeatures | TokenFeatures


def pool_start(encoder: Any, kind: Kind) -> int:
    """Tokens to skip before pooling: the prefix's, when the encoder leaves it out of pooling."""
    if encoder.config.pool_prefix:
        return 0
    # "" with the prefix tokenizes as the prefix's tokens then </s>.
    return max(len(encoder.tokenize([""], kind=kind)[0]) - 1, 0)


def iter_features(
    encoder: Any,
    texts: Sequence[str],
    config: HeadConfig,
    *,
    kind: Kind,
    device: torch.device,
    pool: Pool | None,
    progress: Any = None,
) -> Iterator[Features]:
    """Features of *texts* chunk by chunk, in order (see the module docstring for which kind).

    Args:
        encoder: the frozen, shared encoder (it is only read).
        texts: validated texts.
        config: the head's config (decides pooled or token features).
        kind: ``"document"`` or ``"query"`` (which prefix the encoder adds).
        device: where the features go.
        pool: the head's fixed pooling (token states → vectors); ``None`` keeps token states
            when the pooling is trained.
        progress: a tqdm bar (or ``None``) updated per chunk (of :data:`CHUNK_SIZE` texts).
    """
    start = pool_start(encoder, kind) if config.pools_tokens else 0
    for first in range(0, len(texts), CHUNK_SIZE):
        chunk = list(texts[first : first + CHUNK_SIZE])
        if not config.pools_tokens:
            vectors = encoder.encode(chunk, kind=kind)
            features: Features = PooledFeatures(torch.from_numpy(vectors).to(device))
        else:
            states = encoder.encode_tokens(chunk, kind=kind)
            tokens = TokenFeatures(states, [min(start, len(s) - 1) for s in states], device)
            features = tokens if pool is None else pool_all(tokens, pool)
        if progress is not None:
            progress.update(len(chunk))
        yield features


def join_features(chunks: Iterable[Features]) -> Features:
    """The chunks :func:`iter_features` yields, joined into one cache."""
    parts = list(chunks)
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], PooledFeatures):
        return PooledFeatures(
            torch.cat([p.vectors for p in parts if isinstance(p, PooledFeatures)])
        )
    token_parts = [p for p in parts if isinstance(p, TokenFeatures)]
    device = token_parts[0].device
    sizes = torch.tensor([len(p.tokens) for p in token_parts], device=device)
    shifts = torch.cat([torch.zeros(1, dtype=torch.long, device=device), sizes.cumsum(0)[:-1]])
    return TokenFeatures._from_parts(
        torch.cat([p.tokens for p in token_parts]),
        torch.cat([p.lengths for p in token_parts]),
        torch.cat([p.offsets + shift for p, shift in zip(token_parts, shifts, strict=True)]),
        torch.cat([p.starts for p in token_parts]),
    )


def pool_all(features: Features, pool: Pool) -> PooledFeatures:
    """*features* pooled: token states through *pool*, 256 texts at a time and without
    gradients; pooled features as they are."""
    if isinstance(features, PooledFeatures):
        return features
    pooled: list[torch.Tensor] = []
    with torch.no_grad():
        for index in batches(torch.arange(len(features), device=features.device), 256):
            hidden, mask = features.take(index)
            pooled.append(pool(hidden, ensured(mask, "the token features' mask")))
    return PooledFeatures(torch.cat(pooled))
