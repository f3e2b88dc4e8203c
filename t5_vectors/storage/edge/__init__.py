"""Qdrant Edge: Qdrant's own engine in this process, the default embedded storage.

Modules: :mod:`~t5_vectors.storage.edge.backend` (:class:`EdgeBackend` and its defaults),
:mod:`~t5_vectors.storage.edge.convert` (the seam's types to Edge's and back),
:mod:`~t5_vectors.storage.edge.filters` (filters in Qdrant's JSON form to Edge's),
:mod:`~t5_vectors.storage.edge.sidecar` (the collection's schema beside its shard),
:mod:`~t5_vectors.storage.edge.locks` (one process per folder, one writer per shard),
:mod:`~t5_vectors.storage.edge.shared` (one backend per folder in a process, leased) and
:mod:`~t5_vectors.storage.edge.space` (free space checked before a write).
"""

from __future__ import annotations

from t5_vectors.storage.edge.backend import (
    DEFAULT_HNSW,
    DEFAULT_HNSW_EF,
    DEFAULT_INDEX_AFTER,
    DEFAULT_OVERSAMPLING,
    DEFAULT_QUANTIZATION,
    EdgeBackend,
)

__all__ = [
    "DEFAULT_HNSW",
    "DEFAULT_HNSW_EF",
    "DEFAULT_INDEX_AFTER",
    "DEFAULT_OVERSAMPLING",
    "DEFAULT_QUANTIZATION",
    "EdgeBackend",
]
