"""`T5QdrantVectorStore`: LangChain ``VectorStore`` and retriever over :class:`QdrantIndex`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Self, Unpack

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from t5_vectors.encoder.guard import is_t5_encoder
from t5_vectors.encoder.texts import check_text
from t5_vectors.errors import InvalidInputError
from t5_vectors.index.embedder import EmbeddingLike
from t5_vectors.index.index import DEFAULT_COLLECTION, QdrantIndex
from t5_vectors.langchain._options import VectorStoreOptions, open_index
from t5_vectors.langchain.embeddings import T5Embeddings
from t5_vectors.plan.filters import FilterLike
from t5_vectors.plan.modes import Mode
from t5_vectors.plan.retrieval import Retrieval
from t5_vectors.plan.run import DEFAULT_BATCH_SIZE

Metadatas = list[dict[str, Any]] | None
Ids = list[str] | None

_SEARCH_OPTIONS = frozenset(
    {
        "score_threshold",
        "search_params",
        "hnsw_ef",
        "exact",
        "mode",
        "fusion",
        "dense_limit",
        "sparse_limit",
        "rrf_k",
    }
)


class T5QdrantVectorStore(VectorStore):
    """Qdrant vector store over a T5 encoder (or any LangChain ``Embeddings``).

    Ids may be any string or integer and come back exactly as given in ``Document.id``; metadata
    comes back exactly as given (nothing added). Re-adding an unchanged document encodes and
    writes nothing. Every method has a native async twin; over an ``AsyncQdrantClient`` no call
    uses a thread. ``max_marginal_relevance_search`` follows LangChain's ``lambda_mult``
    (``1`` = least diversity). Collections are laid out as langchain-qdrant lays them out, so
    each reads the other's.

    Setup:
        .. code-block:: bash

            pip install t5-vectors

    Instantiate:
        .. code-block:: python

            from qdrant_client import QdrantClient
            from t5_vectors import T5Embeddings, T5QdrantVectorStore

            embeddings = T5Embeddings("sentence-transformers/sentence-t5-base")
            vector_store = T5QdrantVectorStore(
                embeddings, collection_name="demo", client=QdrantClient(":memory:")
            )
            # or url="http://localhost:6333", path="./qdrant_data",
            # async_client=AsyncQdrantClient(...)

    Add documents:
        .. code-block:: python

            from langchain_core.documents import Document

            vector_store.add_documents(
                [
                    Document(page_content="foo", metadata={"baz": "bar"}, id="doc-1"),
                    Document(page_content="thud", metadata={"bar": "baz"}, id="doc-2"),
                ]
            )
            # a large corpus, streamed with bounded memory:
            vector_store.index.ingest(loader.lazy_load(), show_progress=True)

    Delete documents:
        .. code-block:: python

            vector_store.delete(ids=["doc-2"])

    Search:
        .. code-block:: python

            for doc in vector_store.similarity_search("thud", k=1):
                print(f"* {doc.id} {doc.page_content} [{doc.metadata}]")

    Search with filter:
        .. code-block:: python

            vector_store.similarity_search("thud", k=1, filter={"bar": "baz"})
            # or a qdrant models.Filter with keys under "metadata."

    Search with score:
        .. code-block:: python

            for doc, score in vector_store.similarity_search_with_score("qux", k=1):
                print(f"* [SIM={score:.3f}] {doc.page_content}")

    Async:
        .. code-block:: python

            await vector_store.aadd_documents(documents)
            results = await vector_store.asimilarity_search("thud", k=1)
            await vector_store.adelete(ids=["doc-1"])

    Use as Retriever:
        .. code-block:: python

            retriever = vector_store.as_retriever(
                search_type="mmr", search_kwargs={"k": 1, "fetch_k": 2, "lambda_mult": 0.5}
            )
            retriever.invoke("thud")

    Hybrid search:
        .. code-block:: python

            vector_store = T5QdrantVectorStore(
                embeddings, collection_name="hybrid", path="./qdrant_data", retrieval_mode="hybrid"
            )  # stores BM25 piece weights beside the pooled vector
            vector_store.similarity_search("thud", k=1, fusion="dbsf")

    Args:
        embedding: a ``T5Embeddings``, a ``T5Encoder`` or any LangChain ``Embeddings``.
        index: an existing :class:`QdrantIndex` (then pass nothing else).
        collection_name: the collection.
        retrieval_mode: how text queries rank documents: ``"dense"`` (pooled vector, default),
            ``"sparse"`` (BM25 over T5 pieces), ``"hybrid"`` (both, fused), ``"maxsim"``
            (token late interaction) or ``"rerank"`` (dense candidates re-ranked by MaxSim);
            langchain-qdrant's ``RetrievalMode`` works too. Modes other than ``"dense"`` turn
            on the vectors they need (``sparse_vectors`` / ``token_vectors``) unless given.
            Per search, ``mode``, ``fusion``, ``dense_limit``, ``sparse_limit`` and ``rrf_k``
            override it (see :meth:`QdrantIndex.search`).
        **index_options: where to store and how (langchain-qdrant's keywords,
            :class:`~t5_vectors.langchain._options.VectorStoreOptions`): one of ``storage``
            (anything :func:`~t5_vectors.open_storage` opens, or an open ``Storage``),
            ``path``, ``url``, ``location`` or ``client``, with ``async_client``, ``api_key``
            and ``client_options``; the layout as ``spec`` or as the keywords ``distance``,
            ``vector_name``, ``on_disk``, ``quantization``, ``payload_indexes``,
            ``token_vectors``, ``sparse_vectors``, ...; and ``recreate``,
            ``create_if_missing``, ``retry``.
    """

    def __init__(
        self,
        embedding: EmbeddingLike | None = None,
        *,
        index: QdrantIndex | None = None,
        collection_name: str = DEFAULT_COLLECTION,
        retrieval_mode: Mode = "dense",
        **index_options: Unpack[VectorStoreOptions],
    ) -> None:
        self.retrieval_mode: Mode = Retrieval(retrieval_mode).mode
        if index is not None:
            if embedding is not None or index_options or collection_name != DEFAULT_COLLECTION:
                raise InvalidInputError(
                    "T5QdrantVectorStore: expected either index=... or an embedding with index "
                    "options, found both. Configure the QdrantIndex you pass instead."
                )
            if not isinstance(index, QdrantIndex):
                raise InvalidInputError(
                    f"index: expected a QdrantIndex, found {type(index).__name__}."
                )
            self.index = index
        else:
            if embedding is None:
                raise InvalidInputError(
                    "embedding: expected a T5Embeddings, T5Encoder or LangChain Embeddings, "
                    "found None. Pass T5Embeddings('sentence-transformers/sentence-t5-base')."
                )
            retrieval = Retrieval(self.retrieval_mode)
            options: dict[str, Any] = dict(index_options)
            if retrieval.needs_sparse and options.get("spec") is None:
                options.setdefault("sparse_vectors", True)
            if retrieval.needs_tokens and options.get("spec") is None:
                options.setdefault("token_vectors", True)
            self.index = open_index(embedding, collection_name, options, "T5QdrantVectorStore")
        _check_mode(self.index, self.retrieval_mode)
        source = self.index.embedding
        self._embeddings: Embeddings = (
            T5Embeddings(encoder=source) if is_t5_encoder(source) else source
        )

    def __repr__(self) -> str:
        return f"T5QdrantVectorStore({self.index!r})"

    @property
    def embeddings(self) -> Embeddings:
        """The LangChain embeddings (a ``T5Embeddings`` when built from a ``T5Encoder``)."""
        return self._embeddings

    @property
    def collection_name(self) -> str:
        """The Qdrant collection."""
        return self.index.collection_name

    # --------------------------------------------------------------------------------- adding
    def add_texts(
        self, texts: Iterable[str], metadatas: Metadatas = None, *, ids: Ids = None, **kwargs: Any
    ) -> list[str]:
        """Embed and store *texts*; returns their ids (derived from source and text if absent).

        ``batch_size`` (documents per upload) may be passed as a keyword.
        """
        return self.index.add(**_texts_args("add_texts", texts, metadatas, ids, kwargs))

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Add or update *documents* (``ids=`` win over ``Document.id``); returns their ids.

        ``ids`` (one per document) and ``batch_size`` may be passed as keywords.
        """
        return self.index.add(**_documents_args("add_documents", documents, kwargs))

    # ------------------------------------------------------------------------ ids and deletion
    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete these ids (missing ones are ignored); ``None`` deletes every document."""
        _no_extra("delete", kwargs)
        self.index.delete(ids)
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents with these ids (``Document.id`` set), in the order asked."""
        return self.index.get(ids)

    # -------------------------------------------------------------------------------- search
    def similarity_search(
        self, query: str, k: int = 4, filter: FilterLike | None = None, **kwargs: Any
    ) -> list[Document]:
        """The *k* documents most similar to *query*.

        Args:
            query: the query text.
            k: how many documents.
            filter: a dict of metadata values (operators ``$gte``, ``$in``, ...) or a qdrant
                ``models.Filter``.
            **kwargs: ``score_threshold`` (Qdrant's raw score), ``hnsw_ef`` (HNSW beam width),
                ``exact`` (search without the index) or ``search_params``.
        """
        return _docs(self.index.search(_query(query), **self._options(k, filter, kwargs)))

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: FilterLike | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Like :meth:`similarity_search`, with Qdrant's score (higher is closer for cosine)."""
        return self.index.search(_query(query), **self._options(k, filter, kwargs))

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: FilterLike | None = None, **kwargs: Any
    ) -> list[Document]:
        """The *k* documents nearest to a query vector."""
        return _docs(self.index.search(embedding, **_options(k, filter, kwargs)))

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: FilterLike | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Like :meth:`similarity_search_by_vector`, with Qdrant's scores."""
        return self.index.search(embedding, **_options(k, filter, kwargs))

    def max_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """*k* documents among the *fetch_k* most similar, relevant yet diverse.

        Args:
            query: the query text.
            k: how many documents.
            fetch_k: how many similar documents to choose from.
            lambda_mult: ``1`` for the least diversity (pure similarity), ``0`` for the most.
            **kwargs: ``filter`` (as in :meth:`similarity_search`), ``score_threshold``,
                ``hnsw_ef``, ``exact`` or ``search_params``.
        """
        return _docs(self.index.mmr(_query(query), **_mmr(k, fetch_k, lambda_mult, kwargs)))

    def max_marginal_relevance_search_by_vector(
        self, embedding: list[float], k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5,
        **kwargs: Any,
    ) -> list[Document]:  # fmt: skip
        """:meth:`max_marginal_relevance_search` for a query vector."""
        return _docs(self.index.mmr(embedding, **_mmr(k, fetch_k, lambda_mult, kwargs)))

    def _options(self, k: int, filter: FilterLike | None, kwargs: dict[str, Any]) -> Any:
        return {"mode": self.retrieval_mode, **_options(k, filter, kwargs)}

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Map Qdrant's score to ``[0, 1]`` (1 = most relevant), by distance (dense mode only).

        Cosine and dot scores are similarities in ``[-1, 1]`` for unit vectors:
        ``(s + 1) / 2``. Euclidean distances between unit vectors lie in ``[0, 2]``:
        ``1 - d² / 4``, which equals the cosine mapping. Manhattan: ``1 / (1 + d)``.
        Results are clipped to ``[0, 1]``.
        """
        if self.retrieval_mode != "dense":
            raise InvalidInputError(
                f"relevance scores: expected retrieval_mode='dense', found "
                f"{self.retrieval_mode!r}, whose scores (MaxSim, BM25, fused) have no fixed "
                "range. Use similarity_search_with_score, or a dense store."
            )
        distance = self.index.spec.metric
        if distance in ("cosine", "dot"):
            return _similarity_relevance
        if distance == "euclid":
            return _euclid_relevance
        return _manhattan_relevance

    # ---------------------------------------------------------------------------- constructors
    @classmethod
    def from_texts(
        cls, texts: list[str], embedding: EmbeddingLike, metadatas: Metadatas = None, **kwargs: Any
    ) -> Self:
        """Create (or open) a collection and add *texts* to it.

        Args:
            texts: the texts.
            embedding: a ``T5Embeddings``, a ``T5Encoder`` or any LangChain ``Embeddings``.
            metadatas: one metadata dict per text.
            **kwargs: ``ids`` (one per text; derived from source and text when absent),
                ``collection_name``, ``batch_size`` (documents per upload) and any other
                :class:`QdrantIndex` argument (``storage``, ``path``, ``url``, ``client``,
                ``recreate``, ...).
        """
        add = _add_options(kwargs)
        store = cls(embedding, **kwargs)
        store.add_texts(texts, metadatas, **add)
        return store

    @classmethod
    def from_existing_collection(
        cls, collection_name: str, embedding: EmbeddingLike, **index_options: Any
    ) -> Self:
        """Open an existing collection; raises ``CollectionConfigError`` when it is missing or
        does not match the embedding (size, distance, vector name)."""
        return cls(
            embedding, collection_name=collection_name, create_if_missing=False, **index_options
        )

    # --- async twins: generated by scripts/generate_async.py from the code above; do not edit ---
    async def aadd_texts(
        self, texts: Iterable[str], metadatas: Metadatas = None, *, ids: Ids = None, **kwargs: Any
    ) -> list[str]:
        """Async :meth:`add_texts`."""
        return await self.index.aadd(**_texts_args("add_texts", texts, metadatas, ids, kwargs))

    async def aadd_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Async :meth:`add_documents`."""
        return await self.index.aadd(**_documents_args("add_documents", documents, kwargs))

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Async :meth:`delete`."""
        _no_extra("delete", kwargs)
        await self.index.adelete(ids)
        return True

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Async :meth:`get_by_ids`."""
        return await self.index.aget(ids)

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: FilterLike | None = None, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`similarity_search`."""
        return _docs(await self.index.asearch(_query(query), **self._options(k, filter, kwargs)))

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: FilterLike | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_score`."""
        return await self.index.asearch(_query(query), **self._options(k, filter, kwargs))

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: FilterLike | None = None, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`similarity_search_by_vector`."""
        return _docs(await self.index.asearch(embedding, **_options(k, filter, kwargs)))

    async def asimilarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: FilterLike | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_score_by_vector`."""
        return await self.index.asearch(embedding, **_options(k, filter, kwargs))

    async def amax_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search`."""
        return _docs(await self.index.ammr(_query(query), **_mmr(k, fetch_k, lambda_mult, kwargs)))

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        **kwargs: Any,
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search_by_vector`."""
        return _docs(await self.index.ammr(embedding, **_mmr(k, fetch_k, lambda_mult, kwargs)))

    @classmethod
    async def afrom_texts(
        cls, texts: list[str], embedding: EmbeddingLike, metadatas: Metadatas = None, **kwargs: Any
    ) -> Self:
        """Async :meth:`from_texts`."""
        add = _add_options(kwargs)
        store = cls(embedding, **kwargs)
        await store.aadd_texts(texts, metadatas, **add)
        return store

    # --- end of async twins ---


def _documents(texts: Iterable[str], metadatas: list[dict[str, Any]] | None) -> list[Document]:
    if isinstance(texts, str):
        raise InvalidInputError(
            "texts: expected a list of str, found one str. Wrap it in a list: [text]."
        )
    items = list(texts)
    if metadatas is not None and len(metadatas) != len(items):
        raise InvalidInputError(
            f"metadatas: expected one per text ({len(items)}), found {len(metadatas)}."
        )
    for i, text in enumerate(items):
        check_text(text, where=f"texts[{i}]")
    return [
        Document(page_content=text, metadata=metadatas[i] if metadatas is not None else {})
        for i, text in enumerate(items)
    ]


def _query(query: object) -> str:
    if isinstance(query, str | bytes | bytearray):
        return check_text(query, where="query")
    raise InvalidInputError(
        f"query: expected a str, found {type(query).__name__}. For a query vector use "
        "similarity_search_by_vector(embedding)."
    )


def _add_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """What ``from_texts`` passes to ``add_texts`` (ids, batch size), taken out of *kwargs*."""
    return {key: kwargs.pop(key) for key in ("ids", "batch_size") if key in kwargs}


def _texts_args(
    method: str, texts: Iterable[str], metadatas: Metadatas, ids: Ids, kwargs: dict[str, Any]
) -> Any:
    """``QdrantIndex.add``'s arguments for ``add_texts``: documents, ids, batch size."""
    batch_size = kwargs.pop("batch_size", DEFAULT_BATCH_SIZE)
    _no_extra(method, kwargs)
    return {"documents": _documents(texts, metadatas), "ids": ids, "batch_size": batch_size}


