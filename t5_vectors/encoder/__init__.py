"""The core: T5 checkpoint loading, pooling, batching and the shared encoder.

Imports torch, transformers and numpy; never LangChain or Qdrant. The public names load on first
use (PEP 562), so the light modules of this package (``sparse``, ``texts``, ``tokenize``) can be
imported without torch, as ``t5-vectors info`` does. Private: ``_checkpoint`` (finding and
telling a checkpoint's layout), ``_loading`` (its parts), ``_forward`` (the inference forward
pass), ``_batching`` (token-budget batches, the micro-batcher), ``_runner`` (one batch's forward
pass) and ``_streaming`` (a large call queued chunk by chunk).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_LAZY = {
    "POOLING_MODES": "t5_vectors.encoder.pooling",
    "AttentionPooling": "t5_vectors.encoder.pooling",
    "EncoderConfig": "t5_vectors.encoder.core",
    "EncoderStats": "t5_vectors.encoder.core",
    "T5Encoder": "t5_vectors.encoder.core",
    "TruncationWarning": "t5_vectors.encoder.core",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use, then keep it here."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 't5_vectors.encoder' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
