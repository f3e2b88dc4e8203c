"""Thread-safe tokenization with T5's truncation rule.

Hugging Face's tokenizer wrapper re-configures its Rust tokenizer (truncation, padding) on every
call, which is not safe when many threads call it at once ("Already borrowed"). This module keeps
a private copy of the Rust tokenizer with padding and truncation switched off, so concurrent
``encode_batch`` calls only read it, and truncates by hand exactly as ``truncation=True`` does for
T5: the first ``max_length - 1`` tokens, then ``</s>``.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["TextTokenizer"]


class TextTokenizer:
    """Turn texts into T5 input ids (with ``</s>``), truncated at ``max_length``."""

    def __init__(self, tokenizer: Any, *, max_length: int) -> None:
        self.max_length = max_length
        self._hf = tokenizer
        self._lock = threading.Lock()
        backend = getattr(tokenizer, "backend_tokenizer", None)
        self._backend: Any = None
        if backend is not None:
            from tokenizers import Tokenizer

            self._backend = Tokenizer.from_str(backend.to_str())
            self._backend.no_padding()
            self._backend.no_truncation()
        eos = getattr(tokenizer, "eos_token_id", None)
        self.eos_id: int | None = int(eos) if eos is not None else None

    def _raw(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        if self._backend is not None:
            return [e.ids for e in self._backend.encode_batch(texts, add_special_tokens=True)]
        with self._lock:  # the slow (Python) tokenizer path is serialised
            return list(self._hf(texts, add_special_tokens=True, truncation=False)["input_ids"])

    def encode(self, texts: list[str]) -> tuple[list[list[int]], bool]:
        """Token ids per text, and whether any text was truncated."""
        ids = self._raw(texts)
        truncated = False
        limit = self.max_length
        for index, row in enumerate(ids):
            if len(row) > limit:
                truncated = True
                ends_with_eos = self.eos_id is not None and row[-1] == self.eos_id
                ids[index] = [*row[: limit - 1], row[-1]] if ends_with_eos else row[:limit]
        return ids, truncated

    def count(self, texts: list[str]) -> list[int]:
        """Token counts (``</s>`` included), without truncation."""
        return [len(row) for row in self._raw(texts)]

    def prefix_length(self, prefix: str) -> int:
        """How many tokens *prefix* contributes at the start of a text (``</s>`` excluded)."""
        if not prefix:
            return 0
        ids = self._raw([prefix])[0]
        return (
            len(ids) - 1 if self.eos_id is not None and ids and ids[-1] == self.eos_id else len(ids)
        )
