"""The named-vector layout beside the pooled vector: token multivectors and sparse term vectors.

A collection always holds the pooled (dense) vector, under ``vector_name`` (unnamed by default,
as langchain-qdrant writes it). Two optional vectors join it:

* :class:`TokenVectors` -- every chunk's contextual token embeddings (T5's ``last_hidden_state``
  rows, ``</s>`` included, padding excluded, at most ``max_length``), L2-normalised and stored as
  one Qdrant multivector (``comparator=MAX_SIM``, ``distance=DOT``, size ``d_model``) named
  ``"tokens"``. A query's score is ``sum_i max_j cos(q_i, d_j)``: ColBERT's MaxSim.
* :class:`SparseVectors` -- BM25 weights of the T5 tokenizer's pieces
  (:mod:`t5_vectors.encoder.sparse`) stored as a sparse vector with ``modifier=IDF``, named
  ``"langchain-sparse"`` as langchain-qdrant names its sparse vector.

Token vectors cost ``n_tokens * d_model`` values per chunk (about 200 x 768 x 4 bytes = 600 KB
for a 200-token chunk of T5-base in float32) against ``dim`` values for the pooled vector, so
they can be stored as float16 (half), int8 scalar-quantized in RAM with the originals on disk,
or both. Qdrant's ``uint8`` datatype is not offered: it expects elements in ``[0, 255]`` and casts
query elements to ``u8`` too, which destroys the signed, normalised T5 token vectors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, TypeVar, Union, cast

import numpy as np

from t5_vectors._checks import check_distinct
from t5_vectors.errors import InvalidInputError
from t5_vectors.plan._mismatch import mismatch
from t5_vectors.storage.base import (
    DenseVectorSpec,
    Hnsw,
    Quantization,
    Schema,
    SparseVector,
    SparseVectorSpec,
)
from t5_vectors.storage.inputs import engine_quantization, enum_text

if TYPE_CHECKING:  # the encoder package imports torch; info and delete never need it
    from qdrant_client import models

    from t5_vectors.encoder.sparse import SparseConfig, SparseTerms


T = TypeVar("T")

TOKEN_VECTOR_NAME = "tokens"
SPARSE_VECTOR_NAME = "langchain-sparse"
SPARSE_RECORD_KEY = "sparse"
"""Key of the BM25 weighting in the ``t5_vectors`` record of a collection's metadata (Qdrant's
configuration has no place for it; :mod:`t5_vectors.plan.layout` reads it back)."""

TokenDatatype = Literal["float32", "float16"]


class Datatype(StrEnum):
    """A token vector value's stored type (a ``str`` enum, as qdrant-client's ``Datatype``)."""

    FLOAT32 = "float32"
    FLOAT16 = "float16"


_BYTES = {Datatype.FLOAT32: 4, Datatype.FLOAT16: 2}
_EPSILON = 1e-12


@dataclass(frozen=True)
class TokenVectors:
    """Store each chunk's token embeddings as a MaxSim multivector; validated on creation.

    Attributes:
        name: the multivector's name.
        datatype: ``"float32"`` (4 bytes a value) or ``"float16"`` (2 bytes; vectors and queries
            are rounded to float16 before they are sent, so every Qdrant scores the same values).
        quantization: ``"scalar"`` keeps an int8 copy in RAM (1 byte a value) and rescores with
            the originals; ``None`` keeps only the originals.
        on_disk: keep the original token vectors on disk (memmapped) instead of in RAM.
        hnsw: build an HNSW graph on the multivector. Off by default: re-ranking dense
            candidates (``mode="rerank"``) needs none, and ``mode="maxsim"`` then scans every
            point exactly, which suits small collections and evaluation.
        size: ``d_model`` of the encoder (filled in by ``QdrantIndex``).
    """

    name: str = TOKEN_VECTOR_NAME
    datatype: Union[TokenDatatype, Datatype, models.Datatype] = "float32"  # noqa: UP007
    quantization: Union[Literal["scalar"], Quantization, models.ScalarQuantization, None] = None  # noqa: UP007
    on_disk: bool = False
    hnsw: bool = False
    size: int | None = None

    def __post_init__(self) -> None:
        _check_name("token vectors' name", self.name)
        datatype: object = enum_text(self.datatype)
        if datatype in ("float32", "float16"):
            datatype = Datatype(datatype)
        if datatype not in _BYTES:
            found = getattr(datatype, "value", datatype)
            hint = (
                " uint8 expects elements in [0, 255] and Qdrant casts query values to u8 as "
                "well, which breaks signed token vectors; use quantization='scalar' for 1 byte "
                "a value."
                if found == "uint8"
                else ""
            )
            raise InvalidInputError(
                f"token vectors' datatype: expected 'float32' or 'float16', found {found!r}." + hint
            )
        object.__setattr__(self, "datatype", datatype)
        quantization = self.quantization
        if quantization == "scalar":
            quantization = Quantization("scalar", always_ram=True, quantile=0.99)
        elif quantization is not None and not isinstance(quantization, Quantization):
            quantization = engine_quantization(quantization) or quantization
        if quantization is not None and not (
            isinstance(quantization, Quantization) and quantization.kind == "scalar"
        ):
            raise InvalidInputError(
                "token vectors' quantization: expected None, 'scalar' or a qdrant "
                f"ScalarQuantization, found {quantization!r}."
            )
        object.__setattr__(self, "quantization", quantization)
        for flag in ("on_disk", "hnsw"):
            if not isinstance(getattr(self, flag), bool):
                raise InvalidInputError(
                    f"token vectors' {flag}: expected True or False, found {getattr(self, flag)!r}."
                )
        if self.size is not None and (
            isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1
        ):
            raise InvalidInputError(
                f"token vectors' size: expected a positive int, found {self.size!r}."
            )

    @property
    def qdrant_datatype(self) -> Datatype:
        """The datatype as a :class:`Datatype` (a ``str`` enum: ``"float32"``, ``"float16"``)."""
        return cast(Datatype, self.datatype)  # made one in __post_init__

    @property
    def bytes_per_value(self) -> int:
        """Bytes of one stored value (4 for float32, 2 for float16)."""
        return _BYTES[self.qdrant_datatype]

    @property
    def fingerprint(self) -> str:
        """Identifies what is stored per point (part of each content hash)."""
        return f"tokens:{self.name}:{self.qdrant_datatype.value}"

    def spec(self) -> DenseVectorSpec:
        """The multivector as the storage seam describes it."""
        if self.size is None:
            raise InvalidInputError(
                "token vectors' size: expected the model's hidden size, found none. Pass "
                "TokenVectors(size=...), or let QdrantIndex size them from its T5 encoder."
            )
        return DenseVectorSpec(
            size=self.size,
            distance="dot",
            multivector=True,
            datatype="float16" if self.datatype == "float16" else "float32",
            on_disk=self.on_disk,
            quantization=cast(Quantization | None, self.quantization),
            hnsw=None if self.hnsw else Hnsw(m=0),
        )

    def prepare(self, tokens: np.ndarray) -> list[list[float]]:
        """One text's ``(n_tokens, d_model)`` rows, L2-normalised (and rounded to float16)."""
        rows = np.asarray(tokens, dtype=np.float32)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        rows = rows / np.maximum(norms, _EPSILON)
        if self.qdrant_datatype == Datatype.FLOAT16:
            rows = rows.astype(np.float16).astype(np.float32)
        return rows.tolist()  # type: ignore[no-any-return]


