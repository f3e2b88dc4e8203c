"""``T5EmbedBatches``: a callable class that embeds a Ray dataset's text column on each actor."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from t5_vectors._checks import check_distinct
from t5_vectors.encoder.core import T5Encoder
from t5_vectors.encoder.sparse import SparseEncoder
from t5_vectors.errors import InvalidInputError, ModelMismatchError
from t5_vectors.ray._batches import Batch, add_columns, column_names, column_values, num_rows

if TYPE_CHECKING:
    from t5_vectors.plan.vectors import SparseVectors, TokenVectors


Kind = Literal["document", "query"]


def sparse_columns(sparse_column: str) -> tuple[str, str]:
    """The two columns a sparse vector is stored in: its indices and its values."""
    return f"{sparse_column}_indices", f"{sparse_column}_values"


class T5EmbedBatches:
    """Embed a Ray dataset's texts with a T5 encoder loaded once per actor.

    Pass the class (not an instance) to ``Dataset.map_batches``: Ray builds one per actor, so
    the checkpoint loads once per actor and stays loaded for every batch it serves. Each batch
    comes back in the format it came in (a dict of numpy arrays, a pandas ``DataFrame`` or a
    pyarrow ``Table``) with every column kept and the vectors added. The vectors are
    ``T5Encoder.encode(texts, kind=kind)`` of the same texts.

    Setup:
        .. code-block:: bash

            pip install "t5-vectors[ray]"

    Instantiate:
        .. code-block:: python

            import ray
            from t5_vectors.ray import T5EmbedBatches

            ds = ray.data.read_parquet("s3://bucket/chunks/")  # a "text" column
            ds = ds.map_batches(
                T5EmbedBatches,
                fn_constructor_kwargs={
                    "model": "sentence-transformers/sentence-t5-base",
                    "token_vectors": False,
                    "dtype": "bfloat16",  # any T5Encoder.from_pretrained option
                },
                compute=ray.data.ActorPoolStrategy(size=8),  # actors (or concurrency=8)
                num_gpus=1,  # per actor (drop for CPU actors)
                batch_size=256,
            )
            ds.write_parquet("s3://bucket/vectors/")  # "vector": float32 (dim,) per row

    Columns added:
        * ``vector_column``: the pooled vector, float32 ``(dim,)`` per row.
        * ``token_column`` (``token_vectors``): the token vectors as ``QdrantIndex`` stores them
          (L2-normalised, rounded to float16 when that is the datatype), ``(n_tokens, d_model)``.
        * ``<sparse_column>_indices`` / ``<sparse_column>_values`` (``sparse_vectors``): the
          BM25 piece weights as ``QdrantIndex`` stores them (documents) or queries them.

    Args:
        model: a hub id or a folder every node can read, as ``T5Encoder.from_pretrained``.
        text_column: the column with the texts.
        vector_column: the column the pooled vectors go to.
        kind: ``"document"`` or ``"query"`` (which prefix the encoder adds).
        token_vectors: also add token vectors (``True`` or a ``TokenVectors``).
        sparse_vectors: also add sparse vectors (``True`` or a ``SparseVectors``).
        token_column: the column token vectors go to.
        sparse_column: the prefix of the two sparse columns.
        expected_fingerprint: refuse a checkpoint whose ``T5Encoder.fingerprint`` differs
            (``t5_vectors.ray.ingest`` passes the index's, so every actor embeds as it does).
        **encoder_options: keyword arguments of ``T5Encoder.from_pretrained`` (``device``,
            ``dtype``, ``pooling``, ``max_length``, ``token_budget``, ...).

    Raises:
        InvalidInputError: bad options, a missing text column, or a text that is not a ``str``.
        ModelMismatchError: the checkpoint's fingerprint is not ``expected_fingerprint``.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        text_column: str = "text",
        vector_column: str = "vector",
        kind: Kind = "document",
        token_vectors: bool | TokenVectors = False,
        sparse_vectors: bool | SparseVectors = False,
        token_column: str = "tokens",
        sparse_column: str = "sparse",
        expected_fingerprint: str | None = None,
        **encoder_options: Any,
    ) -> None:
        if kind not in ("document", "query"):
            raise InvalidInputError(f"kind: expected 'document' or 'query', found {kind!r}.")
        tokens, sparse = _vector_options(token_vectors, sparse_vectors)
        outputs: list[tuple[str, object]] = [("vector_column", vector_column)]
        if tokens is not None:
            outputs.append(("token_column", token_column))
        if sparse is not None:
            outputs.extend(("sparse_column", name) for name in sparse_columns(sparse_column))
        _check_columns(text_column, outputs)
        self.encoder = T5Encoder.from_pretrained(model, **encoder_options)
        if expected_fingerprint is not None and self.encoder.fingerprint != expected_fingerprint:
            raise ModelMismatchError(
                f"Ray actor loaded {os.fspath(model)!r} with another fingerprint than the "
                "driver's encoder.\n"
                f"  expected: {expected_fingerprint}\n"
                f"  found:    {self.encoder.fingerprint}\n"
                "  fix:      give every node the same checkpoint (a hub id with a fixed "
                "revision, or a folder on shared storage) and the same encoder options.",
                recorded=expected_fingerprint,
                given=self.encoder.fingerprint,
            )
        self.text_column = text_column
        self.vector_column = vector_column
        self.kind: Kind = kind
        self.tokens = tokens
        self.sparse = sparse
        self.token_column = token_column
        self.sparse_column = sparse_column
        self._sparse_encoder = (
            SparseEncoder(self.encoder.tokenizer, sparse.weighting) if sparse is not None else None
        )

    def __repr__(self) -> str:
        return (
            f"T5EmbedBatches({self.encoder.name_or_path!r}, text_column={self.text_column!r}, "
            f"vector_column={self.vector_column!r}, kind={self.kind!r})"
        )

    def __call__(self, batch: Batch) -> Batch:
        """Embed one batch; returns it with the vector columns added."""
        if num_rows(batch) == 0 and self.text_column not in column_names(batch):
            return batch  # an empty block without columns (every row filtered upstream)
        texts = column_values(batch, self.text_column, what="text_column")
        columns: dict[str, Any] = {}
        if self.tokens is not None:
            dense, rows = self.encoder.encode_with_tokens(texts, kind=self.kind)
            tokens = self.tokens
            columns[self.token_column] = [
                np.asarray(tokens.prepare(row), dtype=np.float32).reshape(-1, row.shape[-1])
                for row in rows
            ]
        else:
            dense = self.encoder.encode(texts, kind=self.kind)
        columns[self.vector_column] = np.asarray(dense, dtype=np.float32).reshape(
            len(texts), self.encoder.dim
        )
        if self._sparse_encoder is not None:
            encode = (
                self._sparse_encoder.documents
                if self.kind == "document"
                else self._sparse_encoder.queries
            )
            terms = encode(texts)
            indices, values = sparse_columns(self.sparse_column)
            columns[indices] = [np.asarray(term.indices, dtype=np.int64) for term in terms]
            columns[values] = [np.asarray(term.values, dtype=np.float32) for term in terms]
        return add_columns(batch, columns)


