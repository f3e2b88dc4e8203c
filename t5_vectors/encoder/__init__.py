"""The core: T5 checkpoint loading, pooling, batching and the shared encoder.

Imports torch, transformers and numpy; never LangChain or Qdrant. The public names load on first use
(PEP 562), so the light modules of this package (``sparse``, ``texts``, ``tokenize``) can be
imported without torch, as ``t5-vectors info`` does. Private: ``_checkpoint`` (finding and telling a
checkpoint's layout), ``_loading`` (its parts), ``_forward`` (the inference forward pass),
``_batching`` (token-budget batches, the micro-batcher), ``_runner`` (one batch's forward pass),
``_int8`` (int8 projections and their recipe), ``_graphs`` (small batches replayed as CUDA graphs)
and ``_streaming`` (a large call queued chunk by chunk).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from t5_vectors._lazy import lazy_exports

if TYPE_CHECKING:
    from t5_vectors.encoder.core import EncoderConfig, EncoderStats, T5Encoder, TruncationWarning
    from t5_vectors.encoder.pooling import POOLING_MODES, AttentionPooling
    from t5_vectors.encoder.precision_check import DtypeReport, DtypeResult, compare_dtypes

__all__ = [
    "POOLING_MODES",
    "AttentionPooling",
    "DtypeReport",
    "DtypeResult",
    "EncoderConfig",
    "EncoderStats",
    "T5Encoder",
    "TruncationWarning",
    "compare_dtypes",
]

_LAZY = {
    "POOLING_MODES": "t5_vectors.encoder.pooling",
    "AttentionPooling": "t5_vectors.encoder.pooling",
    "DtypeReport": "t5_vectors.encoder.precision_check",
    "DtypeResult": "t5_vectors.encoder.precision_check",
    "EncoderConfig": "t5_vectors.encoder.core",
    "EncoderStats": "t5_vectors.encoder.core",
    "T5Encoder": "t5_vectors.encoder.core",
    "TruncationWarning": "t5_vectors.encoder.core",
    "compare_dtypes": "t5_vectors.encoder.precision_check",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
