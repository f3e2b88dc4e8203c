"""`T5Embeddings`: the LangChain ``Embeddings`` adapter over a shared :class:`T5Encoder`."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from t5_vectors.encoder.guard import is_t5_encoder
from t5_vectors.encoder.texts import check_text
from t5_vectors.errors import InvalidInputError

if TYPE_CHECKING:
    from t5_vectors.encoder.core import T5Encoder


DEFAULT_MODEL = "sentence-transformers/sentence-t5-base"


class T5Embeddings(Embeddings):
    """LangChain embeddings backed by a T5 encoder (sync and native async).

    Documents are encoded with ``kind="document"`` and queries with ``kind="query"``, so
    query/document prefixes of the checkpoint (or the ones you pass) are applied. Async methods
    await the encoder's micro-batcher directly: concurrent ``aembed_query`` calls from many tasks
    share forward passes without a thread per call.

    Setup:
        .. code-block:: bash

            pip install t5-vectors

    Instantiate:
        .. code-block:: python

            from t5_vectors import T5Embeddings

            embeddings = T5Embeddings(model_name="sentence-transformers/sentence-t5-base")
            # or share one encoder between several components:
            embeddings = T5Embeddings(encoder=encoder)

    Input rules: texts are ``str``; empty and whitespace-only texts are embedded (all as
    ``</s>``); ``None``, ``bytes`` and lone surrogates raise ``InvalidInputError``; texts over
    ``max_length`` tokens are truncated with one ``TruncationWarning`` per encoder.

    Embed:
        .. code-block:: python

            vectors = embeddings.embed_documents(["Qdrant stores vectors.", "T5 reads text."])
            query = embeddings.embed_query("what stores vectors?")
            query = await embeddings.aembed_query("from async code")
    """

    def __init__(
        self,
        model_name: str | os.PathLike[str] | None = None,
        *,
        encoder: T5Encoder | None = None,
        **encoder_options: Any,
    ) -> None:
        if encoder is not None and (model_name is not None or encoder_options):
            raise InvalidInputError(
                "T5Embeddings: expected either encoder=... or model_name=... with encoder "
                "options, found both. Configure the shared encoder when you create it."
            )
        if encoder is not None and not is_t5_encoder(encoder):
            raise InvalidInputError(
                f"encoder: expected a T5Encoder, found {type(encoder).__name__}."
            )
        if encoder is None:
            from t5_vectors.encoder.core import T5Encoder  # torch: only when a model is loaded

            encoder = T5Encoder.from_pretrained(
                model_name if model_name is not None else DEFAULT_MODEL, **encoder_options
            )
        self.encoder: T5Encoder = encoder
        self.model_name = self.encoder.name_or_path

    @property
    def dim(self) -> int:
        """Size of the vectors."""
        return self.encoder.dim

    def __repr__(self) -> str:
        return f"T5Embeddings(encoder={self.encoder!r})"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents; one list of Python floats per text."""
        return _to_lists(self.encoder.encode(texts, kind="document"))

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        return _to_lists(self.encoder.encode([_one_text(text)], kind="query"))[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents` (awaits the shared micro-batcher)."""
        return _to_lists(await self.encoder.aencode(texts, kind="document"))

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query` (awaits the shared micro-batcher)."""
        return _to_lists(await self.encoder.aencode([_one_text(text)], kind="query"))[0]


def _one_text(text: str) -> str:
    if isinstance(text, list | tuple):
        raise InvalidInputError(
            f"text: expected one str, found a {type(text).__name__}. For many texts use "
            "embed_documents(texts)."
        )
    return check_text(text, where="text")


def _to_lists(vectors: np.ndarray) -> list[list[float]]:
    # float64 first so that tolist() yields Python floats equal to the float32 values.
    return vectors.astype(np.float64).tolist()  # type: ignore[no-any-return]
