"""Translation between the seam's types and qdrant-client models (qdrant-client backend only).

Nothing above :mod:`t5_vectors.storage` builds or parses a qdrant-client model; this module is
where the seam's :class:`~t5_vectors.storage.base.Schema`, filters, query plans, points and
records become qdrant-client's, and back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from qdrant_client import models

from t5_vectors.storage.base import (
    DenseVectorSpec,
    Distance,
    Filter,
    Fuse,
    Hit,
    Hnsw,
    Mmr,
    Nearest,
    PayloadIndexKind,
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
    SparseVectorSpec,
    VectorValue,
)

# --- collection layout ----------------------------------------------------------------------


def model_distance(distance: Distance) -> models.Distance:
    """``"cosine"`` as ``models.Distance.COSINE``."""
    for value in models.Distance:
        if value.value.lower() == distance:
            return value
    raise ValueError(f"unknown distance {distance!r}")


def distance_name(distance: models.Distance) -> Distance:
    """``models.Distance.COSINE`` as ``"cosine"``."""
    names: dict[str, Distance] = {"cosine": "cosine", "dot": "dot", "euclid": "euclid"}
    return names.get(distance.value.lower(), "manhattan")


def model_quantization(
    quantization: Quantization,
) -> models.ScalarQuantization | models.BinaryQuantization | models.ProductQuantization:
    """The seam's quantization as a qdrant-client quantization config."""
    if quantization.kind == "scalar":
        return models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(
                type=models.ScalarType.INT8,
                quantile=quantization.quantile,
                always_ram=quantization.always_ram,
            )
        )
    if quantization.kind == "binary":
        return models.BinaryQuantization(
            binary=models.BinaryQuantizationConfig(always_ram=quantization.always_ram)
        )
    return models.ProductQuantization(
        product=models.ProductQuantizationConfig(
            compression=models.CompressionRatio(quantization.compression or "x16"),
            always_ram=quantization.always_ram,
        )
    )


def quantization_from_model(value: object) -> Quantization | None:
    """A qdrant-client quantization config as the seam's (``None`` for anything else)."""
    if isinstance(value, models.ScalarQuantization):
        return Quantization(
            "scalar", always_ram=value.scalar.always_ram, quantile=value.scalar.quantile
        )
    if isinstance(value, models.BinaryQuantization):
        return Quantization("binary", always_ram=value.binary.always_ram)
    if isinstance(value, models.ProductQuantization):
        return Quantization(
            "product",
            always_ram=value.product.always_ram,
            compression=str(value.product.compression.value),
        )
    return None


def _hnsw_model(hnsw: Hnsw) -> models.HnswConfigDiff:
    return models.HnswConfigDiff(
        m=hnsw.m,
        ef_construct=hnsw.ef_construct,
        full_scan_threshold=hnsw.full_scan_threshold,
        on_disk=hnsw.on_disk,
    )


def _hnsw_from_model(value: object) -> Hnsw | None:
    if not isinstance(value, (models.HnswConfigDiff, models.HnswConfig)):
        return None
    return Hnsw(
        m=value.m if value.m is not None else 16,
        ef_construct=value.ef_construct if value.ef_construct is not None else 100,
        full_scan_threshold=value.full_scan_threshold,
        on_disk=value.on_disk,
    )


def _vector_params(spec: DenseVectorSpec) -> models.VectorParams:
    datatype = None
    if spec.multivector or spec.datatype != "float32":
        datatype = models.Datatype(spec.datatype)
    return models.VectorParams(
        size=spec.size,
        distance=model_distance(spec.distance),
        on_disk=spec.on_disk or None,
        multivector_config=(
            models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
            if spec.multivector
            else None
        ),
        datatype=datatype,
        quantization_config=(
            model_quantization(spec.quantization) if spec.quantization is not None else None
        ),
        hnsw_config=_hnsw_model(spec.hnsw) if spec.hnsw is not None else None,
    )


def _dense_from_model(params: models.VectorParams) -> DenseVectorSpec:
    datatype = params.datatype.value if params.datatype is not None else "float32"
    return DenseVectorSpec(
        size=params.size,
        distance=distance_name(params.distance),
        multivector=params.multivector_config is not None,
        datatype=datatype,  # type: ignore[arg-type]
        on_disk=bool(params.on_disk),
        quantization=quantization_from_model(params.quantization_config),
        hnsw=_hnsw_from_model(params.hnsw_config),
    )


