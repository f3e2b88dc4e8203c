"""Translations between the seam's types and Qdrant Edge's: schemas, points, queries, results.

Pure functions, no I/O: :mod:`t5_vectors.storage.edge.backend` does the calls.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import qdrant_edge as qe

from t5_vectors.errors import InvalidInputError
from t5_vectors.storage.base import (
    DenseVectorSpec,
    Filter,
    Fuse,
    Hit,
    Hnsw,
    Mmr,
    Nearest,
    Point,
    PointId,
    Prefetch,
    Quantization,
    QueryPlan,
    Record,
    Schema,
    Scoring,
    SearchParams,
    SparseVector,
    VectorValue,
)
from t5_vectors.storage.edge.filters import to_edge_filter

DEFAULT_RRF_K = 2
"""Qdrant's reciprocal-rank constant when a plan gives none (the server's and qdrant-client's)."""

_DISTANCES = {
    "cosine": qe.Distance.Cosine,
    "dot": qe.Distance.Dot,
    "euclid": qe.Distance.Euclid,
    "manhattan": qe.Distance.Manhattan,
}
_DATATYPES = {
    "float32": qe.VectorStorageDatatype.Float32,
    "float16": qe.VectorStorageDatatype.Float16,
    "uint8": qe.VectorStorageDatatype.Uint8,
}
_COMPRESSION = {
    "x4": qe.CompressionRatio.X4,
    "x8": qe.CompressionRatio.X8,
    "x16": qe.CompressionRatio.X16,
    "x32": qe.CompressionRatio.X32,
    "x64": qe.CompressionRatio.X64,
}
_FULL_SCAN_THRESHOLD_KB = 10_000
"""Qdrant's default: below this many KB of vectors a filtered search scans instead of walking."""

# --- schema -> EdgeConfig ---------------------------------------------------------------------


def _quantization(q: Quantization | None) -> qe.QuantizationConfigType | None:
    if q is None:
        return None
    if q.kind == "scalar":
        return qe.ScalarQuantizationConfig(
            qe.ScalarType.Int8, quantile=q.quantile, always_ram=q.always_ram
        )
    if q.kind == "binary":
        return qe.BinaryQuantizationConfig(always_ram=q.always_ram)
    if q.kind == "product":
        compression = _COMPRESSION.get((q.compression or "x16").lower())
        if compression is None:
            raise InvalidInputError(
                f"product quantization: expected compression among {sorted(_COMPRESSION)}, "
                f"found {q.compression!r}; fix: pick one of those"
            )
        return qe.ProductQuantizationConfig(compression, always_ram=q.always_ram)
    raise InvalidInputError(
        f"quantization: expected kind 'scalar', 'binary' or 'product', found {q.kind!r}"
    )


def _hnsw(h: Hnsw | None) -> qe.HnswIndexConfig | None:
    if h is None:
        return None
    threshold = _FULL_SCAN_THRESHOLD_KB if h.full_scan_threshold is None else h.full_scan_threshold
    return qe.HnswIndexConfig(
        m=h.m, ef_construct=h.ef_construct, full_scan_threshold=threshold, on_disk=h.on_disk
    )


def _dense(spec: DenseVectorSpec) -> qe.EdgeVectorParams:
    distance = _DISTANCES.get(spec.distance)
    datatype = _DATATYPES.get(spec.datatype)
    if distance is None or datatype is None or spec.size < 1:
        raise InvalidInputError(
            f"vector spec: expected size >= 1, distance among {sorted(_DISTANCES)} and datatype "
            f"among {sorted(_DATATYPES)}, found size {spec.size}, distance {spec.distance!r}, "
            f"datatype {spec.datatype!r}"
        )
    return qe.EdgeVectorParams(
        size=spec.size,
        distance=distance,
        memory=qe.Memory.Cold if spec.on_disk else None,
        multivector_config=(
            qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim) if spec.multivector else None
        ),
        datatype=datatype,
        quantization_config=_quantization(spec.quantization),
        hnsw_config=_hnsw(spec.hnsw),
    )


