"""`QdrantIndex`: a Qdrant collection fed and searched through one embedding model.

The facade only validates and drives: what each method does is written once, in
:mod:`t5_vectors.index._ops`, and run with sync targets by ``search`` and with async ones by
``asearch`` (and so on for every pair).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Unpack

import numpy as np
from langchain_core.documents import Document

from t5_vectors._steps import Steps, adrive, drive
from t5_vectors.errors import InvalidInputError
from t5_vectors.index import _ops
from t5_vectors.index._encoding import PointEncoder
from t5_vectors.index._handle import CollectionHandle
from t5_vectors.index.embedder import Embedder, EmbeddingLike
from t5_vectors.index.ingest import IngestReport, OnFailure, arun_ingest, run_ingest
from t5_vectors.index.options import (
    IndexOptions,
    MmrKwargs,
    SearchKwargs,
    layout_spec,
    split_options,
    storage_arguments,
)
from t5_vectors.plan.collection import CollectionSpec
from t5_vectors.plan.filters import FilterLike
from t5_vectors.plan.footprint import DEFAULT_SAMPLE, StorageReport
from t5_vectors.plan.ids import DocumentId
from t5_vectors.plan.model_record import ModelIdentity
from t5_vectors.plan.retrieval import Retrieval
from t5_vectors.storage.retry import RetryPolicy
from t5_vectors.plan.search import ScoredDocuments, SearchOptions, with_search_options
from t5_vectors.plan.vectors import layout_fingerprint
from t5_vectors.storage.base import AsyncBackend, Backend, Progress
from t5_vectors.storage.copy import CopyReport, copy_collection
from t5_vectors.storage.open import Storage, StorageLike, open_storage
from t5_vectors.storage.retry import aretrying, retrying

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient, QdrantClient

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_COLLECTION", "QdrantIndex"]

DEFAULT_COLLECTION = "t5_vectors"
DEFAULT_BATCH_SIZE = 256

QueryLike = str | Sequence[float] | np.ndarray
"""A query text (embedded as a query) or a query vector of the model's size."""


class _Async:
    """An object whose method ``x`` is its ``ax``: the async name of each call an op makes."""

    def __init__(self, target: object) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, f"a{name}")


class _Pipeline:
    run = staticmethod(run_ingest)


class _AsyncPipeline:
    run = staticmethod(arun_ingest)