def create_arguments(collection: str, schema: Schema) -> dict[str, Any]:
    """Keyword arguments of ``create_collection`` for *schema*."""
    dense = {name: _vector_params(spec) for name, spec in schema.dense.items()}
    vectors: models.VectorParams | dict[str, models.VectorParams] = (
        dense[""] if set(dense) == {""} else dense
    )
    arguments: dict[str, Any] = {"collection_name": collection, "vectors_config": vectors}
    if schema.sparse:
        arguments["sparse_vectors_config"] = {
            name: models.SparseVectorParams(
                index=models.SparseIndexParams(on_disk=True) if spec.on_disk else None,
                modifier=models.Modifier.IDF if spec.idf else None,
            )
            for name, spec in schema.sparse.items()
        }
    if schema.quantization is not None:
        arguments["quantization_config"] = model_quantization(schema.quantization)
    if schema.hnsw is not None:
        arguments["hnsw_config"] = _hnsw_model(schema.hnsw)
    if schema.metadata:
        arguments["metadata"] = dict(schema.metadata)
    for name in (
        "on_disk_payload",
        "shard_number",
        "replication_factor",
        "write_consistency_factor",
    ):
        if (value := getattr(schema, name)) is not None:
            arguments[name] = value
    return arguments


def schema_from_info(info: models.CollectionInfo) -> Schema:
    """A collection's ``get_collection`` info as the seam's :class:`Schema`."""
    params = info.config.params
    vectors = params.vectors
    named: Mapping[str, models.VectorParams] = (
        {"": vectors} if isinstance(vectors, models.VectorParams) else (vectors or {})
    )
    sparse = {
        name: SparseVectorSpec(
            idf=config.modifier == models.Modifier.IDF,
            on_disk=bool(config.index is not None and config.index.on_disk),
        )
        for name, config in (params.sparse_vectors or {}).items()
    }
    indexes: dict[str, PayloadIndexKind] = {}
    for key, index in (info.payload_schema or {}).items():
        kind = getattr(index.data_type, "value", index.data_type)
        indexes[key] = str(kind)  # type: ignore[assignment]
    metadata = getattr(info.config, "metadata", None)
    return Schema(
        dense={name: _dense_from_model(p) for name, p in named.items()},
        sparse=sparse,
        quantization=quantization_from_model(info.config.quantization_config),
        hnsw=_hnsw_from_model(info.config.hnsw_config),
        payload_indexes=indexes,
        metadata=dict(metadata) if isinstance(metadata, Mapping) else {},
        on_disk_payload=params.on_disk_payload,
        shard_number=params.shard_number,
        replication_factor=params.replication_factor,
        write_consistency_factor=params.write_consistency_factor,
    )


# --- filters, points, records --------------------------------------------------------------