def _documents_args(method: str, documents: list[Document], kwargs: dict[str, Any]) -> Any:
    """``QdrantIndex.add``'s arguments for ``add_documents`` (``ids=`` win over
    ``Document.id``)."""
    ids, batch_size = kwargs.pop("ids", None), kwargs.pop("batch_size", DEFAULT_BATCH_SIZE)
    _no_extra(method, kwargs)
    if ids is None:
        return {"documents": documents, "ids": None, "batch_size": batch_size}
    if isinstance(ids, str) or len(ids) != len(documents):
        found = "a str" if isinstance(ids, str) else f"{len(ids)} ids"
        raise InvalidInputError(
            f"ids: expected one id per document ({len(documents)}), found {found}."
        )
    merged = [
        given if given is not None else doc.id for given, doc in zip(ids, documents, strict=True)
    ]
    return {"documents": documents, "ids": merged, "batch_size": batch_size}


def _docs(pairs: list[tuple[Document, float]]) -> list[Document]:
    return [doc for doc, _ in pairs]


def _options(k: int, filter: FilterLike | None, kwargs: dict[str, Any]) -> Any:
    unknown = sorted(set(kwargs) - _SEARCH_OPTIONS)
    if unknown:
        raise InvalidInputError(
            f"unexpected search argument(s) {unknown}; expected k, filter, "
            f"{', '.join(sorted(_SEARCH_OPTIONS))} (and fetch_k, lambda_mult for MMR)."
        )
    return {"k": k, "filter": filter, **kwargs}


