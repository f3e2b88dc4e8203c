"""What an existing collection stores, read from its configuration.

:func:`collection_layout` turns a collection's schema (the storage seam's
:class:`~t5_vectors.storage.base.Schema`, from ``Backend.describe``) into a
:class:`CollectionLayout`: the pooled vector's name, size and distance, and the
:class:`~t5_vectors.plan.vectors.TokenVectors` / :class:`~t5_vectors.plan.vectors.SparseVectors`
options that match the token multivector and the sparse vector it has (``None`` for those it
lacks). Opening the collection with them fills every vector it has on each write and serves
every search mode it can::

    from t5_vectors import QdrantIndex
    from t5_vectors.plan.layout import collection_layout

    layout = collection_layout(index.backend.describe("docs"), "docs")
    index = QdrantIndex(encoder, collection_name="docs", storage="./data", spec=layout.spec())
    if layout.serves("hybrid"):
        hits = index.search("zqxj", mode="hybrid")

How the vectors are recognised:

* the pooled vector is the unnamed one (``""`` among named vectors, as langchain-qdrant writes
  it), else the only named vector that is not a multivector;
* token vectors are a multivector with ``comparator=MAX_SIM``, ``distance=DOT`` and a float32 or
  float16 datatype, preferably named ``"tokens"``; its datatype, scalar quantization, ``on_disk``
  and HNSW setting are read back;
* sparse vectors are a sparse vector with the IDF modifier, preferably named
  ``"langchain-sparse"``. Its BM25 weighting (``k1``, ``b``, ``avg_length``, ``lowercase``) is
  not part of Qdrant's configuration: t5-vectors records it in the collection's metadata when it
  creates the collection, and collections without that record get the defaults.

Token and sparse vectors are recognised only in collections that carry t5-vectors' model
record (:mod:`t5_vectors.plan.model_record`; every collection t5-vectors creates has one). A
collection written by another tool may hold vectors of the same shape from another model
(langchain-qdrant's FastEmbed BM25 under the very name ``"langchain-sparse"``): querying them
with T5 pieces, or writing T5 pieces into them, would give wrong results without any error.
Such vectors are listed in :attr:`CollectionLayout.foreign` instead, as are vectors of any
collection that t5-vectors cannot fill.

Two candidates for one role (two MaxSim multivectors, none named ``"tokens"``) cannot be told
apart and raise :class:`~t5_vectors.errors.CollectionConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from t5_vectors.errors import CollectionConfigError, InvalidInputError
from t5_vectors.plan.collection import CollectionSpec
from t5_vectors.plan.model_record import RECORD_KEY, read_record
from t5_vectors.plan.modes import MODES
from t5_vectors.plan.vectors import (
    SPARSE_RECORD_KEY,
    SPARSE_VECTOR_NAME,
    TOKEN_VECTOR_NAME,
    SparseVectors,
    TokenVectors,
)
from t5_vectors.storage.base import (
    DenseVectorSpec,
    Distance,
    Quantization,
    Schema,
    SparseVectorSpec,
)
from t5_vectors.storage.inputs import engine_schema

_TOKEN_DATATYPES = ("float32", "float16")
_TOKEN_MODES = ("maxsim", "rerank")
_SPARSE_MODES = ("sparse", "hybrid")
_WEIGHTING_KEYS = ("k1", "b", "avg_length", "lowercase")


@dataclass(frozen=True)
class CollectionLayout:
    """The vectors an existing collection stores.

    Attributes:
        vector_name: the pooled vector's name (``None``: the unnamed vector).
        dim: the pooled vector's size.
        distance: the pooled vector's distance: ``"cosine"``, ``"dot"``, ``"euclid"`` or
            ``"manhattan"``.
        tokens: the token multivector's options, or ``None`` when it has none.
        sparse: the sparse vector's options, or ``None`` when it has none.
        quantization: the collection's quantization of the pooled vector
            (:class:`~t5_vectors.storage.base.Quantization`), or ``None``.
        foreign: names of the other vectors, which t5-vectors neither searches nor fills (points
            it writes lack them).
    """

    vector_name: str | None
    dim: int
    distance: Distance
    tokens: TokenVectors | None = None
    sparse: SparseVectors | None = None
    quantization: Quantization | None = None
    foreign: tuple[str, ...] = ()

    @property
    def modes(self) -> tuple[str, ...]:
        """The search modes the collection serves, in :data:`~.retrieval.MODES` order."""
        return tuple(mode for mode in MODES if self.serves(mode))

    def serves(self, mode: str) -> bool:
        """Whether ``search(mode=mode)`` can run on the collection."""
        if mode in _TOKEN_MODES:
            return self.tokens is not None
        if mode in _SPARSE_MODES:
            return self.sparse is not None
        return mode in MODES

    def spec(self) -> CollectionSpec:
        """The layout as a :class:`~.collection.CollectionSpec`."""
        return CollectionSpec(
            distance=self.distance,
            vector_name=self.vector_name,
            quantization=self.quantization,
            token_vectors=self.tokens,
            sparse_vectors=self.sparse,
        )


def collection_layout(schema: Schema | Any, collection: str = "") -> CollectionLayout:
    """The layout of the collection described by *schema*.

    Args:
        schema: the collection's :class:`~t5_vectors.storage.base.Schema`
            (``Backend.describe``); a qdrant-client ``CollectionInfo`` is still read, for
            callers written before the storage seam.
        collection: its name, for messages.

    Raises:
        CollectionConfigError: it has no pooled vector, or two candidates for one role.
    """
    if not isinstance(schema, Schema):
        translated = engine_schema(schema)
        if not isinstance(translated, Schema):
            raise InvalidInputError(
                f"schema: expected a Schema (Backend.describe) or a qdrant CollectionInfo, "
                f"found {type(schema).__name__}."
            )
        schema = translated
    named = schema.dense
    vector_name, dense = _dense(named, collection)
    tokens = sparse = None
    if read_record(schema) is not None:
        tokens = _tokens(named, collection)
        sparse = _sparse(schema.sparse, schema.metadata, collection)
    known = {vector_name or ""} | {v.name for v in (tokens, sparse) if v is not None}
    return CollectionLayout(
        vector_name=vector_name,
        dim=dense.size,
        distance=dense.distance,
        tokens=tokens,
        sparse=sparse,
        quantization=schema.quantization,
        foreign=tuple(sorted((set(named) | set(schema.sparse)) - known)),
    )


def _dense(
    named: Mapping[str, DenseVectorSpec], collection: str
) -> tuple[str | None, DenseVectorSpec]:
    plain = {name: p for name, p in named.items() if not p.multivector}
    if "" in plain:
        return None, plain[""]
    if len(plain) == 1:
        ((name, params),) = plain.items()
        return name, params
    found = f"named vectors {sorted(plain)}" if plain else "no single-vector (pooled) vector"
    raise CollectionConfigError(
        f"Qdrant collection {collection!r}: expected one pooled vector (unnamed, or the only "
        f"named one), found {found}. Open it with spec=CollectionSpec(vector_name=...) naming "
        "the one to use."
    )


def _tokens(named: Mapping[str, DenseVectorSpec], collection: str) -> TokenVectors | None:
    candidates = {
        name: p
        for name, p in named.items()
        if p.multivector and p.distance == "dot" and p.datatype in _TOKEN_DATATYPES
    }
    name = _pick(candidates, TOKEN_VECTOR_NAME, "MaxSim token multivectors", collection)
    if name is None:
        return None
    params = candidates[name]
    quantization = params.quantization
    return TokenVectors(
        name=name,
        datatype=params.datatype,  # type: ignore[arg-type]
        quantization=(
            quantization if quantization is not None and quantization.kind == "scalar" else None
        ),
        on_disk=params.on_disk,
        hnsw=params.hnsw is None or params.hnsw.m != 0,
        size=params.size,
    )


def _sparse(
    configs: Mapping[str, SparseVectorSpec], metadata: object, collection: str
) -> SparseVectors | None:
    candidates = {name: p for name, p in configs.items() if p.idf}
    name = _pick(candidates, SPARSE_VECTOR_NAME, "sparse vectors with the IDF modifier", collection)
    if name is None:
        return None
    on_disk = candidates[name].on_disk
    weighting = _recorded_weighting(metadata)
    if weighting is not None:
        try:
            return SparseVectors(name=name, on_disk=on_disk, **weighting)
        except InvalidInputError:
            pass  # an unreadable record is ignored, as read_record ignores one
    return SparseVectors(name=name, on_disk=on_disk)


def _recorded_weighting(metadata: object) -> dict[str, Any] | None:
    record = metadata.get(RECORD_KEY) if isinstance(metadata, Mapping) else None
    weighting = record.get(SPARSE_RECORD_KEY) if isinstance(record, Mapping) else None
    if not isinstance(weighting, Mapping):
        return None
    return {key: weighting[key] for key in _WEIGHTING_KEYS if key in weighting}


def _pick(
    candidates: Mapping[str, object], preferred: str, what: str, collection: str
) -> str | None:
    if preferred in candidates:
        return preferred
    if len(candidates) <= 1:
        return next(iter(candidates), None)
    raise CollectionConfigError(
        f"Qdrant collection {collection!r}: expected at most one of {what} (or one named "
        f"{preferred!r}), found {sorted(candidates)}. Open it with QdrantIndex and the options "
        "naming the one to use."
    )
