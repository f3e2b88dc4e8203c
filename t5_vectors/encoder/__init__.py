"""The core: T5 checkpoint loading, pooling, batching and the shared encoder.

Imports torch, transformers and numpy; never LangChain or Qdrant.
"""

from __future__ import annotations

from t5_vectors.encoder.core import EncoderConfig, EncoderStats, T5Encoder, TruncationWarning
from t5_vectors.encoder.pooling import POOLING_MODES, AttentionPooling

__all__ = [
    "POOLING_MODES",
    "AttentionPooling",
    "EncoderConfig",
    "EncoderStats",
    "T5Encoder",
    "TruncationWarning",
]
