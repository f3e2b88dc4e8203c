"""Shared fixtures: tiny T5 checkpoints built on disk once per session, offline."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests never touch the network: fail fast instead of trying the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from t5_vectors.testing import (
    build_sentence_transformers_checkpoint,
    build_t5_checkpoint,
)


@pytest.fixture(scope="session")
def checkpoints_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("checkpoints")


@pytest.fixture(scope="session")
def t5_v10_path(checkpoints_dir: Path) -> Path:
    """Raw T5 v1.0: ReLU feed-forward, tied embeddings, full encoder-decoder on disk."""
    return build_t5_checkpoint(checkpoints_dir / "t5-v1_0", variant="v1_0", seed=1)


@pytest.fixture(scope="session")
def t5_v11_path(checkpoints_dir: Path) -> Path:
    """Raw T5 v1.1 / lm-adapt / flan: gated-GELU, untied, full encoder-decoder on disk."""
    return build_t5_checkpoint(checkpoints_dir / "t5-v1_1", variant="v1_1", seed=2)


@pytest.fixture(scope="session")
def st5_path(checkpoints_dir: Path) -> Path:
    """sentence-transformers layout as sentence-t5-base has it (mean, Dense, Normalize)."""
    return build_sentence_transformers_checkpoint(checkpoints_dir / "st5", seed=3)


@pytest.fixture(scope="session")
def tiny_encoder(st5_path: Path) -> Iterator[object]:
    """One fp32 CPU encoder over the sentence-transformers checkpoint, shared by the session."""
    from t5_vectors import T5Encoder

    encoder = T5Encoder.from_pretrained(str(st5_path), device="cpu", dtype="float32")
    yield encoder
    encoder.close()


@pytest.fixture(scope="session")
def texts() -> list[str]:
    """Texts of varied length, including an empty one and non-ASCII."""
    return [
        "hello world",
        "The quick brown fox jumps over the lazy dog near the river bank at dawn.",
        "T5",
        "",
        "Vector databases store embeddings and search them by similarity; "
        "Qdrant keeps points with vectors and a JSON payload in collections, " * 3,
        "naïve café — déjà vu ✓",
        "Mean pooling averages the token vectors, ignoring the padding positions.",
        "a b c d e f g",
    ]
