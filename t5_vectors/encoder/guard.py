"""Is an object a :class:`T5Encoder`? Answered without importing torch.

A ``T5Encoder`` can exist only once ``t5_vectors.encoder.core`` (and torch with it) has been
imported, so while that module is absent from ``sys.modules`` no object is one. Code that accepts
any LangChain ``Embeddings`` asks here instead of ``isinstance(x, T5Encoder)``, which would import
torch and transformers only to answer no: a process serving a collection with another embedding
model never loads them.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: no runtime dependency on typing_extensions
    from typing_extensions import TypeIs

    from t5_vectors.encoder.core import T5Encoder


_CORE = "t5_vectors.encoder.core"


def is_t5_encoder(obj: object) -> TypeIs[T5Encoder]:
    """Whether *obj* is a ``T5Encoder`` (or a subclass), without importing the encoder core."""
    core = sys.modules.get(_CORE)
    return core is not None and isinstance(obj, core.T5Encoder)
