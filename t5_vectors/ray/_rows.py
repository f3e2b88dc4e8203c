"""Dataset rows to stored points: the same ids, payload and content hash as ``QdrantIndex``.

A row's text, id and metadata columns become a ``Document`` that
:func:`t5_vectors.plan.payload.prepare_document` validates and turns into its point id,
payload and content hash, exactly as :meth:`QdrantIndex.ingest` does; its vector columns become
the point's named vectors as the collection stores them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.documents import Document

from t5_vectors.encoder.sparse import SparseTerms
from t5_vectors.errors import CollectionConfigError, InvalidInputError
from t5_vectors.plan.payload import PreparedDocument, prepare_document
from t5_vectors.plan.vectors import SparseVectors, TokenVectors, to_sparse_vector
from t5_vectors.ray._batches import Batch, column_arrays, column_names, column_values
from t5_vectors.ray._embed import sparse_columns
from t5_vectors.storage.base import Point, VectorValue


@dataclass(frozen=True)
class Layout:
    """What each point of the collection stores (picklable; travels to the workers).

    Attributes:
        dim: size of the pooled vector.
        vector_name: the pooled vector's name (``None``: unnamed).
        tokens: the token multivector, or ``None``.
        sparse: the sparse vector, or ``None``.
        fingerprint: the index's fingerprint (model and layout), part of each content hash.
    """

    dim: int
    vector_name: str | None
    tokens: TokenVectors | None
    sparse: SparseVectors | None
    fingerprint: str


@dataclass(frozen=True)
class Columns:
    """Which dataset columns hold what (picklable).

    Attributes:
        text: the chunk text (``page_content``).
        id: the document id (``None``: derived from ``source`` and text, as ``QdrantIndex``).
        metadata: the columns stored in ``metadata`` (``None``: every column but the others).
        vector: the pooled vector.
        tokens: the token vectors.
        sparse: the prefix of the sparse indices and values columns.
    """

    text: str = "text"
    id: str | None = None
    metadata: Sequence[str] | None = None  # a tuple once made
    vector: str = "vector"
    tokens: str = "tokens"
    sparse: str = "sparse"

    def __post_init__(self) -> None:
        for what, name in (("text_column", self.text), ("vector_column", self.vector)):
            if not isinstance(name, str) or not name:
                raise InvalidInputError(f"{what}: expected a column name, found {name!r}.")
        if self.id is not None and (not isinstance(self.id, str) or not self.id):
            raise InvalidInputError(
                f"id_column: expected a column name or None, found {self.id!r}."
            )
        if self.metadata is not None:
            names = self.metadata
            if not isinstance(names, str) and isinstance(names, Iterable):
                names = tuple(names)  # a list or any other iterable, read once
            if not isinstance(names, tuple) or not all(isinstance(n, str) and n for n in names):
                raise InvalidInputError(
                    "metadata_columns: expected a list of column names or None, found "
                    f"{self.metadata!r}."
                )
            object.__setattr__(self, "metadata", names)

    def reserved(self) -> set[str]:
        """Columns that are never metadata."""
        names = {self.text, self.vector, self.tokens, *sparse_columns(self.sparse)}
        if self.id is not None:
            names.add(self.id)
        return names

    def metadata_of(self, batch: Batch) -> list[str]:
        """The metadata columns of *batch*."""
        if self.metadata is not None:
            return list(self.metadata)
        reserved = self.reserved()
        return [name for name in column_names(batch) if name not in reserved]


def prepare_rows(batch: Batch, columns: Columns, fingerprint: str) -> list[PreparedDocument]:
    """Every row of *batch* as a validated document with its point id, payload and hash.

    Raises:
        InvalidInputError: a missing column, a text that is not a ``str``, a bad id, or metadata
            that is not plain JSON (the message names the row and the value).
    """
    texts = column_values(batch, columns.text, what="text_column")
    ids: list[Any] = (
        column_values(batch, columns.id, what="id_column")
        if columns.id is not None
        else [None] * len(texts)
    )
    names = columns.metadata_of(batch)
    values = {name: column_values(batch, name, what="metadata_columns") for name in names}
    prepared = []
    for i, text in enumerate(texts):
        where = f"row {i} of a batch"
        if not isinstance(text, str):
            raise InvalidInputError(
                f"{where}: expected a str in text_column {columns.text!r}, found "
                f"{type(text).__name__} ({text!r:.60}). Drop or fill the rows without text."
            )
        document_id = ids[i]
        if columns.id is not None and document_id is None:
            raise InvalidInputError(
                f"{where}: expected an id in id_column {columns.id!r}, found None. Fill the "
                "ids, or pass id_column=None to derive them from source and text."
            )
        metadata = {name: values[name][i] for name in names}
        document = Document(page_content=text, metadata=metadata)
        prepared.append(prepare_document(document, document_id, fingerprint, where=where))
    return prepared


def to_points(
    batch: Batch, columns: Columns, layout: Layout
) -> tuple[list[PreparedDocument], list[Point]]:
    """The documents of *batch* and the points to write for them (vectors from its columns)."""
    documents = prepare_rows(batch, columns, layout.fingerprint)
    dense = column_arrays(batch, columns.vector, what="vector_column")
    named: dict[str, list[VectorValue]] = {layout.vector_name or "": _dense(dense, layout)}
    if layout.tokens is not None:
        rows = column_arrays(batch, columns.tokens, what="token_column")
        named[layout.tokens.name] = [_tokens(row, layout.tokens) for row in rows]
    if layout.sparse is not None:
        indices_column, values_column = sparse_columns(columns.sparse)
        indices = column_arrays(batch, indices_column, what="sparse_column")
        values = column_arrays(batch, values_column, what="sparse_column")
        named[layout.sparse.name] = [
            to_sparse_vector(
                SparseTerms([int(i) for i in index_row], [float(v) for v in value_row])
            )
            for index_row, value_row in zip(indices, values, strict=True)
        ]
    points = [
        Point(
            id=document.point_id,
            vectors={name: vectors[i] for name, vectors in named.items()},
            payload=document.payload,
        )
        for i, document in enumerate(documents)
    ]
    return documents, points


def _dense(rows: Sequence[np.ndarray], layout: Layout) -> list[VectorValue]:
    out: list[VectorValue] = []
    for row in rows:
        vector = np.asarray(row, dtype=np.float32).reshape(-1)
        if vector.shape[0] != layout.dim:
            raise CollectionConfigError(
                f"vector_column: expected vectors of size {layout.dim} (the collection's), "
                f"found size {vector.shape[0]}. Embed with the index's model (T5EmbedBatches "
                "with the same checkpoint), or write to a collection of that size."
            )
        out.append(vector)
    return out


def _tokens(row: np.ndarray, tokens: TokenVectors) -> VectorValue:
    array = np.asarray(row, dtype=np.float32)
    if array.ndim != 2 or (tokens.size is not None and array.shape[1] != tokens.size):
        raise CollectionConfigError(
            f"token_column: expected token vectors of shape (n_tokens, {tokens.size}), found "
            f"{array.shape}. Embed with T5EmbedBatches(token_vectors=True) and the index's model."
        )
    return array
