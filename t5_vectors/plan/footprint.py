"""What a chunk costs to store, measured on the points of a collection.

:class:`StorageReport` turns a sample of stored points (their token counts and sparse sizes, read
by :meth:`t5_vectors.index.collection.Collection.footprint`) into bytes per chunk with the
layout's datatypes:

* pooled vector: ``dim * 4`` (float32), plus the dense quantized copy when configured
  (int8 scalar: ``dim``; binary: ``dim / 8``; product x16: ``dim * 4 / 16``);
* token multivector: ``n_tokens * d_model * (4 | 2)`` originals (float32 | float16), plus
  ``n_tokens * d_model`` for the int8 copy of scalar quantization;
* sparse vector: ``nnz * 8`` (a u32 piece id and an f32 weight per stored piece);
* payload: its JSON size.

These are the raw vector bytes Qdrant keeps; its indexes (HNSW links, the sparse inverted
index, the id tracker) come on top.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from t5_vectors.plan.collection import CollectionSpec
from t5_vectors.storage.base import Quantization, Record, SparseVector

DEFAULT_SAMPLE = 1000


@dataclass(frozen=True)
class StorageReport:
    """Average bytes per chunk, measured on ``points`` stored points.

    Attributes:
        points: how many points were measured.
        dense_bytes: pooled vector originals (plus its quantized copy, if any).
        token_count: average token vectors per chunk (0 without token vectors).
        token_bytes: token vector originals at the stored datatype.
        token_quantized_bytes: the token vectors' int8 copy (0 without scalar quantization).
        sparse_nnz: average stored pieces per chunk (0 without sparse vectors).
        sparse_bytes: ``8 * sparse_nnz``.
        payload_bytes: JSON payload size.
    """

    points: int
    dense_bytes: float
    token_count: float = 0.0
    token_bytes: float = 0.0
    token_quantized_bytes: float = 0.0
    sparse_nnz: float = 0.0
    sparse_bytes: float = 0.0
    payload_bytes: float = 0.0

    @property
    def vector_bytes(self) -> float:
        """All vector bytes of a chunk (pooled, token and sparse)."""
        return self.dense_bytes + self.token_bytes + self.token_quantized_bytes + self.sparse_bytes

    @property
    def total_bytes(self) -> float:
        """Vector and payload bytes of a chunk."""
        return self.vector_bytes + self.payload_bytes

    @staticmethod
    def vector_names(spec: CollectionSpec) -> tuple[str, ...]:
        """The vectors a measurement reads (token and sparse; the pooled size is known)."""
        return tuple(v.name for v in (spec.tokens, spec.sparse) if v is not None)

    @classmethod
    def measure(cls, spec: CollectionSpec, dim: int, points: list[Record]) -> StorageReport:
        """The report for *points* (read with their token and sparse vectors) of *spec*."""
        n = len(points)
        if n == 0:
            return cls(points=0, dense_bytes=0.0)
        tokens, sparse = spec.tokens, spec.sparse
        token_total = nnz_total = payload_total = 0
        for point in points:
            vectors: Mapping[str, Any] = point.vectors or {}
            if tokens is not None:
                rows = vectors.get(tokens.name)
                token_total += len(rows) if rows is not None else 0
            if sparse is not None:
                terms = vectors.get(sparse.name)
                nnz_total += len(terms.indices) if isinstance(terms, SparseVector) else 0
            payload_total += len(json.dumps(point.payload or {}, ensure_ascii=False).encode())
        token_count = token_total / n
        token_bytes = quantized = 0.0
        if tokens is not None:
            size = tokens.size or 0  # sized by the index before anything is stored
            token_bytes = token_count * size * tokens.bytes_per_value
            if tokens.quantization is not None:
                quantized = token_count * size
        nnz = nnz_total / n
        return cls(
            points=n,
            dense_bytes=dim * 4 + _quantized_dense(spec.quantization, dim),
            token_count=token_count,
            token_bytes=token_bytes,
            token_quantized_bytes=quantized,
            sparse_nnz=nnz,
            sparse_bytes=8 * nnz,
            payload_bytes=payload_total / n,
        )


def _quantized_dense(quantization: object, dim: int) -> float:
    if not isinstance(quantization, Quantization):
        return 0.0
    if quantization.kind == "scalar":
        return float(dim)
    if quantization.kind == "binary":
        return dim / 8
    ratio = int(str(quantization.compression or "x16").removeprefix("x"))
    return dim * 4 / ratio
