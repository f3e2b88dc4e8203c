"""Everything a point stores, and everything a query needs, from one encoder pass.

:class:`PointEncoder` turns a batch of chunks into the pooled vectors plus, when the collection
asks for them, the token multivectors (from the same forward pass:
``T5Encoder.encode_with_tokens``) and the sparse piece weights (tokenizer only). For a query it
computes just what the search mode needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from t5_vectors.encoder.sparse import SparseEncoder, SparseTerms
from t5_vectors.errors import InvalidInputError
from t5_vectors.index.embedder import Embedder
from t5_vectors.plan.retrieval import QueryVectors
from t5_vectors.plan.vectors import SparseVectors, TokenVectors

__all__ = ["EncodedBatch", "PointEncoder"]


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
        tokens: the token multivector settings, or ``None``.
        sparse: the sparse vector settings, or ``None``.
    """

    def __init__(
        self, embedder: Embedder, tokens: TokenVectors | None, sparse: SparseVectors | None
    ) -> None:
        encoder = embedder.encoder
        if encoder is None and (tokens is not None or sparse is not None):
            option = "token_vectors" if tokens is not None else "sparse_vectors"
            raise InvalidInputError(
                f"{option}: expected a T5Encoder or T5Embeddings (they need its token vectors "
                f"and tokenizer), found {embedder.name}. Pass a T5 model, or drop {option}."
            )
        self.embedder = embedder
        self.tokens = tokens
        self.sparse = sparse
        self.sparse_encoder = (
            SparseEncoder(encoder.tokenizer, sparse.weighting)
            if sparse is not None and encoder is not None
            else None
        )

    # ------------------------------------------------------------------------------ documents
    def documents(self, texts: list[str]) -> EncodedBatch:
        """The vectors of *texts* as documents."""
        if self.tokens is None or not texts:
            dense = self.embedder.documents(texts)
            return EncodedBatch(dense, self._empty_tokens(texts), self._sparse_documents(texts))
        assert self.embedder.encoder is not None
        dense, rows = self.embedder.encoder.encode_with_tokens(texts, kind="document")
        return EncodedBatch(dense, self._prepare(rows), self._sparse_documents(texts))

    async def adocuments(self, texts: list[str]) -> EncodedBatch:
        """Async :meth:`documents`."""
        if self.tokens is None or not texts:
            dense = await self.embedder.adocuments(texts)
            return EncodedBatch(dense, self._empty_tokens(texts), self._sparse_documents(texts))
        assert self.embedder.encoder is not None
        dense, rows = await self.embedder.encoder.aencode_with_tokens(texts, kind="document")
        return EncodedBatch(dense, self._prepare(rows), self._sparse_documents(texts))

    # -------------------------------------------------------------------------------- queries
    def query(self, text: str, *, dense: bool, tokens: bool, sparse: bool) -> QueryVectors:
        """The query vectors *text* needs (pooled, token and/or sparse)."""
        self._check_query_needs(tokens, sparse)
        pooled = rows = None
        if tokens:
            assert self.embedder.encoder is not None
            both, token_rows = self.embedder.encoder.encode_with_tokens([text], kind="query")
            pooled, rows = both[0], token_rows[0]
        elif dense:
            pooled = self.embedder.query(text)
        return self._query(text, pooled if dense else None, rows, sparse)

    async def aquery(self, text: str, *, dense: bool, tokens: bool, sparse: bool) -> QueryVectors:
        """Async :meth:`query`."""
        self._check_query_needs(tokens, sparse)
        pooled = rows = None
        if tokens:
            assert self.embedder.encoder is not None
            both, token_rows = await self.embedder.encoder.aencode_with_tokens([text], kind="query")
            pooled, rows = both[0], token_rows[0]
        elif dense:
            pooled = await self.embedder.aquery(text)
        return self._query(text, pooled if dense else None, rows, sparse)

    # ------------------------------------------------------------------------------ internals
    def _query(
        self, text: str, pooled: np.ndarray | None, rows: np.ndarray | None, sparse: bool
    ) -> QueryVectors:
        terms = None
        if sparse:
            assert self.sparse_encoder is not None
            terms = self.sparse_encoder.queries([text])[0]
        token_rows = None
        if rows is not None:
            assert self.tokens is not None
            token_rows = self.tokens.prepare(rows)
        return QueryVectors(pooled, token_rows, terms)

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

    def _prepare(self, rows: list[np.ndarray]) -> list[list[list[float]]]:
        assert self.tokens is not None
        return [self.tokens.prepare(row) for row in rows]

    def _empty_tokens(self, texts: list[str]) -> list[list[list[float]]] | None:
        return [] if self.tokens is not None and not texts else None

    def _sparse_documents(self, texts: list[str]) -> list[SparseTerms] | None:
        if self.sparse_encoder is None:
            return None
        return self.sparse_encoder.documents(texts)