def edge_config(
    schema: Schema,
    *,
    hnsw: Hnsw,
    quantization: Quantization | None,
    indexing_threshold_kb: int | None,
) -> qe.EdgeConfig:
    """The Edge configuration for ``schema``.

    ``hnsw`` and ``quantization`` are the backend's defaults, used where the schema says
    nothing (the schema itself is kept as given, in the sidecar).
    """
    if not schema.dense and not schema.sparse:
        raise InvalidInputError(
            "collection schema: expected at least one dense or sparse vector, found none"
        )
    sparse = {
        name: qe.EdgeSparseVectorParams(
            on_disk=spec.on_disk or None, modifier=qe.Modifier.Idf if spec.idf else None
        )
        for name, spec in schema.sparse.items()
    }
    optimizers = (
        None
        if indexing_threshold_kb is None
        else qe.EdgeOptimizersConfig(indexing_threshold=indexing_threshold_kb)
    )
    return qe.EdgeConfig(
        vectors={name: _dense(spec) for name, spec in schema.dense.items()} or None,
        sparse_vectors=sparse or None,
        on_disk_payload=schema.on_disk_payload,
        hnsw_config=_hnsw(schema.hnsw or hnsw),
        quantization_config=_quantization(
            schema.quantization if schema.quantization is not None else quantization
        ),
        optimizers=optimizers,
    )


# --- points -----------------------------------------------------------------------------------


def point_id(value: Any) -> PointId:
    """An id as the seam carries it: an int, or a UUID as its canonical string."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return str(value)


def _edge_id(value: PointId) -> PointId:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInputError(
            f"point id: expected an unsigned int or a UUID string, found {value!r}"
        )
    if isinstance(value, int):
        if value < 0:
            raise InvalidInputError(f"point id: expected an unsigned int, found {value}")
        return value
    try:
        uuid.UUID(value)
    except ValueError as err:
        raise InvalidInputError(
            f"point id: expected an unsigned int or a UUID string, found {value!r}"
        ) from err
    return value


def _edge_vector(value: VectorValue) -> Any:
    if isinstance(value, SparseVector):
        return qe.SparseVector(list(value.indices), list(value.values))
    array = np.asarray(value, dtype=np.float32)
    if array.ndim not in (1, 2):
        raise InvalidInputError(
            f"vector: expected a 1-D vector or a 2-D multivector, found {array.ndim} dimensions"
        )
    # Lists, not arrays: qdrant-edge-py 0.9 takes a float list about 3x faster than the same
    # numpy array (a Point with a 768-d vector: 36 against 94 µs; 40 x 128 tokens: 196 against
    # 643 µs), and float32 -> Python float -> float32 is exact.
    return array.tolist()


def edge_point(point: Point) -> qe.Point:
    """A point as Qdrant Edge takes it."""
    vectors = {name: _edge_vector(value) for name, value in point.vectors.items()}
    return qe.Point(_edge_id(point.id), vectors, dict(point.payload))


def _vectors(raw: Any) -> dict[str, VectorValue] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):  # the unnamed vector alone comes back bare
        raw = {"": raw}
    vectors: dict[str, VectorValue] = {}
    for name, value in raw.items():
        if isinstance(value, qe.SparseVector):
            vectors[name] = SparseVector(
                tuple(int(i) for i in value.indices), tuple(float(v) for v in value.values)
            )
        else:
            vectors[name] = np.asarray(value, dtype=np.float32)
    return vectors


def record(raw: Any, *, with_vectors: bool) -> Record:
    """An Edge record as the seam's :class:`Record`."""
    return Record(
        id=point_id(raw.id),
        payload=raw.payload,
        vectors=_vectors(raw.vector) if with_vectors else None,
    )


