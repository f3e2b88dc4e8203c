"""Collection settings, the schema they create, and the check of an existing collection.

:class:`CollectionSpec` says how a collection should look. A new collection is created from its
:meth:`~CollectionSpec.schema` (the storage seam's :class:`~t5_vectors.storage.base.Schema`) and
the encoder's ``dim``; an existing one is checked against it (vector size, distance, vector
name, single vs multi-vector) and any mismatch raises :class:`CollectionConfigError` before
anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, Union, cast

from t5_vectors.errors import CollectionConfigError, InvalidInputError
from t5_vectors.plan._mismatch import mismatch
from t5_vectors.plan.model_record import RECORD_KEY, ModelRecord
from t5_vectors.plan.payload import METADATA_KEY
from t5_vectors.plan.vectors import (
    SPARSE_RECORD_KEY,
    SparseVectors,
    TokenVectors,
    check_layout,
    check_names,
    sparse_vectors_option,
    token_vectors_option,
)
from t5_vectors.storage.base import (
    DenseVectorSpec,
    Distance,
    PayloadIndexKind,
    Quantization,
    Schema,
)
from t5_vectors.storage.inputs import engine_quantization, enum_text

if TYPE_CHECKING:
    from qdrant_client import models


SOURCE_KEY = f"{METADATA_KEY}.source"
"""The payload key of a chunk's source file; every new collection indexes it (file sync)."""

DistanceLike = Union[Literal["cosine", "dot", "euclid", "manhattan"], "models.Distance"]
QuantizationLike = Union[
    Literal["scalar", "binary", "product"],
    Quantization,
    "models.ScalarQuantization",
    "models.ProductQuantization",
    "models.BinaryQuantization",
]
_DISTANCES: tuple[Distance, ...] = ("cosine", "dot", "euclid", "manhattan")
_KINDS: tuple[PayloadIndexKind, ...] = (
    "keyword",
    "integer",
    "float",
    "bool",
    "text",
    "uuid",
    "datetime",
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
        quantization: ``"scalar"`` (int8), ``"binary"``, ``"product"`` (x16), a
            :class:`~t5_vectors.storage.base.Quantization` or a qdrant quantization config;
            ``None`` stores float32 only.
        shard_number: shards of a new collection (server default when ``None``).
        replication_factor: replicas of each shard (server default when ``None``).
        payload_indexes: metadata keys to index, as ``{"key": "keyword"}`` (schema per key) or a
            list of keys (keyword indexes). They index ``metadata.<key>``; qdrant-client's local
            mode has no payload indexes and skips them.
        token_vectors: also store token embeddings as a MaxSim multivector
            (:mod:`t5_vectors.plan.vectors`); ``None`` stores none.
        sparse_vectors: also store BM25 piece weights as a sparse vector; ``None`` stores none.
    """

    distance: DistanceLike = "cosine"
    vector_name: str | None = None
    on_disk: bool = False
    quantization: QuantizationLike | None = None
    shard_number: int | None = None
    replication_factor: int | None = None
    payload_indexes: Mapping[str, str] | Sequence[str] = ()
    token_vectors: TokenVectors | bool | None = None
    sparse_vectors: SparseVectors | bool | None = None

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
        object.__setattr__(self, "token_vectors", token_vectors_option(self.token_vectors))
        object.__setattr__(self, "sparse_vectors", sparse_vectors_option(self.sparse_vectors))
        check_names(self.vector_name, self.tokens, self.sparse)

    @property
    def metric(self) -> Distance:
        """The distance: ``"cosine"``, ``"dot"``, ``"euclid"`` or ``"manhattan"``."""
        return cast(Distance, self.distance)

    @property
    def tokens(self) -> TokenVectors | None:
        """The token multivector settings (``token_vectors=True`` made into them)."""
        return cast(TokenVectors | None, self.token_vectors)

    @property
    def sparse(self) -> SparseVectors | None:
        """The sparse vector settings (``sparse_vectors=True`` made into them)."""
        return cast(SparseVectors | None, self.sparse_vectors)

    def sized(self, d_model: int | None) -> CollectionSpec:
        """This spec with its token vectors sized for a model of *d_model* hidden units."""
        tokens = self.tokens
        if tokens is None or d_model is None or tokens.size == d_model:
            return self
        return replace(self, token_vectors=replace(tokens, size=d_model))

    def schema(self, dim: int, metadata: Mapping[str, Any] | None = None) -> Schema:
        """The storage seam's :class:`Schema` of a new collection of *dim*-sized vectors."""
        dense = {
            self.vector_name or "": DenseVectorSpec(
                size=dim, distance=self.metric, on_disk=self.on_disk
            )
        }
        if self.tokens is not None:
            dense[self.tokens.name] = self.tokens.spec()
        sparse = {}
        if self.sparse is not None:
            sparse[self.sparse.name] = self.sparse.spec()
        return Schema(
            dense=dense,
            sparse=sparse,
            quantization=cast(Quantization | None, self.quantization),
            payload_indexes={SOURCE_KEY: "keyword", **self.payload_index_fields()},
            metadata=dict(metadata or {}),
            shard_number=self.shard_number,
            replication_factor=self.replication_factor,
        )

    def payload_index_fields(self) -> dict[str, PayloadIndexKind]:
        """``{payload key: kind}`` of each payload index asked for, keys under ``metadata.``."""
        indexes = cast(Mapping[str, PayloadIndexKind], self.payload_indexes)
        return {f"{METADATA_KEY}.{key}": kind for key, kind in indexes.items()}

    def check(self, schema: Schema, collection_name: str, dim: int, model: str) -> None:
        """Raise :class:`CollectionConfigError` unless *schema* matches this spec and *dim*.

        Args:
            schema: the existing collection's schema.
            collection_name: its name, for the message.
            dim: the size of the vectors the embedding model produces.
            model: the embedding model's name, for the message.
        """
        wanted = "the unnamed vector" if self.vector_name is None else repr(self.vector_name)
        key = "" if self.vector_name is None else self.vector_name
        params = schema.dense.get(key)
        if params is None:
            names = [name for name in schema.dense if name]
            if "" in schema.dense:
                found = "the unnamed vector"
                use = " pass vector_name=None to use the unnamed vector,"
            else:
                found = f"named vectors {names}" if names else "no dense vectors"
                use = f" pass vector_name={names[0]!r} to use it," if names else ""
            raise mismatch(
                collection_name,
                f"dense vector {wanted}",
                found,
                f"{use} pass recreate=True to drop and recreate it (deletes its points), "
                "or use another collection_name",
            )
        if params.size != dim:
            raise mismatch(
                collection_name,
                f"vectors of size {dim} (from {model})",
                f"vectors of size {params.size}",
                " use the model the collection was built with, pass recreate=True to drop and "
                "recreate it (deletes its points), or use another collection_name",
            )
        if params.distance != self.distance:
            raise mismatch(
                collection_name,
                f"distance {self.distance!r}",
                f"distance {params.distance!r}",
                f" pass distance={params.distance!r} to use it as it is, pass recreate=True to "
                "drop and recreate it (deletes its points), or use another collection_name",
            )
        if params.multivector:
            raise mismatch(
                collection_name,
                "one vector per point",
                "a multi-vector (late interaction) configuration",
                " use another collection_name, or pass recreate=True to drop and recreate it "
                "(deletes its points)",
            )
        check_layout(schema, collection_name, self.tokens, self.sparse)


def _distance(value: object) -> Distance:
    value = enum_text(value)
    if isinstance(value, str) and value.lower() in _DISTANCES:
        return value.lower()  # type: ignore[return-value]
    names = ", ".join(map(repr, _DISTANCES))
    raise InvalidInputError(f"distance: expected one of {names}, found {value!r}.")


def _quantization(value: object) -> Quantization | None:
    if value is None or isinstance(value, Quantization):
        return value
    if value == "scalar":
        return Quantization("scalar", always_ram=True, quantile=0.99)
    if value == "binary":
        return Quantization("binary", always_ram=True)
    if value == "product":
        return Quantization("product", always_ram=True, compression="x16")
    converted = engine_quantization(value)
    if converted is not None:
        return converted
    raise InvalidInputError(
        "quantization: expected None, 'scalar', 'binary', 'product' or a qdrant "
        f"ScalarQuantization / BinaryQuantization / ProductQuantization, found {value!r}."
    )


def _payload_indexes(value: object) -> dict[str, PayloadIndexKind]:
    if isinstance(value, str):
        raise InvalidInputError(
            f"payload_indexes: expected a list of metadata keys or a dict key -> schema, found "
            f"the str {value!r}. Write payload_indexes=[{value!r}]."
        )
    items: list[tuple[object, object]]
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, Sequence):
        items = [(key, "keyword") for key in value]
    else:
        raise InvalidInputError(
            "payload_indexes: expected a list of metadata keys or a dict key -> schema, found "
            f"{type(value).__name__}."
        )
    schemas = ", ".join(map(repr, _KINDS))
    indexes: dict[str, PayloadIndexKind] = {}
    for key, schema in items:
        if not isinstance(key, str) or not key:
            raise InvalidInputError(
                f"payload_indexes: expected non-empty str metadata keys, found {key!r}."
            )
        kind = getattr(schema, "value", schema)
        if kind not in _KINDS:
            raise InvalidInputError(
                f"payload_indexes[{key!r}]: expected one of {schemas}, found {schema!r}."
            )
        indexes[key] = kind
    return indexes