@dataclass(frozen=True)
class SparseVectors:
    """Store BM25-weighted tokenizer pieces as a sparse vector with Qdrant's IDF modifier.

    Attributes:
        name: the sparse vector's name (langchain-qdrant's by default).
        k1: term-frequency saturation.
        b: length normalisation in ``[0, 1]``.
        avg_length: expected average pieces per chunk.
        lowercase: lower-case texts before tokenizing.
        on_disk: keep the sparse index on disk.
    """

    name: str = SPARSE_VECTOR_NAME
    k1: float = 1.2
    b: float = 0.75
    avg_length: float = 256.0
    lowercase: bool = True
    on_disk: bool = False

    def __post_init__(self) -> None:
        _check_name("sparse vectors' name", self.name)
        self.weighting  # validates k1, b, avg_length, lowercase  # noqa: B018
        if not isinstance(self.on_disk, bool):
            raise InvalidInputError(
                f"sparse vectors' on_disk: expected True or False, found {self.on_disk!r}."
            )

    @property
    def weighting(self) -> SparseConfig:
        """The term weighting as a :class:`~t5_vectors.encoder.sparse.SparseConfig`."""
        from t5_vectors.encoder.sparse import SparseConfig

        return SparseConfig(
            k1=self.k1, b=self.b, avg_length=self.avg_length, lowercase=self.lowercase
        )

    @property
    def fingerprint(self) -> str:
        """Identifies what is stored per point (part of each content hash)."""
        return f"sparse:{self.name}:{self.weighting.fingerprint}"

    def record(self) -> dict[str, float | bool]:
        """The weighting as recorded in the collection's metadata."""
        return {
            "k1": self.k1,
            "b": self.b,
            "avg_length": self.avg_length,
            "lowercase": self.lowercase,
        }

    def spec(self) -> SparseVectorSpec:
        """The sparse vector as the storage seam describes it (IDF modifier)."""
        return SparseVectorSpec(idf=True, on_disk=self.on_disk)