def hit(raw: Any, *, with_vectors: bool) -> Hit:
    """An Edge scored point as the seam's :class:`Hit`."""
    return Hit(
        id=point_id(raw.id),
        score=float(raw.score),
        payload=raw.payload,
        vectors=_vectors(raw.vector) if with_vectors else None,
    )


def edge_with(value: bool | tuple[str, ...]) -> bool | list[str]:
    """``with_payload`` / ``with_vectors`` as Edge takes them."""
    return value if isinstance(value, bool) else list(value)


def wants(value: bool | tuple[str, ...]) -> bool:
    """Whether a ``with_*`` value asks for anything."""
    return bool(value) if isinstance(value, bool) else len(value) > 0


# --- queries ----------------------------------------------------------------------------------


def edge_filter(filter: Filter | None) -> qe.Filter | None:
    """A JSON filter as Edge's, or ``None``."""
    return None if filter is None else to_edge_filter(filter)


def _scoring(query: Scoring | None) -> Any:
    if query is None:
        return None
    if isinstance(query, Nearest):
        return qe.Query.Nearest(_edge_vector(query.vector), using=query.using)
    if isinstance(query, Fuse):
        if query.method == "rrf":
            return qe.Fusion.Rrf(k=DEFAULT_RRF_K if query.rrf_k is None else query.rrf_k)
        return qe.Fusion.Dbsf()
    if isinstance(query, Mmr):
        return qe.Mmr(
            _edge_vector(query.vector),
            lambda_=1.0 - query.diversity,
            candidates_limit=query.candidates,
            using=query.using,
        )
    raise InvalidInputError(f"query: expected Nearest, Fuse or Mmr, found {query!r}")


def _params(
    params: SearchParams | None, default_ef: int | None, oversampling: float | None = None
) -> qe.SearchParams | None:
    """Search parameters, with the backend's defaults where *params* gives none.

    On a quantized collection the candidates found over the quantized vectors are rescored with
    the originals, ``oversampling`` times as many as asked for; an exact search reads the
    originals only. Quantization parameters are ignored on collections without quantization.
    """
    if params is None:
        params = SearchParams()
    if params.exact:
        quantization = qe.QuantizationSearchParams(ignore=True)
    else:
        quantization = qe.QuantizationSearchParams(
            rescore=True if params.rescore is None else params.rescore,
            oversampling=oversampling if params.oversampling is None else params.oversampling,
        )
    return qe.SearchParams(
        hnsw_ef=default_ef if params.hnsw_ef is None else params.hnsw_ef,
        exact=params.exact,
        quantization=quantization,
    )


def _prefetch(stage: Prefetch, default_ef: int | None, oversampling: float | None) -> qe.Prefetch:
    return qe.Prefetch(
        limit=stage.limit,
        query=_scoring(stage.query),
        prefetches=[_prefetch(p, default_ef, oversampling) for p in stage.prefetch] or None,
        params=_params(stage.params, default_ef, oversampling),
        filter=edge_filter(stage.filter),
    )


def edge_query_request(
    plan: QueryPlan, *, default_ef: int | None, oversampling: float | None = None
) -> qe.QueryRequest:
    """A query plan as an Edge ``QueryRequest``; ``default_ef`` and ``oversampling`` (quantized
    collections) apply where the plan gives none."""
    return qe.QueryRequest(
        limit=plan.limit,
        offset=plan.offset or None,
        query=_scoring(plan.query),
        prefetches=[_prefetch(p, default_ef, oversampling) for p in plan.prefetch] or None,
        with_vector=edge_with(plan.with_vectors),
        with_payload=edge_with(plan.with_payload),
        filter=edge_filter(plan.filter),
        score_threshold=plan.score_threshold,
        params=_params(plan.params, default_ef, oversampling),
    )


def edge_ids(ids: Sequence[PointId]) -> list[qe.PointId]:
    """Ids as Edge takes them (validated)."""
    return [_edge_id(i) for i in ids]