def new_schema(spec: CollectionSpec, dim: int, record: ModelRecord | None) -> Schema:
    """The schema of a new collection laid out by *spec*, carrying the model *record*."""
    metadata: dict[str, Any] = {}
    if record is not None:
        metadata = record.to_metadata()
        if spec.sparse is not None:
            metadata[RECORD_KEY][SPARSE_RECORD_KEY] = spec.sparse.record()
    return spec.schema(dim, metadata)


SHOWN_COLLECTIONS = 20
"""Most collection names a missing collection's message lists."""


def missing_collection(name: str, where: str, existing: Sequence[str]) -> CollectionConfigError:
    """The error for collection *name*, missing from storage *where* and not to be created.

    Args:
        name: the collection asked for.
        where: the storage's location (a folder, a URL), for the message.
        existing: the collections the storage holds, listed (up to :data:`SHOWN_COLLECTIONS`)
            so that a misspelt name shows its right spelling.
    """
    names = sorted(existing)
    if not names:
        holds = "which holds no collections"
    else:
        shown = ", ".join(map(repr, names[:SHOWN_COLLECTIONS]))
        more = len(names) - SHOWN_COLLECTIONS
        holds = f"which holds only {shown}" + (f" and {more} more" if more > 0 else "")
    return CollectionConfigError(
        f"Qdrant collection {name!r} does not exist.\n"
        "  expected: an existing collection\n"
        f"  found:    no collection of that name in {where}, {holds}\n"
        "  fix:      check collection_name and the storage (storage=; path= or url= on "
        "T5QdrantVectorStore), or let it be created (create_if_missing=True, or "
        "T5QdrantVectorStore.from_documents)."
    )


def missing_indexes(spec: CollectionSpec, schema: Schema) -> dict[str, PayloadIndexKind]:
    """The payload indexes *spec* asks for that the collection of *schema* lacks."""
    wanted = spec.payload_index_fields()
    return {key: kind for key, kind in wanted.items() if key not in schema.payload_indexes}
