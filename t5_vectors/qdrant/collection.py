"""Collection settings, creation arguments, and the check of an existing collection.

:class:`CollectionSpec` says how a collection should look. A new collection is created from it
and the encoder's ``dim``; an existing one is checked against it (vector size, distance, vector
name, single vs multi-vector) and any mismatch raises :class:`CollectionConfigError` before
anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from qdrant_client import models

from t5_vectors.errors import CollectionConfigError, InvalidInputError
from t5_vectors.qdrant.connection import Connection
from t5_vectors.qdrant.model_record import RECORD_KEY, ModelIdentity
from t5_vectors.qdrant.payload import METADATA_KEY
from t5_vectors.qdrant.vectors import (
    SPARSE_RECORD_KEY,
    SparseVectors,
    TokenVectors,
    check_layout,
    check_names,
    extend_create_arguments,
)

__all__ = [
    "CollectionSpec",
    "DistanceLike",
    "QuantizationLike",
    "aensure_collection",
    "ensure_collection",
]

DistanceLike = Literal["cosine", "dot", "euclid", "manhattan"] | models.Distance
QuantizationLike = (
    Literal["scalar", "binary", "product"]
    | models.ScalarQuantization
    | models.ProductQuantization
    | models.BinaryQuantization
)
_QUANTIZATION_TYPES = (
    models.ScalarQuantization,
    models.ProductQuantization,
    models.BinaryQuantization,
)


@dataclass(frozen=True)
class CollectionSpec:
    """How a collection is laid out; validated on creation.

    Attributes:
        distance: ``"cosine"`` (default), ``"dot"``, ``"euclid"``, ``"manhattan"`` or a
            ``models.Distance``.
        vector_name: name of the dense vector; ``None`` (or ``""``) is the unnamed vector, as
            langchain-qdrant uses it.
        on_disk: keep the original vectors on disk (memmapped) instead of in RAM.
        quantization: ``"scalar"`` (int8), ``"binary"``, ``"product"`` (x16), or a qdrant
            quantization config; ``None`` stores float32 only.
        shard_number: shards of a new collection (server default when ``None``).
        replication_factor: replicas of each shard (server default when ``None``).
        payload_indexes: metadata keys to index, as ``{"key": "keyword"}`` (schema per key) or a
            list of keys (keyword indexes). They index ``metadata.<key>``; embedded Qdrant has no
            payload indexes and skips them.
        token_vectors: also store token embeddings as a MaxSim multivector
            (:mod:`t5_vectors.qdrant.vectors`); ``None`` stores none.
        sparse_vectors: also store BM25 piece weights as a sparse vector; ``None`` stores none.
    """

    distance: DistanceLike = "cosine"
    vector_name: str | None = None
    on_disk: bool = False
    quantization: QuantizationLike | None = None
    shard_number: int | None = None
    replication_factor: int | None = None
    payload_indexes: Mapping[str, str | models.PayloadSchemaType] | Sequence[str] = ()
    token_vectors: TokenVectors | None = None
    sparse_vectors: SparseVectors | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "distance", _distance(self.distance))
        if self.vector_name is not None and not isinstance(self.vector_name, str):
            raise InvalidInputError(
                f"vector_name: expected a str or None, found {type(self.vector_name).__name__}."
            )
        if self.vector_name == "":
            object.__setattr__(self, "vector_name", None)
        if not isinstance(self.on_disk, bool):
            raise InvalidInputError(f"on_disk: expected True or False, found {self.on_disk!r}.")
        object.__setattr__(self, "quantization", _quantization(self.quantization))
        for name in ("shard_number", "replication_factor"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise InvalidInputError(
                    f"{name}: expected a positive int or None, found {value!r}."
                )
        object.__setattr__(self, "payload_indexes", _payload_indexes(self.payload_indexes))
        check_names(self.vector_name, self.token_vectors, self.sparse_vectors)

    @property
    def qdrant_distance(self) -> models.Distance:
        """The distance as a ``models.Distance``."""
        assert isinstance(self.distance, models.Distance)
        return self.distance

    def create_arguments(self, collection_name: str, dim: int) -> dict[str, Any]:
        """Keyword arguments of ``create_collection`` for vectors of size *dim*."""
        params = models.VectorParams(
            size=dim, distance=self.qdrant_distance, on_disk=self.on_disk or None
        )
        vectors: models.VectorParams | dict[str, models.VectorParams] = (
            params if self.vector_name is None else {self.vector_name: params}
        )
        arguments: dict[str, Any] = {
            "collection_name": collection_name,
            "vectors_config": vectors,
        }
        extend_create_arguments(
            arguments, self.vector_name, self.token_vectors, self.sparse_vectors
        )
        if self.quantization is not None:
            arguments["quantization_config"] = self.quantization
        if self.shard_number is not None:
            arguments["shard_number"] = self.shard_number
        if self.replication_factor is not None:
            arguments["replication_factor"] = self.replication_factor
        return arguments

    def payload_index_fields(self) -> list[tuple[str, models.PayloadSchemaType]]:
        """``(field_name, schema)`` of each payload index, keys under ``metadata.``."""
        assert isinstance(self.payload_indexes, Mapping)
        return [
            (f"{METADATA_KEY}.{key}", models.PayloadSchemaType(schema))
            for key, schema in self.payload_indexes.items()
        ]

    def check(
        self, info: models.CollectionInfo, collection_name: str, dim: int, model: str
    ) -> None:
        """Raise :class:`CollectionConfigError` unless *info* matches this spec and *dim*.

        Args:
            info: ``get_collection`` of the existing collection.
            collection_name: its name, for the message.
            dim: the size of the vectors the embedding model produces.
            model: the embedding model's name, for the message.
        """
        vectors = info.config.params.vectors
        wanted = "the unnamed vector" if self.vector_name is None else repr(self.vector_name)
        if isinstance(vectors, Mapping):
            key = "" if self.vector_name is None else self.vector_name
            params = vectors.get(key)
            if params is None:
                names = [name for name in vectors if name]
                found = f"named vectors {names}" if names else "no dense vectors"
                use = f" pass vector_name={names[0]!r} to use it," if names else ""
                raise _mismatch(
                    collection_name,
                    f"dense vector {wanted}",
                    found,
                    f"{use} pass recreate=True to drop and recreate it (deletes its points), "
                    "or use another collection_name",
                )
        elif vectors is None or self.vector_name is not None:
            raise _mismatch(
                collection_name,
                f"dense vector {wanted}",
                "the unnamed vector" if vectors is not None else "no dense vectors",
                " pass vector_name=None to use the unnamed vector, pass recreate=True to drop and "
                "recreate it (deletes its points), or use another collection_name",
            )
        else:
            params = vectors
        if params.size != dim:
            raise _mismatch(
                collection_name,
                f"vectors of size {dim} (from {model})",
                f"vectors of size {params.size}",
                " use the model the collection was built with, pass recreate=True to drop and "
                "recreate it (deletes its points), or use another collection_name",
            )
        if params.distance != self.qdrant_distance:
            found = params.distance.value.lower()
            raise _mismatch(
                collection_name,
                f"distance {self.qdrant_distance.value.lower()!r}",
                f"distance {found!r}",
                f" pass distance={found!r} to use it as it is, pass recreate=True to drop and "
                "recreate it (deletes its points), or use another collection_name",
            )
        if params.multivector_config is not None:
            raise _mismatch(
                collection_name,
                "one vector per point",
                "a multi-vector (late interaction) configuration",
                " use another collection_name, or pass recreate=True to drop and recreate it "
                "(deletes its points)",
            )
        check_layout(info, collection_name, self.token_vectors, self.sparse_vectors)


def _mismatch(collection: str, expected: str, found: str, fix: str) -> CollectionConfigError:
    return CollectionConfigError(
        f"Qdrant collection {collection!r} does not match the requested configuration.\n"
        f"  expected: {expected}\n"
        f"  found:    {found}\n"
        f"  fix:     {fix}."
    )


def _distance(value: object) -> models.Distance:
    if isinstance(value, models.Distance):
        return value
    if isinstance(value, str):
        for distance in models.Distance:
            if value.lower() == distance.value.lower():
                return distance
    names = ", ".join(repr(d.value.lower()) for d in models.Distance)
    raise InvalidInputError(f"distance: expected one of {names}, found {value!r}.")


def _quantization(value: object) -> object:
    if value is None or isinstance(value, _QUANTIZATION_TYPES):
        return value
    if value == "scalar":
        return models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(
                type=models.ScalarType.INT8, quantile=0.99, always_ram=True
            )
        )
    if value == "binary":
        return models.BinaryQuantization(binary=models.BinaryQuantizationConfig(always_ram=True))
    if value == "product":
        return models.ProductQuantization(
            product=models.ProductQuantizationConfig(
                compression=models.CompressionRatio.X16, always_ram=True
            )
        )
    raise InvalidInputError(
        "quantization: expected None, 'scalar', 'binary', 'product' or a qdrant "
        f"ScalarQuantization / BinaryQuantization / ProductQuantization, found {value!r}."
    )


def _payload_indexes(value: object) -> dict[str, models.PayloadSchemaType]:
    if isinstance(value, str):
        raise InvalidInputError(
            f"payload_indexes: expected a list of metadata keys or a dict key -> schema, found "
            f"the str {value!r}. Write payload_indexes=[{value!r}]."
        )
    items: list[tuple[object, object]]
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, Sequence):
        items = [(key, models.PayloadSchemaType.KEYWORD) for key in value]
    else:
        raise InvalidInputError(
            "payload_indexes: expected a list of metadata keys or a dict key -> schema, found "
            f"{type(value).__name__}."
        )
    schemas = ", ".join(repr(s.value) for s in models.PayloadSchemaType)
    indexes: dict[str, models.PayloadSchemaType] = {}
    for key, schema in items:
        if not isinstance(key, str) or not key:
            raise InvalidInputError(
                f"payload_indexes: expected non-empty str metadata keys, found {key!r}."
            )
        try:
            indexes[key] = models.PayloadSchemaType(schema)
        except ValueError:
            raise InvalidInputError(
                f"payload_indexes[{key!r}]: expected one of {schemas}, found {schema!r}."
            ) from None
    return indexes


def ensure_collection(
    connection: Connection,
    name: str,
    spec: CollectionSpec,
    dim: int,
    model: str,
    *,
    recreate: bool,
    create_if_missing: bool,
    identity: ModelIdentity | None = None,
) -> None:
    """Create collection *name* from *spec*, or check the existing one against it.

    Args:
        connection: the clients.
        name: the collection.
        spec: how it should look.
        dim: size of the embedding model's vectors.
        model: the model's name, for messages.
        recreate: drop an existing collection first.
        create_if_missing: create a missing collection (else raise).
        identity: the model to record in a new collection and to check an existing one's
            record against (:mod:`t5_vectors.qdrant.model_record`).
    """
    exists = connection.collection_exists(name)
    if exists and recreate:
        connection.delete_collection(name)
        exists = False
    info = connection.get_collection(name) if exists else None
    if info is not None:
        spec.check(info, name, dim, model)
        if identity is not None:
            identity.check(info, name)
    else:
        _check_may_create(name, create_if_missing)
        connection.create_collection(_create_arguments(spec, name, dim, identity))
    for field_name, schema in _missing_indexes(connection, spec, info):
        connection.create_payload_index(name, field_name, schema)


async def aensure_collection(
    connection: Connection,
    name: str,
    spec: CollectionSpec,
    dim: int,
    model: str,
    *,
    recreate: bool,
    create_if_missing: bool,
    identity: ModelIdentity | None = None,
) -> None:
    """Async :func:`ensure_collection`."""
    exists = await connection.acollection_exists(name)
    if exists and recreate:
        await connection.adelete_collection(name)
        exists = False
    info = await connection.aget_collection(name) if exists else None
    if info is not None:
        spec.check(info, name, dim, model)
        if identity is not None:
            identity.check(info, name)
    else:
        _check_may_create(name, create_if_missing)
        await connection.acreate_collection(_create_arguments(spec, name, dim, identity))
    for field_name, schema in _missing_indexes(connection, spec, info):
        await connection.acreate_payload_index(name, field_name, schema)


def _create_arguments(
    spec: CollectionSpec, name: str, dim: int, identity: ModelIdentity | None
) -> dict[str, Any]:
    arguments = spec.create_arguments(name, dim)
    if identity is not None:
        metadata = identity.record(spec.qdrant_distance).to_metadata()
        if spec.sparse_vectors is not None:
            metadata[RECORD_KEY][SPARSE_RECORD_KEY] = spec.sparse_vectors.record()
        arguments["metadata"] = metadata
    return arguments


def _check_may_create(name: str, create_if_missing: bool) -> None:
    if not create_if_missing:
        raise CollectionConfigError(
            f"Qdrant collection {name!r} does not exist.\n"
            "  expected: an existing collection\n"
            "  found:    no collection of that name\n"
            "  fix:      check the name and the connection, or let it be created "
            "(create_if_missing=True, or T5QdrantVectorStore.from_documents)."
        )


def _missing_indexes(
    connection: Connection, spec: CollectionSpec, info: models.CollectionInfo | None
) -> list[tuple[str, models.PayloadSchemaType]]:
    if connection.local:
        return []  # embedded Qdrant has no payload indexes (and warns on each one)
    existing = info.payload_schema if info is not None else {}
    return [item for item in spec.payload_index_fields() if item[0] not in existing]
