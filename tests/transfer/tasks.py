"""Synthetic text-classification tasks over a made-up vocabulary, and the checkpoint for them.

Words are pseudo-words (``"bace"``, ``"fimo"``, ...) plus keywords; the tiny tokenizer is trained
on them, so each keyword is one token. A random-weight T5 carries token identity through its
residual stream, so a head can learn which keyword a text holds; it carries little about
position (its relative attention bias starts near zero), so the tasks rest on words.
"""

from __future__ import annotations

import random
from pathlib import Path

_rng = random.Random(0)
FILLERS: list[str] = sorted(
    {
        _rng.choice("bcdfghklmnprstvz")
        + _rng.choice("aeiou")
        + _rng.choice("bcdfghklmnprstvz")
        + _rng.choice("aeiou")
        for _ in range(400)
    }
)[:120]
KEYWORDS: dict[str, list[str]] = {
    "animal": ["alpha", "delta"],
    "plant": ["omega", "sigma"],
    "stone": ["kappa", "theta"],
}
VOCABULARY = FILLERS + [w for words in KEYWORDS.values() for w in words]


def build_word_checkpoint(directory: Path) -> Path:
    """An encoder-only T5 (d_model 64, 2 layers) whose tokenizer knows the vocabulary."""
    from t5_vectors.testing import build_t5_checkpoint

    corpus = [" ".join(random.Random(i).sample(VOCABULARY, 12)) for i in range(400)]
    return build_t5_checkpoint(
        directory,
        d_model=64,
        num_layers=2,
        num_heads=4,
        d_ff=128,
        vocab_size=256,
        tokenizer_sentences=corpus,
        seed=0,
        encoder_only=True,
    )


def keyword_task(
    n: int,
    seed: int,
    *,
    classes: tuple[str, ...] = ("animal", "plant", "stone"),
    fillers: int = 120,
    length: tuple[int, int] = (2, 6),
) -> tuple[list[str], list[str]]:
    """Texts of filler words with one keyword inserted anywhere; the keyword's class is the label.

    Short texts over few fillers make a word-presence task; long texts over many fillers make one
    position (the keyword's) carry the label among many distractors, which mean pooling dilutes.
    """
    rng = random.Random(seed)
    texts: list[str] = []
    labels: list[str] = []
    for _ in range(n):
        label = rng.choice(classes)
        words = [rng.choice(FILLERS[:fillers]) for _ in range(rng.randint(*length))]
        words.insert(rng.randint(0, len(words)), rng.choice(KEYWORDS[label]))
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def noisy_keyword_task(n: int, seed: int, noise: float = 0.3) -> tuple[list[str], list[str]]:
    """:func:`keyword_task` with a *noise* share of labels redrawn at random."""
    texts, labels = keyword_task(n, seed, length=(8, 14))
    rng = random.Random(seed)
    classes = sorted(KEYWORDS)
    return texts, [label if rng.random() > noise else rng.choice(classes) for label in labels]


def noise_task(n: int, seed: int, minority: float) -> tuple[list[str], list[int]]:
    """Filler-only texts with random labels, a *minority* share of them 1: nothing to learn
    but the prior, so class weights decide what is predicted."""
    rng = random.Random(seed)
    texts = [" ".join(rng.choice(FILLERS) for _ in range(rng.randint(3, 8))) for _ in range(n)]
    labels = [int(rng.random() < minority) for _ in range(n)]
    return texts, labels
