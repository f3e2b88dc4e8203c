"""Sparse term vectors from the T5 tokenizer's own pieces (no second model).

A text becomes a bag of sentencepiece ids, weighted for BM25: a store that multiplies each weight
by the term's inverse document frequency (Qdrant's sparse vectors with ``modifier=IDF``) then
scores a document exactly as BM25 does::

    score(q, d) = sum over pieces t in q and d of  idf(t) * w_q(t) * w_d(t)

    w_d(t) = tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avg_length))
    w_q(t) = 1                                    (each distinct query piece once)
    idf(t) = ln((N - n(t) + 0.5) / (n(t) + 0.5) + 1)   (computed by Qdrant at query time)

``tf(t, d)`` counts piece *t* in *d*, ``|d|`` is the number of pieces kept from *d*, and
``avg_length`` is a fixed estimate of the average ``|d|`` (a streamed corpus has no average up
front; 256 fits chunks of about 1,000 characters). The pieces left out are the tokenizer's
special tokens (``<pad>``, ``</s>``, ``<unk>``, sentinels) and the lone word-boundary piece
``"▁"``, which sentencepiece puts before most words that are not a single piece and which says
nothing about the text. Texts are lower-cased first (by default), so ``Qdrant`` and ``qdrant``
match. The whole text is counted, even past the encoder's ``max_length``.

This module needs only the tokenizer; it imports neither torch nor Qdrant.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from t5_vectors.encoder.texts import check_texts
from t5_vectors.encoder.tokenize import TextTokenizer
from t5_vectors.errors import InvalidInputError

_WORD_BOUNDARY = "\u2581"


@dataclass(frozen=True)
class SparseConfig:
    """BM25 term weighting of tokenizer pieces; validated on creation.

    Attributes:
        k1: term-frequency saturation (0 = binary, larger = counts matter longer).
        b: length normalisation strength in ``[0, 1]`` (0 = none).
        avg_length: the expected average number of pieces per document.
        lowercase: lower-case texts before tokenizing.
    """

    k1: float = 1.2
    b: float = 0.75
    avg_length: float = 256.0
    lowercase: bool = True

    def __post_init__(self) -> None:
        for name in ("k1", "b", "avg_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInputError(f"{name}: expected a number, found {value!r}.")
            if not math.isfinite(value):
                raise InvalidInputError(f"{name}: expected a finite number, found {value!r}.")
            object.__setattr__(self, name, float(value))
        if self.k1 < 0:
            raise InvalidInputError(f"k1: expected a number >= 0 (1.2 is usual), found {self.k1}.")
        if not 0 <= self.b <= 1:
            raise InvalidInputError(
                f"b: expected a number in [0, 1] (0.75 is usual), found {self.b}."
            )
        if self.avg_length <= 0:
            raise InvalidInputError(
                f"avg_length: expected a positive number of pieces, found {self.avg_length}."
            )
        if not isinstance(self.lowercase, bool):
            raise InvalidInputError(f"lowercase: expected True or False, found {self.lowercase!r}.")

    @property
    def fingerprint(self) -> str:
        """Identifies every setting that changes document weights."""
        return f"bm25:k1={self.k1:g},b={self.b:g},avg={self.avg_length:g},lower={self.lowercase}"


@dataclass(frozen=True, slots=True)
class SparseTerms:
    """A sparse vector: piece ids (ascending, distinct) and their weights."""

    indices: list[int]
    values: list[float]

    def __len__(self) -> int:
        return len(self.indices)


class SparseEncoder:
    """Turn texts into :class:`SparseTerms` over a T5 tokenizer's pieces (thread-safe).

    Args:
        tokenizer: a Hugging Face T5 tokenizer (``T5Encoder.tokenizer``).
        config: the weighting.
    """

    def __init__(self, tokenizer: Any, config: SparseConfig | None = None) -> None:
        if config is not None and not isinstance(config, SparseConfig):
            raise InvalidInputError(f"config: expected a SparseConfig, found {config!r}.")
        self.config = config if config is not None else SparseConfig()
        self._tokenizer = TextTokenizer(tokenizer, max_length=sys.maxsize)
        skip = {int(i) for i in getattr(tokenizer, "all_special_ids", ())}
        boundary = tokenizer.convert_tokens_to_ids(_WORD_BOUNDARY)
        if isinstance(boundary, int) and boundary != getattr(tokenizer, "unk_token_id", None):
            skip.add(boundary)
        self.skipped_ids: frozenset[int] = frozenset(skip)

    def pieces(self, texts: Sequence[str]) -> list[list[int]]:
        """The kept piece ids of each text, in order (repeats included)."""
        items = check_texts(texts)  # the encoder's rules for text (encoder/texts.py)
        if self.config.lowercase:
            items = [text.lower() for text in items]
        ids, _ = self._tokenizer.encode(items)
        return [[i for i in row if i not in self.skipped_ids] for row in ids]

    def documents(self, texts: Sequence[str]) -> list[SparseTerms]:
        """BM25 document weights ``w_d`` (see the module docstring), one vector per text."""
        k1, b, avg = self.config.k1, self.config.b, self.config.avg_length
        vectors = []
        for row in self.pieces(texts):
            norm = k1 * (1.0 - b + b * len(row) / avg)
            counts = sorted(Counter(row).items())
            vectors.append(
                SparseTerms(
                    [piece for piece, _ in counts],
                    [tf * (k1 + 1.0) / (tf + norm) for _, tf in counts],
                )
            )
        return vectors

    def queries(self, texts: Sequence[str]) -> list[SparseTerms]:
        """Query weights: each distinct kept piece once, with weight 1."""
        vectors = []
        for row in self.pieces(texts):
            indices = sorted(set(row))
            vectors.append(SparseTerms(indices, [1.0] * len(indices)))
        return vectors