class _IndexEmbedBatches(T5EmbedBatches):
    """``ingest``'s encode stage: loads the model on the first batch that reaches the actor.

    Ray starts the actor pool with the pipeline; when every row is stored unchanged, no batch
    reaches it and no actor loads a model (nor needs the checkpoint to be there). It lives here,
    not in ``_ingest``, so that an encoder actor imports the encoder and not the lookup and
    write stages (qdrant-client among them).
    """

    def __init__(self, **options: Any) -> None:
        self._options: dict[str, Any] | None = options

    def __repr__(self) -> str:
        if self._options is not None:
            return f"_IndexEmbedBatches({self._options['model']!r}, not loaded)"
        return super().__repr__()

    def __call__(self, batch: Batch) -> Batch:
        if self._options is not None:
            options, self._options = self._options, None
            super().__init__(**options)
        return super().__call__(batch)


def _vector_options(
    token_vectors: object, sparse_vectors: object
) -> tuple[TokenVectors | None, SparseVectors | None]:
    """The token and sparse options; the layout module (and qdrant-client) only when asked."""
    if all(value is None or value is False for value in (token_vectors, sparse_vectors)):
        return None, None
    from t5_vectors.plan.vectors import sparse_vectors_option, token_vectors_option

    return token_vectors_option(token_vectors), sparse_vectors_option(sparse_vectors)


def _check_columns(text_column: object, outputs: list[tuple[str, object]]) -> None:
    named = [("text_column", text_column), *outputs]
    for what, name in named:
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"{what}: expected a non-empty column name, found {name!r}.")
    check_distinct(named, noun="column name")
