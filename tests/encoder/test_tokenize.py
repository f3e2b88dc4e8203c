"""Long texts are cut at a space before tokenizing; the ids must equal the whole text's."""

from __future__ import annotations

import random

import pytest

from t5_vectors.encoder.tokenize import TextTokenizer

WORDS = ["alpha", "beta", "γάμμα", "délta", "naïve", "東京", "x" * 37, "a-b_c", "9.75", "🙂"]
SEPARATORS = [" ", " ", " ", "  ", "\n", "\t", " \n ", "   ", "\u00a0", "\u3000"]


def _texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 60)):
            parts.append(rng.choice(WORDS))
            parts.append(rng.choice(SEPARATORS))
        text = "".join(parts)
        if rng.random() < 0.2:
            text = " " * rng.randint(1, 5) + text  # leading spaces
        if rng.random() < 0.1:
            text = text.replace(" ", "")  # a long run without spaces
        out.append(text)
    return out


@pytest.fixture(scope="module")
def tokenizers(tiny_encoder):
    whole = TextTokenizer(tiny_encoder.tokenizer, max_length=16)
    whole.cut_chars = 10**9
    cut = TextTokenizer(tiny_encoder.tokenizer, max_length=16)
    cut.cut_chars = 40
    return whole, cut


def test_cut_texts_give_the_ids_of_the_whole_text(tokenizers):
    whole, cut = tokenizers
    texts = _texts(0, 400)
    assert sum(len(t) > cut.cut_chars for t in texts) > 200  # the cut path really runs
    assert cut.encode(texts) == whole.encode(texts)


def test_a_head_too_short_in_tokens_falls_back_to_the_whole_text(tokenizers):
    whole, cut = tokenizers
    texts = ["ab " + "c" * 200, "  " + "word " * 3 + "z" * 100, " " * 60 + "tail"]
    assert cut.encode(texts) == whole.encode(texts)


def test_a_huge_text_tokenizes_only_its_head(tokenizers, monkeypatch):
    whole, cut = tokenizers
    text = "lorem ipsum dolor sit amet " * 40_000  # ~1.1M characters
    seen: list[int] = []
    raw = cut._raw

    def spy(texts):
        seen.extend(len(t) for t in texts)
        return raw(texts)

    monkeypatch.setattr(cut, "_raw", spy)
    ids, truncated = cut.encode([text])
    assert truncated
    assert len(ids[0]) == 16
    assert max(seen) <= cut.cut_chars
    assert (ids, truncated) == whole.encode([text])