def to_sparse_vector(terms: SparseTerms) -> SparseVector:
    """A :class:`SparseTerms` as the storage seam's ``SparseVector``."""
    return SparseVector(tuple(terms.indices), tuple(float(v) for v in terms.values))


def _option(name: str, kind: type[T], value: object) -> T | None:
    """``{name}=``: ``False``/``None``, ``True`` (the defaults) or a *kind* instance."""
    if value is None or value is False:
        return None
    if value is True:
        return kind()
    if isinstance(value, kind):
        return value
    raise InvalidInputError(
        f"{name}: expected True, False or a {kind.__name__}(...), found {value!r}."
    )


def token_vectors_option(value: object) -> TokenVectors | None:
    """``token_vectors=``: ``False``/``None``, ``True`` or a :class:`TokenVectors`."""
    return _option("token_vectors", TokenVectors, value)


def sparse_vectors_option(value: object) -> SparseVectors | None:
    """``sparse_vectors=``: ``False``/``None``, ``True`` or a :class:`SparseVectors`."""
    return _option("sparse_vectors", SparseVectors, value)


def check_names(
    dense: str | None, tokens: TokenVectors | None, sparse: SparseVectors | None
) -> None:
    """Raise :class:`InvalidInputError` when two vectors share a name."""
    names = [("vector_name", dense or "")]
    if tokens is not None:
        names.append(("token vectors", tokens.name))
    if sparse is not None:
        names.append(("sparse vectors", sparse.name))
    check_distinct(names)


def layout_fingerprint(base: str, tokens: TokenVectors | None, sparse: SparseVectors | None) -> str:
    """*base* (the model's fingerprint) extended by what else each point stores.

    With neither option the result is *base*, so dense-only collections keep their hashes; a
    chunk stored without token or sparse vectors is re-written once they are asked for.
    """
    parts = [base]
    if tokens is not None:
        parts.append(tokens.fingerprint)
    if sparse is not None:
        parts.append(sparse.fingerprint)
    return "|".join(parts)


def check_layout(
    schema: Schema,
    collection: str,
    tokens: TokenVectors | None,
    sparse: SparseVectors | None,
) -> None:
    """Raise :class:`CollectionConfigError` unless *schema* has the token and sparse vectors asked.

    Vectors the collection has beyond those asked are left alone (a dense-only index may read
    a hybrid collection).
    """
    fix = (
        " pass recreate=True to drop and recreate it with them (deletes its points), or use "
        "another collection_name"
    )
    if tokens is not None:
        params = schema.dense.get(tokens.name)
        expected = (
            f"a token multivector {tokens.name!r} (MAX_SIM, dot, size {tokens.size}, "
            f"{tokens.qdrant_datatype.value})"
        )
        if params is None:
            raise mismatch(collection, expected, f"dense vectors {sorted(schema.dense)} only", fix)
        if (
            not params.multivector
            or params.distance != "dot"
            or params.size != tokens.size
            or params.datatype != tokens.datatype
        ):
            comparator = "max_sim" if params.multivector else "none"
            found = (
                f"{tokens.name!r} with comparator {comparator}, "
                f"{params.distance}, size {params.size}, {params.datatype}"
            )
            hint = (
                f" pass TokenVectors(datatype={params.datatype!r}) to use it as it is,"
                if params.datatype != tokens.datatype and params.size == tokens.size
                else ""
            )
            raise mismatch(collection, expected, found, hint + fix)
    if sparse is not None:
        expected = f"a sparse vector {sparse.name!r} with the IDF modifier"
        sparse_params = schema.sparse.get(sparse.name)
        if sparse_params is None:
            names = sorted(schema.sparse)
            found = f"sparse vectors {names}" if names else "no sparse vectors"
            use = f" pass SparseVectors(name={names[0]!r}) to use it," if names else ""
            raise mismatch(collection, expected, found, use + fix)
        if not sparse_params.idf:
            raise mismatch(collection, expected, f"{sparse.name!r} with modifier none", fix)


_NAME = re.compile(r"^[^\s/]+$")


def _check_name(what: str, name: object) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            f"{what}: expected a non-empty name without spaces or '/', found {name!r}."
        )