def _mmr(k: int, fetch_k: int, lambda_mult: float, kwargs: dict[str, Any]) -> Any:
    filter = kwargs.pop("filter", None)
    options = _options(k, filter, kwargs)
    options.pop("mode", None)
    return {**options, "fetch_k": fetch_k, "lambda_mult": lambda_mult}


def _check_mode(index: QdrantIndex, mode: str) -> None:
    retrieval = Retrieval(mode)  # type: ignore[arg-type]
    missing = (
        "sparse_vectors"
        if retrieval.needs_sparse and index.spec.sparse is None
        else "token_vectors"
        if retrieval.needs_tokens and index.spec.tokens is None
        else None
    )
    if missing is not None:
        raise InvalidInputError(
            f"retrieval_mode: {mode!r} expected an index with {missing}, found none. Create "
            f"the QdrantIndex with spec=CollectionSpec({missing}=True), or pass the options "
            "instead of index=."
        )


def _no_extra(method: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise InvalidInputError(f"{method}: unexpected argument(s) {sorted(kwargs)}.")


def _similarity_relevance(score: float) -> float:
    return min(1.0, max(0.0, (score + 1.0) / 2.0))


def _euclid_relevance(distance: float) -> float:
    return min(1.0, max(0.0, 1.0 - distance * distance / 4.0))


def _manhattan_relevance(distance: float) -> float:
    return 1.0 / (1.0 + max(0.0, distance))