def model_filter(value: Filter | None) -> models.Filter | None:
    """A JSON filter as a ``models.Filter`` (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, models.Filter):
        return value
    return models.Filter.model_validate(dict(value))


def points_selector(
    ids: Sequence[PointId] | None, filter: Filter | None
) -> models.PointIdsList | models.FilterSelector:
    """The points a delete selects: by id, by filter, or the listed ids the filter matches."""
    if ids is not None and filter is None:
        return models.PointIdsList(points=list(ids))
    combined = model_filter(filter)
    if combined is None:
        raise ValueError("delete: expected ids or a filter, found neither")
    if ids is not None:
        combined = models.Filter(must=[combined, models.HasIdCondition(has_id=list(ids))])
    return models.FilterSelector(filter=combined)


def _model_vector(value: VectorValue) -> Any:
    if isinstance(value, SparseVector):
        return models.SparseVector(indices=list(value.indices), values=list(value.values))
    return np.asarray(value, dtype=np.float32).tolist()


def points_batch(points: Sequence[Point]) -> list[models.PointStruct]:
    """Points as ``PointStruct``, vectors by name (``""``: the unnamed vector, as
    langchain-qdrant writes it; accepted with or without other named vectors)."""
    structs = []
    for point in points:
        vectors = {name: _model_vector(value) for name, value in point.vectors.items()}
        structs.append(models.PointStruct(id=point.id, vector=vectors, payload=dict(point.payload)))
    return structs


def set_payload_operations(
    updates: Sequence[tuple[PointId, Mapping[str, Any]]],
) -> list[models.UpdateOperation]:
    """One *set payload* operation per point (each merges its keys into that point's payload)."""
    return [
        models.SetPayloadOperation(
            set_payload=models.SetPayload(payload=dict(payload), points=[point])
        )
        for point, payload in updates
    ]


def _parse_vector(value: object) -> VectorValue:
    if isinstance(value, models.SparseVector):
        return SparseVector(tuple(value.indices), tuple(float(v) for v in value.values))
    return np.asarray(value, dtype=np.float32)


def _parse_vectors(value: object) -> dict[str, VectorValue] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {str(name): _parse_vector(item) for name, item in value.items()}
    return {"": _parse_vector(value)}


def record_id(value: object) -> PointId:
    """A qdrant-client point id (int, str or UUID) as the seam's."""
    return value if isinstance(value, int) else str(value)


def record_from_model(record: models.Record) -> Record:
    """A qdrant-client ``Record`` as the seam's."""
    return Record(
        id=record_id(record.id),
        payload=record.payload,
        vectors=_parse_vectors(record.vector),
    )


def hit_from_model(point: models.ScoredPoint) -> Hit:
    """A qdrant-client ``ScoredPoint`` as the seam's :class:`Hit`."""
    return Hit(
        id=record_id(point.id),
        score=float(point.score),
        payload=point.payload,
        vectors=_parse_vectors(point.vector),
    )


def selection(value: bool | tuple[str, ...]) -> bool | list[str]:
    """``with_payload`` / ``with_vectors`` as qdrant-client takes it."""
    return value if isinstance(value, bool) else list(value)


# --- queries -------------------------------------------------------------------------------


def _search_params(params: SearchParams | None) -> models.SearchParams | None:
    if params is None:
        return None
    quantization = None
    if params.rescore is not None or params.oversampling is not None:
        quantization = models.QuantizationSearchParams(
            rescore=params.rescore, oversampling=params.oversampling
        )
    return models.SearchParams(
        hnsw_ef=params.hnsw_ef, exact=params.exact, quantization=quantization
    )


def _query(scoring: Scoring | None, *, as_list: bool = False) -> Any:
    if scoring is None:
        return None
    if isinstance(scoring, Nearest):
        vector = scoring.vector
        if isinstance(vector, SparseVector):
            return _model_vector(vector)
        array = np.asarray(vector, dtype=np.float32)
        # A numpy array, not a list: local mode deep-copies the query (a list of floats costs
        # ~1 ms per search at 768 dims; an array, one memcpy). Multivectors go as lists.
        # Prefetch is a pydantic model typed for lists: it keeps a list.
        return array if array.ndim == 1 and not as_list else array.tolist()
    if isinstance(scoring, Fuse):
        if scoring.rrf_k is not None:
            return models.RrfQuery(rrf=models.Rrf(k=scoring.rrf_k))
        method = models.Fusion.RRF if scoring.method == "rrf" else models.Fusion.DBSF
        return models.FusionQuery(fusion=method)
    return models.NearestQuery(
        nearest=np.asarray(scoring.vector, dtype=np.float32).tolist(),
        mmr=models.Mmr(diversity=scoring.diversity, candidates_limit=scoring.candidates),
    )


def _using(scoring: Scoring | None) -> str | None:
    if isinstance(scoring, (Nearest, Mmr)):
        return scoring.using or None
    return None


def _prefetch(stage: Prefetch, with_params: bool) -> models.Prefetch:
    return models.Prefetch(
        query=_query(stage.query, as_list=True),
        using=_using(stage.query),
        limit=stage.limit,
        filter=model_filter(stage.filter),
        params=_search_params(stage.params) if with_params else None,
        prefetch=[_prefetch(inner, with_params) for inner in stage.prefetch] or None,
    )


def query_arguments(plan: QueryPlan, *, with_params: bool = True) -> dict[str, Any]:
    """Keyword arguments of ``query_points`` (collection name aside) for *plan*.

    ``with_params=False`` leaves search parameters out: local mode always searches exactly,
    and warns on every query that carries them.
    """
    arguments: dict[str, Any] = {
        "query": _query(plan.query),
        "using": _using(plan.query),
        "limit": plan.limit,
        "query_filter": model_filter(plan.filter),
        "score_threshold": plan.score_threshold,
        "search_params": _search_params(plan.params) if with_params else None,
        "with_payload": selection(plan.with_payload),
        "with_vectors": selection(plan.with_vectors),
    }
    if plan.offset:
        arguments["offset"] = plan.offset
    if plan.prefetch:
        stages = [_prefetch(stage, with_params) for stage in plan.prefetch]
        arguments["prefetch"] = stages[0] if len(stages) == 1 else stages
    return arguments
