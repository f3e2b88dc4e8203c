"""Fixtures for the transfer tests: a word-level tiny T5 and an encoder over it.

``T5_VECTORS_TEST_DEVICE`` (default ``cpu``) picks where the encoder and the heads run, so the
same tests exercise the GPU path on a machine that has one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from t5_vectors import T5Encoder
from tests.transfer.tasks import build_word_checkpoint

DEVICE = os.environ.get("T5_VECTORS_TEST_DEVICE", "cpu")


@pytest.fixture(scope="session")
def word_t5_path(checkpoints_dir: Path) -> Path:
    return build_word_checkpoint(checkpoints_dir / "t5-words")


@pytest.fixture(scope="session")
def word_encoder(word_t5_path: Path) -> Iterator[T5Encoder]:
    """A float32 encoder (mean pooling) shared by the transfer tests; never modified."""
    encoder = T5Encoder.from_pretrained(word_t5_path, device=DEVICE, dtype="float32")
    yield encoder
    encoder.close()
