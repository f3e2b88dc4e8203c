"""One interface over a :class:`T5Encoder` or any LangChain ``Embeddings``.

A ``T5Encoder`` (or a ``T5Embeddings`` wrapping one) is used directly: its ``dim`` sizes the
collection without a dummy embedding call, vectors stay float32 numpy arrays end to end, and the
async path awaits the encoder's micro-batcher (no thread per call). Any other ``Embeddings`` works
too; its size is learnt from one probe text, once, and only when a collection must be created or
checked.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from langchain_core.embeddings import Embeddings

from t5_vectors.encoder.guard import is_t5_encoder
from t5_vectors.encoder.texts import check_text
from t5_vectors.errors import EncodingError, InvalidInputError

if TYPE_CHECKING:
    from t5_vectors.encoder import T5Encoder

__all__ = ["Embedder", "EmbeddingLike"]

EmbeddingLike: TypeAlias = "T5Encoder | Embeddings"
"""What ``QdrantIndex`` and ``T5QdrantVectorStore`` accept as their embedding model."""

_PROBE_TEXT = "t5-vectors dimension probe"


class Embedder:
    """Embed documents and queries as float32 arrays, sync or async.

    Args:
        embedding: a ``T5Encoder``, a ``T5Embeddings`` or any LangChain ``Embeddings``.
    """

    def __init__(self, embedding: EmbeddingLike) -> None:
        encoder = embedding if is_t5_encoder(embedding) else None
        if encoder is None and is_t5_encoder(getattr(embedding, "encoder", None)):
            encoder = embedding.encoder  # type: ignore[union-attr]  # T5Embeddings
        if encoder is None and not isinstance(embedding, Embeddings):
            raise InvalidInputError(
                f"embedding: expected a T5Encoder, T5Embeddings or LangChain Embeddings, found "
                f"{type(embedding).__name__}. Load one with T5Encoder.from_pretrained(...)."
            )
        self.source = embedding
        self.encoder: T5Encoder | None = encoder
        self._dim: int | None = encoder.dim if encoder is not None else None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        """Size of the vectors (a probe embedding, once, for non-T5 ``Embeddings``)."""
        if self._dim is None:
            with self._lock:
                if self._dim is None:
                    self._dim = self._probe_dim()
        return self._dim

    @property
    def name(self) -> str:
        """Human-readable name of the model, for error messages."""
        if self.encoder is not None:
            return f"T5Encoder {self.encoder.name_or_path!r}"
        model = _model_name(self.source)
        return type(self.source).__name__ + (f" {model!r}" if model else "")

    @property
    def fingerprint(self) -> str:
        """Identifies the model and every option that changes document vectors.

        Part of each stored content hash: documents embedded by another model are re-encoded.
        """
        if self.encoder is not None:
            return self.encoder.fingerprint
        cls = type(self.source)
        return f"{cls.__module__}.{cls.__qualname__}|{_model_name(self.source)}"

    def documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents; float32 ``(len(texts), dim)``."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.encoder is not None:
            return self.encoder.encode(texts, kind="document")
        assert isinstance(self.source, Embeddings)
        return self._check(self.source.embed_documents(list(texts)), len(texts))

    async def adocuments(self, texts: Sequence[str]) -> np.ndarray:
        """Async :meth:`documents` (native for T5 encoders)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.encoder is not None:
            return await self.encoder.aencode(texts, kind="document")
        assert isinstance(self.source, Embeddings)
        return self._check(await self.source.aembed_documents(list(texts)), len(texts))

    def query(self, text: str) -> np.ndarray:
        """Embed one query; float32 ``(dim,)``."""
        _check_query(text)
        if self.encoder is not None:
            vectors = self.encoder.encode([text], kind="query")
        else:
            assert isinstance(self.source, Embeddings)
            vectors = self._check([self.source.embed_query(text)], 1)
        return vectors.reshape(-1)

    async def aquery(self, text: str) -> np.ndarray:
        """Async :meth:`query` (native for T5 encoders)."""
        _check_query(text)
        if self.encoder is not None:
            vectors = await self.encoder.aencode([text], kind="query")
        else:
            assert isinstance(self.source, Embeddings)
            vectors = self._check([await self.source.aembed_query(text)], 1)
        return vectors.reshape(-1)

    def _probe_dim(self) -> int:
        assert isinstance(self.source, Embeddings)
        vectors = self.source.embed_documents([_PROBE_TEXT])
        if len(vectors) != 1 or len(vectors[0]) == 0:
            raise EncodingError(
                f"{self.name}: expected one non-empty vector for one probe text, found "
                f"{len(vectors)} vector(s). The embeddings object is not usable."
            )
        return len(vectors[0])

    def _check(self, vectors: Any, count: int) -> np.ndarray:
        try:
            array = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise EncodingError(
                f"{self.name}: expected {count} vector(s) of size {self.dim}, found values that "
                f"do not form a matrix ({err})."
            ) from err
        if array.ndim != 2 or array.shape[0] != count or array.shape[1] != self.dim:
            raise EncodingError(
                f"{self.name}: expected {count} vector(s) of size {self.dim}, found an array of "
                f"shape {array.shape}. The embeddings object returned inconsistent vectors."
            )
        return array


def _check_query(text: object) -> None:
    check_text(text, where="query")


def _model_name(embedding: object) -> str:
    for attribute in ("model_name", "model", "model_id"):
        value = getattr(embedding, attribute, None)
        if isinstance(value, str) and value:
            return value
    size = getattr(embedding, "size", None)
    return f"size={size}" if isinstance(size, int) else ""
