"""Everything a point stores, and everything a query needs, from one encoder pass.

:class:`PointEncoder` turns a batch of chunks into the pooled vectors plus, when the collection
asks for them, the token multivectors (from the same forward pass:
``T5Encoder.encode_with_tokens``) and the sparse piece weights (tokenizer only), and those into
the points to write. For a query it computes just what the search mode needs. The async twins
are generated (``scripts/generate_async.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from t5_vectors.encoder.sparse import SparseEncoder, SparseTerms
from t5_vectors.errors import InvalidInputError
from t5_vectors.index.embedder import Embedder
from t5_vectors.plan.payload import PreparedDocument
from t5_vectors.plan.retrieval import QueryVectors
from t5_vectors.plan.search import as_query_vector
from t5_vectors.plan.vectors import SparseVectors, TokenVectors, to_sparse_vector
from t5_vectors.storage.base import Point, VectorValue


@dataclass(frozen=True)
class EncodedBatch:
    """The vectors of a batch of chunks, aligned with it.

    Attributes:
        dense: float32 ``(n, dim)`` pooled vectors.
        tokens: per chunk, its prepared token rows (normalised, rounded to the datatype).
        sparse: per chunk, its BM25 piece weights.
    """

    dense: np.ndarray
    tokens: list[list[list[float]]] | None = None
    sparse: list[SparseTerms] | None = None


class PointEncoder:
    """Encode chunks and queries for a collection layout.

    Args:
        embedder: the embedding model.
        vector_name: the pooled vector's name (``None``: the unnamed vector).
        tokens: the token multivector settings, or ``None``.
        sparse: the sparse vector settings, or ``None``.
    """

    def __init__(
        self,
        embedder: Embedder,
        vector_name: str | None,
        tokens: TokenVectors | None,
        sparse: SparseVectors | None,
    ) -> None:
        encoder = embedder.encoder
        if encoder is None and (tokens is not None or sparse is not None):
            option = "token_vectors" if tokens is not None else "sparse_vectors"
            raise InvalidInputError(
                f"{option}: expected a T5Encoder or T5Embeddings (they need its token vectors "
                f"and tokenizer), found {embedder.name}. Pass a T5 model, or drop {option}."
            )
        self.embedder = embedder
        self.encoder = encoder
        self.vector_name = vector_name
        self.tokens = tokens
        self.sparse = sparse
        self.sparse_encoder = (
            SparseEncoder(encoder.tokenizer, sparse.weighting)
            if sparse is not None and encoder is not None
            else None
        )

    @property
    def names(self) -> tuple[str | None, str | None, str | None]:
        """The pooled, token and sparse vectors' names (``None``: unnamed / not stored)."""
        return (
            self.vector_name,
            self.tokens.name if self.tokens is not None else None,
            self.sparse.name if self.sparse is not None else None,
        )

    # ------------------------------------------------------------------------------ documents
    def documents(self, texts: Sequence[str]) -> EncodedBatch:
        """The vectors of *texts* as documents."""
        texts = list(texts)
        sparse = self.sparse_encoder.documents(texts) if self.sparse_encoder else None
        if self.tokens is None or self.encoder is None or not texts:
            empty: list[list[list[float]]] | None = [] if self.tokens is not None else None
            return EncodedBatch(self.embedder.documents(texts), empty, sparse)
        dense, rows = self.encoder.encode_with_tokens(texts, kind="document")
        return EncodedBatch(dense, [self.tokens.prepare(row) for row in rows], sparse)

    def points(self, documents: Sequence[PreparedDocument], vectors: EncodedBatch) -> list[Point]:
        """The points of *documents*, every named vector of the layout filled."""
        dense = np.asarray(vectors.dense, dtype=np.float32)
        points = []
        for i, doc in enumerate(documents):
            named: dict[str, VectorValue] = {self.vector_name or "": dense[i]}
            if self.tokens is not None and vectors.tokens is not None:
                named[self.tokens.name] = np.asarray(vectors.tokens[i], dtype=np.float32)
            if self.sparse is not None and vectors.sparse is not None:
                named[self.sparse.name] = to_sparse_vector(vectors.sparse[i])
            points.append(Point(id=doc.point_id, vectors=named, payload=doc.payload))
        return points

    # -------------------------------------------------------------------------------- queries
    def dense_query(self, query: str | Sequence[float] | np.ndarray, dim: int) -> np.ndarray:
        """The pooled query vector: a text embedded as a query, or a vector checked."""
        if isinstance(query, str):
            return self.embedder.query(query)
        return as_query_vector(query, dim)

    def query(self, text: str, *, dense: bool, tokens: bool, sparse: bool) -> QueryVectors:
        """The query vectors *text* needs (pooled, token and/or sparse)."""
        self._check_query_needs(tokens, sparse)
        pooled = token_rows = None
        if tokens and self.encoder is not None and self.tokens is not None:
            both, rows = self.encoder.encode_with_tokens([text], kind="query")
            pooled, token_rows = both[0], self.tokens.prepare(rows[0])
        elif dense:
            pooled = self.embedder.query(text)
        terms = None
        if sparse and self.sparse_encoder is not None:
            terms = self.sparse_encoder.queries([text])[0]
        return QueryVectors(pooled if dense else None, token_rows, terms)

    def _check_query_needs(self, tokens: bool, sparse: bool) -> None:
        if tokens and self.tokens is None:
            raise InvalidInputError(
                "mode: 'maxsim' and 'rerank' need an index with token vectors, found none. "
                "Create the QdrantIndex with token_vectors=True (and re-ingest)."
            )
        if sparse and self.sparse is None:
            raise InvalidInputError(
                "mode: 'sparse' and 'hybrid' need an index with sparse vectors, found none. "
                "Create the QdrantIndex with sparse_vectors=True (and re-ingest)."
            )

    # --- async twins: generated by scripts/generate_async.py from the code above; do not edit ---
    async def adocuments(self, texts: Sequence[str]) -> EncodedBatch:
        """Async :meth:`documents`."""
        texts = list(texts)
        sparse = self.sparse_encoder.documents(texts) if self.sparse_encoder else None
        if self.tokens is None or self.encoder is None or (not texts):
            empty: list[list[list[float]]] | None = [] if self.tokens is not None else None
            return EncodedBatch(await self.embedder.adocuments(texts), empty, sparse)
        dense, rows = await self.encoder.aencode_with_tokens(texts, kind="document")
        return EncodedBatch(dense, [self.tokens.prepare(row) for row in rows], sparse)

    async def adense_query(self, query: str | Sequence[float] | np.ndarray, dim: int) -> np.ndarray:
        """Async :meth:`dense_query`."""
        if isinstance(query, str):
            return await self.embedder.aquery(query)
        return as_query_vector(query, dim)

    async def aquery(self, text: str, *, dense: bool, tokens: bool, sparse: bool) -> QueryVectors:
        """Async :meth:`query`."""
        self._check_query_needs(tokens, sparse)
        pooled = token_rows = None
        if tokens and self.encoder is not None and (self.tokens is not None):
            both, rows = await self.encoder.aencode_with_tokens([text], kind="query")
            pooled, token_rows = (both[0], self.tokens.prepare(rows[0]))
        elif dense:
            pooled = await self.embedder.aquery(text)
        terms = None
        if sparse and self.sparse_encoder is not None:
            terms = self.sparse_encoder.queries([text])[0]
        return QueryVectors(pooled if dense else None, token_rows, terms)

    # --- end of async twins ---