class QdrantIndex:
    """A Qdrant collection that documents stream into and queries search, through one model.

    The collection is created from the model's ``dim`` (no dummy embedding call for T5) or, when
    it exists, checked against the requested size, distance and vector name; a mismatch raises
    :class:`~t5_vectors.errors.CollectionConfigError` before anything is written.

    Setup:
        .. code-block:: bash

            pip install t5-vectors      # Qdrant Edge, the embedded engine, is included
            docker compose up -d        # only for a Qdrant server (storage="http://...")

    Instantiate:
        .. code-block:: python

            from t5_vectors import QdrantIndex, T5Encoder

            encoder = T5Encoder.from_pretrained("sentence-transformers/sentence-t5-base")
            index = QdrantIndex(encoder, collection_name="docs", storage="./qdrant_data")
            # storage= a folder (embedded), "http://localhost:6333", ":memory:",
            # QdrantClient(...) or AsyncQdrantClient(...); or the shorthands path=, url=, ...

    Ingest:
        .. code-block:: python

            from langchain_community.document_loaders import DirectoryLoader

            report = index.ingest(DirectoryLoader("docs/").lazy_load(), show_progress=True)
            print(report.written, report.skipped, report.failed)
            index.ingest(DirectoryLoader("docs/").lazy_load()).written  # 0: nothing changed

    Search:
        .. code-block:: python

            for document, score in index.search(
                "how do I rotate keys?", k=4, filter={"source": "docs/security.md"}
            ):
                print(f"{score:.3f} {document.id} {document.page_content[:60]}")
            diverse = index.mmr("key rotation", k=4, fetch_k=20, lambda_mult=0.5)

    Args:
        embedding: a ``T5Encoder``, a ``T5Embeddings`` or any LangChain ``Embeddings``.
        collection_name: the collection.
        storage: where it lives (:func:`~t5_vectors.storage.open.open_storage`): a folder for
            embedded storage (a folder qdrant-client's local mode wrote, as langchain-qdrant's
            ``path=`` does, opens as it is; any other is Qdrant Edge), a server URL,
            ``":memory:"``, a ``QdrantClient`` or ``AsyncQdrantClient`` (not closed by
            :meth:`close`; an async client given alone checks the collection on first use), a
            storage :class:`~t5_vectors.storage.base.Backend` to share (``other.backend``),
            or an open :class:`~t5_vectors.storage.open.Storage`. ``None``, with none of the
            shorthands below, is embedded storage in ``./t5_vectors_data``; nothing is created
            on disk until something is written.
        spec: how a new collection is laid out and what an existing one must match
            (:class:`~t5_vectors.plan.collection.CollectionSpec`: distance, vector name,
            quantization, payload indexes, token and sparse vectors, shards).
        recreate: drop the collection if it exists, then create it (deletes its points).
        create_if_missing: create the collection when it does not exist; with ``False`` a
            missing collection raises ``CollectionConfigError``.
        retry: how transient storage failures are retried.
        **options: the flat keywords of :class:`~t5_vectors.index.options.IndexOptions`,
            folded into ``storage`` (``path``, ``url``, ``location``, ``client``,
            ``async_client``, ``backend``, ``api_key``, ``client_options``) or into ``spec``
            (``distance``, ``vector_name``, ``on_disk``, ``quantization``, ``shard_number``,
            ``replication_factor``, ``payload_indexes``, ``token_vectors`` and
            ``sparse_vectors``, which also take ``True``: store each chunk's token vectors as
            a MaxSim multivector for ``mode="maxsim"`` / ``"rerank"``, or BM25 weights of its
            tokenizer pieces for ``mode="sparse"`` / ``"hybrid"``; both need a T5 model).
    """

    def __init__(
        self,
        embedding: EmbeddingLike,
        *,
        collection_name: str = DEFAULT_COLLECTION,
        storage: StorageLike = None,
        spec: CollectionSpec | None = None,
        recreate: bool = False,
        create_if_missing: bool = True,
        retry: RetryPolicy | None = None,
        **options: Unpack[IndexOptions],
    ) -> None:
        if not isinstance(collection_name, str) or not collection_name:
            raise InvalidInputError(
                f"collection_name: expected a non-empty str, found {collection_name!r}."
            )
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InvalidInputError(f"retry: expected a RetryPolicy, found {retry!r}.")
        storage_options, layout = split_options(options, "QdrantIndex")
        where, keywords = storage_arguments(storage, storage_options)
        self.embedder = Embedder(embedding)
        encoder = self.embedder.encoder
        self.spec = layout_spec(spec, layout, encoder.d_model if encoder is not None else None)
        self.points = PointEncoder(self.embedder, self.spec.token_vectors, self.spec.sparse_vectors)
        self.collection_name = collection_name
        self.retry = retry if retry is not None else RetryPolicy()
        self.identity = ModelIdentity(self.embedder)
        self.connection: Storage = open_storage(where, **keywords)
        self._handle = CollectionHandle(self.connection, collection_name, self.points)
        self._vector_names = self._handle.names(self.spec.vector_name)
        self._written = False
        self._maybe_empty = True  # until a count finds points or this index writes
        self._recreate = recreate
        self._create_if_missing = create_if_missing
        self._ready = False
        self._lock = threading.Lock()
        self._alock = asyncio.Lock()
        self._sync_targets: dict[str, Any] | None = None
        self._async_targets: dict[str, Any] | None = None
        if self.connection.has_sync:
            self.ensure_collection()

    def __repr__(self) -> str:
        distance = self.spec.distance
        return (
            f"QdrantIndex(collection_name={self.collection_name!r}, "
            f"embedding={self.embedder.name}, distance={distance!r})"
        )

    # ------------------------------------------------------------------------------ drivers
    def _run(self, steps: Steps[Any]) -> Any:
        targets = self._sync_targets
        if targets is None or targets["store"] is not self.connection.backend:
            targets = self._sync_targets = self._targets(True)
        return drive(steps, targets)

    async def _arun(self, steps: Steps[Any]) -> Any:
        targets = self._async_targets
        if targets is None or targets["store"] is not self.connection.abackend:
            targets = self._async_targets = self._targets(False)
        return await adrive(steps, targets)

    def _targets(self, sync: bool) -> dict[str, Any]:
        """What the operations call (:mod:`t5_vectors.index._ops`), sync or async (kept, and
        made again only if the storage's backend changes)."""
        store: Any = self.connection.backend if sync else self.connection.abackend
        return {
            "store": store,
            "reads": retrying(store, self.retry) if sync else aretrying(store, self.retry),
            "embed": self.points if sync else _Async(self.points),
            "embedder": self.embedder if sync else _Async(self.embedder),
            "self": self if sync else _Async(self),
            "pipeline": _Pipeline if sync else _AsyncPipeline,
        }

    # ----------------------------------------------------------------------------- properties
    @property
    def embedding(self) -> EmbeddingLike:
        """The encoder or embeddings given at construction."""
        return self.embedder.source

    @property
    def dim(self) -> int:
        """Size of the vectors."""
        return self.embedder.dim

    @property
    def fingerprint(self) -> str:
        """The model's fingerprint and the stored layout, part of every content hash."""
        tokens, sparse = self.spec.token_vectors, self.spec.sparse_vectors
        return layout_fingerprint(self.identity.fingerprint, tokens, sparse)

    @property
    def backend(self) -> Backend:
        """The storage backend (:class:`~t5_vectors.storage.base.Backend`) of the index."""
        return self.connection.backend

    @property
    def abackend(self) -> AsyncBackend:
        """The async storage backend (a worker thread over an in-process engine)."""
        return self.connection.abackend

    @property
    def client(self) -> QdrantClient:
        """The sync ``QdrantClient``: an escape hatch for qdrant-client targets only.

        Servers, ``:memory:`` and local-mode folders have one; a Qdrant Edge store raises
        :class:`~t5_vectors.errors.InvalidInputError`. t5-vectors itself never uses it.
        """
        return self.connection.client

    @property
    def async_client(self) -> AsyncQdrantClient | None:
        """The ``AsyncQdrantClient`` of a server (``None``: async calls run in a thread).

        An escape hatch for qdrant-client targets only, as :attr:`client`.
        """
        return self.connection.async_client

    # ----------------------------------------------------------------------------- collection
    def ensure_collection(self) -> None:
        """Create or check the collection (done once: on construction, or on first use)."""
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self._run(_ops.ensure(self))

    async def aensure_collection(self) -> None:
        """Async :meth:`ensure_collection`."""
        if not self._ready:
            async with self._alock:
                if not self._ready:
                    await self._arun(_ops.ensure(self))

    def drop(self) -> None:
        """Delete the whole collection; the next call creates it again."""
        self._run(_ops.drop(self))

    async def adrop(self) -> None:
        """Async :meth:`drop`."""
        await self._arun(_ops.drop(self))

    def build_index(self, progress: Progress | None = None) -> None:
        """Build the engine's index of what was written (Qdrant Edge: HNSW).

        :meth:`ingest` and :meth:`close` call it after writes; servers index in the background
        and qdrant-client's local mode has no index, so there it does nothing.

        Args:
            progress: ``progress(done, total)`` as the build advances.
        """
        self._run(_ops.build_index(self, progress))

    async def abuild_index(self, progress: Progress | None = None) -> None:
        """Async :meth:`build_index` (on a worker thread for an in-process engine)."""
        await self._arun(_ops.build_index(self, progress))

    # ------------------------------------------------------------------------------ ingestion
    def ingest(
        self,
        documents: Iterable[Document | str],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        show_progress: bool = False,
        force: bool = False,
        on_failure: OnFailure = "raise",
        build_index: bool = True,
    ) -> IngestReport:
        """Stream *documents* into the collection (see :mod:`t5_vectors.index.ingest`).

        Documents keep their ``Document.id``; those without one get an id from their
        ``metadata["source"]`` and text. Documents stored unchanged are neither encoded nor
        written again.

        Args:
            documents: any iterable of ``Document`` or ``str`` (``loader.lazy_load()``). Lists
                and tuples are validated in full before anything is written.
            batch_size: documents per batch (memory holds about three batches).
            show_progress: show a progress bar.
            force: re-encode and rewrite even documents stored unchanged (after changing
                something the content hash cannot see).
            on_failure: ``"raise"`` stops at the first batch that fails for good with
                :class:`~t5_vectors.errors.IngestError`; ``"continue"`` records it in the
                report and goes on.
            build_index: build the engine's search index over what was written, at the end
                (:meth:`build_index`). Pass ``False`` when one stream is fed through several
                calls, and call :meth:`build_index` once after the last.

        Returns:
            the counts of written, skipped (unchanged) and failed documents.
        """
        if isinstance(documents, AsyncIterable):
            raise InvalidInputError(
                "documents: expected an iterable, found an async iterable. Pass it to aingest."
            )
        return self._run(  # type: ignore[no-any-return]
            _ops.ingest(
                self,
                documents,
                batch_size=batch_size,
                show_progress=show_progress,
                force=force,
                on_failure=on_failure,
                build=build_index,
            )
        )

    async def aingest(
        self,
        documents: Iterable[Document | str] | AsyncIterable[Document | str],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        show_progress: bool = False,
        force: bool = False,
        on_failure: OnFailure = "raise",
        build_index: bool = True,
    ) -> IngestReport:
        """Async :meth:`ingest`; also takes async iterables (``loader.alazy_load()``)."""
        return await self._arun(  # type: ignore[no-any-return]
            _ops.ingest(
                self,
                documents,
                batch_size=batch_size,
                show_progress=show_progress,
                force=force,
                on_failure=on_failure,
                build=build_index,
            )
        )

    def add(
        self,
        documents: Sequence[Document | str],
        *,
        ids: Sequence[DocumentId | None] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> list[str]:
        """Add or update *documents*; returns their ids as ``str``, in order.

        Every document is validated before anything is written. A document's id comes from
        *ids*, else from ``Document.id``, else from its source and text.
        """
        return self._run(_ops.add(self, documents, ids, batch_size))  # type: ignore[no-any-return]

    async def aadd(
        self,
        documents: Sequence[Document | str],
        *,
        ids: Sequence[DocumentId | None] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> list[str]:
        """Async :meth:`add`."""
        return await self._arun(_ops.add(self, documents, ids, batch_size))  # type: ignore[no-any-return]

    def record_model_location(self) -> None:
        """Record where the model now is, when it was recognised as the recorded one elsewhere.

        The same checkpoint copied to another folder (or the hub id of a saved folder) writes
        to the collection as the same model; the record then names the place it was last
        written from, so ``t5-vectors search`` without ``--model`` finds it there. Ingesting
        and adding do it; the file ingest also does when every file is stored unchanged.
        """
        self._run(_ops.record_model_location(self))

    async def arecord_model_location(self) -> None:
        """Async :meth:`record_model_location`."""
        await self._arun(_ops.record_model_location(self))

    # --------------------------------------------------------------------------------- search
    def search(self, query: QueryLike, **options: Unpack[SearchKwargs]) -> ScoredDocuments:
        """The *k* best documents for *query*, with Qdrant's scores, best first.

        Args:
            query: a query text (embedded as a query) or, for ``mode="dense"``, a query vector.
            **options: the keywords of :class:`~t5_vectors.index.options.SearchKwargs`:

                * ``k``: how many documents (default 4).
                * ``filter``: a dict of metadata values (operators ``$gte``, ``$in``, ...;
                  :mod:`t5_vectors.plan.filters`) or a qdrant ``models.Filter``.
                * ``score_threshold``: drop results worse than this (similarity for cosine and
                  dot, distance for euclid and manhattan; else MaxSim, BM25 or fused score).
                * ``search_params``: a :class:`~t5_vectors.storage.base.SearchParams` or a
                  qdrant ``models.SearchParams``.
                * ``hnsw_ef``: the HNSW beam width at search time (larger: better recall,
                  slower); ``None`` is the engine's default.
                * ``exact``: search without the index (exact scores over every point).
                * ``mode``: ``"dense"`` (pooled vector, the default), ``"maxsim"``,
                  ``"rerank"`` (dense candidates re-ranked by MaxSim), ``"sparse"`` (BM25) or
                  ``"hybrid"`` (dense + BM25 fused); see :mod:`t5_vectors.plan.retrieval`.
                * ``fusion``: ``"rrf"`` (default) or ``"dbsf"`` (hybrid).
                * ``dense_limit`` / ``sparse_limit``: candidates of each list (hybrid,
                  rerank); default ``max(4 * k, 20)``.
                * ``rrf_k``: the RRF constant (hybrid with rrf); default Qdrant's.
        """
        return self._run(_ops.search(self, query, *_search(options)))  # type: ignore[no-any-return]

    async def asearch(self, query: QueryLike, **options: Unpack[SearchKwargs]) -> ScoredDocuments:
        """Async :meth:`search`."""
        return await self._arun(_ops.search(self, query, *_search(options)))  # type: ignore[no-any-return]

    def mmr(self, query: QueryLike, **options: Unpack[MmrKwargs]) -> ScoredDocuments:
        """Maximal marginal relevance: *k* of the *fetch_k* nearest, relevant yet diverse.

        ``lambda_mult`` follows LangChain: ``1`` ranks by relevance only (least diversity),
        ``0`` maximises diversity. Scores are Qdrant's scores against the query.

        Args:
            query: a query text or a query vector.
            **options: the keywords of :class:`~t5_vectors.index.options.MmrKwargs`: ``k``
                (default 4), ``fetch_k`` (how many nearest documents to choose from, default
                20), ``lambda_mult`` (relevance weight in ``[0, 1]``, default 0.5), and
                ``filter``, ``score_threshold`` (applied to the *fetch_k* candidates),
                ``search_params``, ``hnsw_ef`` and ``exact`` as in :meth:`search`.
        """
        return self._run(_ops.search(self, query, _mmr(options), Retrieval()))  # type: ignore[no-any-return]

    async def ammr(self, query: QueryLike, **options: Unpack[MmrKwargs]) -> ScoredDocuments:
        """Async :meth:`mmr`."""
        return await self._arun(_ops.search(self, query, _mmr(options), Retrieval()))  # type: ignore[no-any-return]

    # ----------------------------------------------------------------------- ids and deletion
    def get(self, ids: Sequence[DocumentId]) -> list[Document]:
        """The stored documents with these ids, in the order asked; missing ids are left out."""
        return self._run(_ops.get(self, ids))  # type: ignore[no-any-return]

    async def aget(self, ids: Sequence[DocumentId]) -> list[Document]:
        """Async :meth:`get`."""
        return await self._arun(_ops.get(self, ids))  # type: ignore[no-any-return]

    def delete(
        self, ids: Sequence[DocumentId] | None = None, *, filter: FilterLike | None = None
    ) -> None:
        """Delete the documents with these ids (missing ones are ignored), or those matching
        *filter* (as in :meth:`search`); with neither, every document."""
        self._run(_ops.delete(self, ids, filter))

    async def adelete(
        self, ids: Sequence[DocumentId] | None = None, *, filter: FilterLike | None = None
    ) -> None:
        """Async :meth:`delete`."""
        await self._arun(_ops.delete(self, ids, filter))

    def count(self, filter: FilterLike | None = None) -> int:
        """Exact number of points (matching *filter*)."""
        return self._run(_ops.count(self, filter))  # type: ignore[no-any-return]

    async def acount(self, filter: FilterLike | None = None) -> int:
        """Async :meth:`count`."""
        return await self._arun(_ops.count(self, filter))  # type: ignore[no-any-return]

    def storage(self, sample: int = DEFAULT_SAMPLE) -> StorageReport:
        """Bytes per chunk, measured on up to *sample* stored points (see
        :mod:`t5_vectors.plan.footprint`)."""
        return self._run(_ops.storage(self, sample))  # type: ignore[no-any-return]

    async def astorage(self, sample: int = DEFAULT_SAMPLE) -> StorageReport:
        """Async :meth:`storage`."""
        return await self._arun(_ops.storage(self, sample))  # type: ignore[no-any-return]

    def copy_to(
        self,
        storage: StorageLike = None,
        *,
        collection_name: str | None = None,
        api_key: str | None = None,
        client_options: Mapping[str, Any] | None = None,
        show_progress: bool = False,
        **where: Any,
    ) -> CopyReport:
        """Copy the collection to other storage without re-encoding (see :mod:`.storage.copy`).

        Ids, payloads, every named vector (dense, token, sparse) and the model record arrive
        as stored. The copy streams page by page, and running it again is safe (the same ids
        are upserted); a different collection under the destination's name is refused with
        :class:`~t5_vectors.errors.CollectionConfigError` before anything is written.

        Args:
            storage: the destination, anything :func:`~t5_vectors.storage.open.open_storage`
                opens (a folder, a URL, ``":memory:"``, a ``QdrantClient``, a backend); or
                one of the shorthands ``path=``, ``url=``, ``location=``, ``client=``,
                ``backend=``. Clients and backends given are not closed.
            collection_name: the name at the destination (default: this collection's).
            api_key: the destination server's API key.
            client_options: other ``QdrantClient`` keyword arguments for the destination.
            show_progress: show a progress bar.

        Returns:
            the points copied, and whether the destination collection was created.
        """
        storage_options, layout = split_options(where, "copy_to")
        if layout or "async_client" in storage_options:
            raise InvalidInputError(
                f"copy_to: expected a destination, found {sorted({*layout, *storage_options})}."
            )
        if api_key is not None:
            storage_options["api_key"] = api_key
        if client_options:
            storage_options["client_options"] = client_options
        destination_where, keywords = storage_arguments(storage, storage_options)
        if destination_where is None:
            raise InvalidInputError(
                "copy_to: expected a destination (storage=, or path=, url=, location=, client= "
                "or backend=), found none."
            )
        self.ensure_collection()
        if self._written:
            self.build_index()
        destination = open_storage(destination_where, **keywords)
        try:
            with _ops.copy_bar(show_progress, "copy", "point") as progress:
                return copy_collection(
                    retrying(self.connection.backend, self.retry),
                    self.collection_name,
                    destination.backend,
                    collection_name,
                    progress=progress,
                )
        finally:
            destination.close()

    # ------------------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Build the index of what was written, then close the storage this index opened.

        Closing releases an embedded store for other processes. Storage left open is closed at
        interpreter exit. The storage is closed even when the build fails (a full disk raises
        :class:`~t5_vectors.errors.StorageFullError`; the index is built on a later close).
        """
        try:
            self._run(_ops.close(self))
        finally:
            self.connection.close()

    async def aclose(self) -> None:
        """Async :meth:`close`: also closes the async clients this index created."""
        try:
            await self._arun(_ops.close(self))
        finally:
            await self.connection.aclose()

    def __enter__(self) -> QdrantIndex:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> QdrantIndex:
        await self.aensure_collection()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


_SEARCH_DEFAULTS: dict[str, Any] = {
    "k": 4,
    "filter": None,
    "score_threshold": None,
    "search_params": None,
    "hnsw_ef": None,
    "exact": False,
}


_SEARCH_KEYS = frozenset(SearchKwargs.__annotations__)
_MMR_KEYS = frozenset(MmrKwargs.__annotations__)


def _known(options: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(options.keys() - allowed)
    if unknown:
        raise TypeError(
            f"{where}() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
            f"it takes {', '.join(sorted(allowed))}."
        )


def _search(options: Mapping[str, Any]) -> tuple[SearchOptions, Retrieval]:
    _known(options, _SEARCH_KEYS, "search")
    given = {**_SEARCH_DEFAULTS, **options}
    params = with_search_options(given["search_params"], given["hnsw_ef"], given["exact"])
    search = SearchOptions(given["k"], given["filter"], given["score_threshold"], params)
    retrieval = Retrieval(
        options.get("mode", "dense"),
        options.get("fusion", "rrf"),
        options.get("dense_limit"),
        options.get("sparse_limit"),
        options.get("rrf_k"),
    )
    return search, retrieval


def _mmr(options: Mapping[str, Any]) -> SearchOptions:
    _known(options, _MMR_KEYS, "mmr")
    given = {**_SEARCH_DEFAULTS, "fetch_k": 20, "lambda_mult": 0.5, **options}
    params = with_search_options(given["search_params"], given["hnsw_ef"], given["exact"])
    return SearchOptions(
        given["k"],
        given["filter"],
        given["score_threshold"],
        params,
        given["fetch_k"],
        given["lambda_mult"],
    )
