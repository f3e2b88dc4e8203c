"""Thread-safe tokenization with T5's truncation rule.

Hugging Face's tokenizer wrapper re-configures its Rust tokenizer (truncation, padding) on every
call, which is not safe when many threads call it at once ("Already borrowed"). This module keeps
a private copy of the Rust tokenizer with padding and truncation switched off, so concurrent
``encode_batch`` calls only read it, and truncates by hand exactly as ``truncation=True`` does for
T5: the first ``max_length - 1`` tokens, then ``</s>``.

Very long texts are not tokenized whole: a text longer than :attr:`TextTokenizer.cut_chars`
characters is first cut at a space before that point. T5's pre-tokenizer splits at
whitespace and tokenizes each word on its own, so the words before the cut give exactly the
tokens they give in the whole text; when they give more than ``max_length`` tokens, the
truncated ids are those of the whole text, at a fraction of the cost (a 1M-character text is
otherwise tokenized in full, ~1 s, only to keep 512 tokens). Otherwise the whole text is used.
"""

from __future__ import annotations

import threading
from typing import Any

# Up to this many texts are tokenized one by one, holding the GIL. ``encode_batch`` releases
# the GIL and fans out to a thread pool: worth it for many texts, but for a query or two, with
# other Python threads running (an event loop, a thread pool of searches), getting the GIL back
# took about 9 ms against 0.1 ms for ``encode`` (measured with two busy threads).
_ONE_BY_ONE = 8


class TextTokenizer:
    """Turn texts into T5 input ids (with ``</s>``), truncated at ``max_length``."""

    def __init__(self, tokenizer: Any, *, max_length: int) -> None:
        self.max_length = max_length
        #: Texts longer than this many characters are cut before tokenizing (see module doc).
        self.cut_chars = max(8192, 64 * max_length)
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
            if len(texts) <= _ONE_BY_ONE:
                return [self._backend.encode(t, add_special_tokens=True).ids for t in texts]
            return [e.ids for e in self._backend.encode_batch(texts, add_special_tokens=True)]
        with self._lock:  # the slow (Python) tokenizer path is serialised
            return list(self._hf(texts, add_special_tokens=True, truncation=False)["input_ids"])

    def _ends_with_eos(self, row: list[int]) -> bool:
        """Whether *row* closes with ``</s>`` (T5's tokenizer adds it; truncation keeps it)."""
        return self.eos_id is not None and bool(row) and row[-1] == self.eos_id

    def _head(self, text: str) -> str | None:
        """The whole words of *text* before :attr:`cut_chars`, or ``None`` if it is short."""
        if len(text) <= self.cut_chars:
            return None
        cut = text.rfind(" ", 0, self.cut_chars + 1)  # a plain space: T5 splits words there
        head = text[:cut].rstrip(" ") if cut > 0 else ""
        return head or None

    def encode(self, texts: list[str]) -> tuple[list[list[int]], bool]:
        """Token ids per text, and whether any text was truncated."""
        heads = [self._head(text) for text in texts]
        ids = self._raw(
            [text if head is None else head for text, head in zip(texts, heads, strict=True)]
        )
        redo = [
            index
            for index, (head, row) in enumerate(zip(heads, ids, strict=True))
            if head is not None and len(row) - int(self._ends_with_eos(row)) <= self.max_length
        ]
        if redo:  # the head was too short in tokens: tokenize those texts whole
            for index, row in zip(redo, self._raw([texts[i] for i in redo]), strict=True):
                ids[index] = row
        truncated = False
        limit = self.max_length
        for index, row in enumerate(ids):
            if len(row) > limit:
                truncated = True
                ids[index] = (
                    [*row[: limit - 1], row[-1]] if self._ends_with_eos(row) else row[:limit]
                )
        return ids, truncated

    def count(self, texts: list[str]) -> list[int]:
        """Token counts (``</s>`` included), without truncation."""
        return [len(row) for row in self._raw(texts)]

    def prefix_length(self, prefix: str) -> int:
        """How many tokens *prefix* contributes at the start of a text (``</s>`` excluded)."""
        if not prefix:
            return 0
        ids = self._raw([prefix])[0]
        return len(ids) - int(self._ends_with_eos(ids))
