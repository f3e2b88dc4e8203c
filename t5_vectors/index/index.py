"""`QdrantIndex`: a Qdrant collection fed and searched through one embedding model."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterable, Iterable, Iterator, Mapping, Sequence, Sized
from types import TracebackType
from typing import Any

import numpy as np
from langchain_core.documents import Document
from qdrant_client import AsyncQdrantClient, QdrantClient, models

from t5_vectors.errors import InvalidInputError
from t5_vectors.index._encoding import PointEncoder
from t5_vectors.index._handle import CollectionHandle
from t5_vectors.index.embedder import Embedder, EmbeddingLike
from t5_vectors.index.ingest import IngestReport, OnFailure, arun_ingest, run_ingest
from t5_vectors.plan.collection import (
    CollectionSpec,
    DistanceLike,
    QuantizationLike,
    aensure_collection,
    ensure_collection,
)
from t5_vectors.plan.filters import FilterLike, to_filter
from t5_vectors.plan.footprint import DEFAULT_SAMPLE, StorageReport
from t5_vectors.plan.ids import DocumentId
from t5_vectors.plan.model_record import ModelIdentity, relocated
from t5_vectors.plan.payload import (
    aprepare_stream,
    prepare_list,
    prepare_stream,
)
from t5_vectors.plan.points import DELETE_ALL, IdLookup
from t5_vectors.plan.retrieval import Fusion, Mode, Retrieval
from t5_vectors.plan.retry import RetryPolicy
from t5_vectors.plan.search import ScoredDocuments, SearchOptions, with_search_options
from t5_vectors.plan.vectors import (
    SparseVectors,
    TokenVectors,
    layout_fingerprint,
    layout_options,
)
from t5_vectors.storage.base import AsyncBackend, Backend, Progress, SearchParams
from t5_vectors.storage.copy import CopyReport, copy_collection
from t5_vectors.storage.open import Connection
from t5_vectors.storage.retrying import AsyncRetryingBackend, RetryingBackend

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_COLLECTION", "QdrantIndex"]

DEFAULT_COLLECTION = "t5_vectors"
DEFAULT_BATCH_SIZE = 256

QueryLike = str | Sequence[float] | np.ndarray
"""A query text (embedded as a query) or a query vector of the model's size."""


class QdrantIndex:
    """A Qdrant collection that documents stream into and queries search, through one model.

    The collection is created from the model's ``dim`` (no dummy embedding call for T5) or, when
    it exists, checked against the requested size, distance and vector name; a mismatch raises
    :class:`~t5_vectors.errors.CollectionConfigError` before anything is written.

    Setup:
        .. code-block:: bash

            pip install t5-vectors

    Instantiate:
        .. code-block:: python

            from t5_vectors import QdrantIndex, T5Encoder

            encoder = T5Encoder.from_pretrained("sentence-transformers/sentence-t5-base")
            index = QdrantIndex(encoder, collection_name="docs", path="./qdrant_data")
            # or url="http://localhost:6333", client=QdrantClient(...),
            # async_client=AsyncQdrantClient(...), location=":memory:"

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
        client: a ``QdrantClient`` (not closed by :meth:`close`).
        backend: a storage :class:`~t5_vectors.storage.base.Backend` to share, for example
            ``other_index.backend`` (an embedded store opens in one process once; not closed
            by :meth:`close`).
        async_client: an ``AsyncQdrantClient`` (native async calls; not closed by
            :meth:`aclose`). Given alone, the collection is checked on first use.
        location: ``":memory:"`` or a server URL, as ``QdrantClient(location=...)``.
        url: a server URL.
        path: a folder for embedded storage: a folder written by qdrant-client's local mode
            (langchain-qdrant ``path=``, earlier t5-vectors) opens as it is; any other (new)
            folder is a Qdrant Edge store (t5-vectors' own format). With no client, location,
            url or path, embedded storage lives in ``./t5_vectors_data``. Nothing is created
            on disk until something is written.
        api_key: the server's API key.
        client_options: other ``QdrantClient`` keyword arguments (``prefer_grpc``,
            ``timeout``, ...).
        distance: ``"cosine"`` (default), ``"dot"``, ``"euclid"`` or ``"manhattan"``.
        vector_name: the dense vector's name; ``None`` is the unnamed vector.
        on_disk: keep original vectors on disk.
        quantization: ``"scalar"``, ``"binary"``, ``"product"`` or a qdrant config.
        shard_number: shards of a new collection.
        replication_factor: replicas per shard of a new collection.
        payload_indexes: metadata keys to index (list, or dict key -> schema).
        recreate: drop the collection if it exists, then create it (deletes its points).
        create_if_missing: create the collection when it does not exist; with ``False`` a
            missing collection raises ``CollectionConfigError``.
        retry: how transient failures during ingestion are retried.
        token_vectors: also store each chunk's token vectors as a MaxSim multivector
            (``True`` or a :class:`~t5_vectors.plan.vectors.TokenVectors` for its datatype,
            quantization, ...); enables ``mode="maxsim"`` and ``"rerank"``. Needs a T5 model.
        sparse_vectors: also store BM25 weights of the tokenizer's pieces as a sparse vector
            with Qdrant's IDF modifier (``True`` or a
            :class:`~t5_vectors.plan.vectors.SparseVectors`); enables ``mode="sparse"`` and
            ``"hybrid"``. Needs a T5 model.
    """

    def __init__(
        self,
        embedding: EmbeddingLike,
        *,
        collection_name: str = DEFAULT_COLLECTION,
        client: QdrantClient | None = None,
        backend: Backend | None = None,
        async_client: AsyncQdrantClient | None = None,
        location: str | None = None,
        url: str | None = None,
        path: str | os.PathLike[str] | None = None,
        api_key: str | None = None,
        client_options: Mapping[str, Any] | None = None,
        distance: DistanceLike = "cosine",
        vector_name: str | None = None,
        on_disk: bool = False,
        quantization: QuantizationLike | None = None,
        shard_number: int | None = None,
        replication_factor: int | None = None,
        payload_indexes: Mapping[str, str | models.PayloadSchemaType] | Sequence[str] = (),
        recreate: bool = False,
        create_if_missing: bool = True,
        retry: RetryPolicy | None = None,
        token_vectors: bool | TokenVectors = False,
        sparse_vectors: bool | SparseVectors = False,
    ) -> None:
        if not isinstance(collection_name, str) or not collection_name:
            raise InvalidInputError(
                f"collection_name: expected a non-empty str, found {collection_name!r}."
            )
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InvalidInputError(f"retry: expected a RetryPolicy, found {retry!r}.")
        self.embedder = Embedder(embedding)
        encoder = self.embedder.encoder
        tokens, sparse = layout_options(
            token_vectors, sparse_vectors, encoder.d_model if encoder is not None else None
        )
        self.points = PointEncoder(self.embedder, tokens, sparse)
        self.spec = CollectionSpec(
            distance=distance,
            vector_name=vector_name,
            on_disk=on_disk,
            quantization=quantization,
            shard_number=shard_number,
            replication_factor=replication_factor,
            payload_indexes=payload_indexes,
            token_vectors=tokens,
            sparse_vectors=sparse,
        )
        self.collection_name = collection_name
        self.retry = retry if retry is not None else RetryPolicy()
        self.identity = ModelIdentity(self.embedder)
        options = {
            "location": location,
            "url": url,
            "path": os.fspath(path) if path is not None else None,
            "api_key": api_key,
            **(client_options or {}),
        }
        self.connection = Connection(
            client=client, async_client=async_client, backend=backend, options=options, edge=True
        )
        self._handle = CollectionHandle(
            self.connection, collection_name, self.points, self.spec.vector_name, self.retry
        )
        self._written = False
        self._maybe_empty = True  # until a count finds points or this index writes
        self._recreate = recreate
        self._create_if_missing = create_if_missing
        self._ready = False
        self._lock = threading.Lock()
        self._alock = asyncio.Lock()
        if async_client is None or client is not None or backend is not None:
            self.ensure_collection()

    def __repr__(self) -> str:
        distance = self.spec.distance
        return (
            f"QdrantIndex(collection_name={self.collection_name!r}, "
            f"embedding={self.embedder.name}, distance={distance!r})"
        )

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

    def _reads(self) -> RetryingBackend:
        return RetryingBackend(self.connection.backend, self.retry)

    def _areads(self) -> AsyncRetryingBackend:
        return AsyncRetryingBackend(self.connection.abackend, self.retry)

    # ----------------------------------------------------------------------------- collection
    def ensure_collection(self) -> None:
        """Create or check the collection (done once: on construction, or on first use)."""
        if not self._ready:
            with self._lock:
                if not self._ready:
                    ensure_collection(
                        self.connection.backend,
                        *self._ensure_arguments(),
                        recreate=self._recreate,
                        create_if_missing=self._create_if_missing,
                        identity=self.identity,
                    )
                    self._ready, self._recreate = True, False

    async def aensure_collection(self) -> None:
        """Async :meth:`ensure_collection`."""
        if not self._ready:
            async with self._alock:
                if not self._ready:
                    await aensure_collection(
                        self.connection.abackend,
                        *self._ensure_arguments(),
                        recreate=self._recreate,
                        create_if_missing=self._create_if_missing,
                        identity=self.identity,
                    )
                    self._ready, self._recreate = True, False

    def _ensure_arguments(self) -> tuple[str, CollectionSpec, int, str]:
        return self.collection_name, self.spec, self.dim, self.embedder.name

    def drop(self) -> None:
        """Delete the whole collection; the next call creates it again."""
        self.connection.backend.drop(self.collection_name)
        self._ready = self._written = False
        self._maybe_empty = True

    async def adrop(self) -> None:
        """Async :meth:`drop`."""
        await self.connection.abackend.drop(self.collection_name)
        self._ready = self._written = False
        self._maybe_empty = True

    def build_index(self, progress: Progress | None = None) -> None:
        """Build the engine's index of what was written (Qdrant Edge: HNSW).

        :meth:`ingest` and :meth:`close` call it after writes; servers index in the background
        and qdrant-client's local mode has no index, so there it does nothing.

        Args:
            progress: ``progress(done, total)`` as the build advances.
        """
        self.ensure_collection()
        self.connection.backend.build_index(self.collection_name, progress=progress)
        self._written = False

    async def abuild_index(self, progress: Progress | None = None) -> None:
        """Async :meth:`build_index` (on a worker thread for an in-process engine)."""
        await self.aensure_collection()
        await self.connection.abackend.build_index(self.collection_name, progress=progress)
        self._written = False

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
        _check_ingest_options(batch_size, on_failure)
        fingerprint = self.fingerprint
        source = prepare_stream(documents, fingerprint)
        self.ensure_collection()
        if self.fingerprint != fingerprint:  # adopted the collection's (nothing consumed yet)
            source = prepare_stream(documents, self.fingerprint)
        self.record_model_location()
        lookup = not force and self._holds_points()
        self._written = True
        report = run_ingest(
            source,
            self._handle,
            batch_size=batch_size,
            retry=self.retry,
            on_failure=on_failure,
            force=force,
            lookup=lookup,
            show_progress=show_progress,
            total=len(documents) if isinstance(documents, Sized) else None,
        )
        if report.written and build_index:
            with _index_bar(show_progress) as progress:
                self.build_index(progress)
        return report

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
        _check_ingest_options(batch_size, on_failure)
        fingerprint = self.fingerprint
        source = (
            aprepare_stream(documents, fingerprint)
            if isinstance(documents, AsyncIterable)
            else prepare_stream(documents, fingerprint)
        )
        await self.aensure_collection()
        if self.fingerprint != fingerprint:  # adopted the collection's (nothing consumed yet)
            source = (
                aprepare_stream(documents, self.fingerprint)
                if isinstance(documents, AsyncIterable)
                else prepare_stream(documents, self.fingerprint)
            )
        await self.arecord_model_location()
        lookup = not force and await self._aholds_points()
        self._written = True
        report = await arun_ingest(
            source,
            self._handle,
            batch_size=batch_size,
            retry=self.retry,
            on_failure=on_failure,
            force=force,
            lookup=lookup,
            show_progress=show_progress,
            total=len(documents) if isinstance(documents, Sized) else None,
        )
        if report.written and build_index:
            with _index_bar(show_progress) as progress:
                await self.abuild_index(progress)
        return report

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
        _check_ingest_options(batch_size, "raise")
        fingerprint = self.fingerprint
        prepared = prepare_list(documents, ids, fingerprint)
        self.ensure_collection()
        if self.fingerprint != fingerprint:  # adopted the collection's: hash with it
            prepared = prepare_list(documents, ids, self.fingerprint)
        self.record_model_location()
        lookup = self._holds_points()
        self._written = True
        run_ingest(prepared, self._handle, batch_size=batch_size, retry=self.retry, lookup=lookup)
        return [str(doc.document_id) for doc in prepared]

    async def aadd(
        self,
        documents: Sequence[Document | str],
        *,
        ids: Sequence[DocumentId | None] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> list[str]:
        """Async :meth:`add`."""
        _check_ingest_options(batch_size, "raise")
        fingerprint = self.fingerprint
        prepared = prepare_list(documents, ids, fingerprint)
        await self.aensure_collection()
        if self.fingerprint != fingerprint:  # adopted the collection's: hash with it
            prepared = prepare_list(documents, ids, self.fingerprint)
        await self.arecord_model_location()
        lookup = await self._aholds_points()
        self._written = True
        await arun_ingest(
            prepared, self._handle, batch_size=batch_size, retry=self.retry, lookup=lookup
        )
        return [str(doc.document_id) for doc in prepared]

    # --------------------------------------------------------------------------------- search
    def search(
        self,
        query: QueryLike,
        *,
        k: int = 4,
        filter: FilterLike | None = None,
        score_threshold: float | None = None,
        search_params: SearchParams | models.SearchParams | None = None,
        hnsw_ef: int | None = None,
        exact: bool = False,
        mode: Mode = "dense",
        fusion: Fusion = "rrf",
        dense_limit: int | None = None,
        sparse_limit: int | None = None,
        rrf_k: int | None = None,
    ) -> ScoredDocuments:
        """The *k* best documents for *query*, with Qdrant's scores, best first.

        Args:
            query: a query text (embedded as a query) or, for ``mode="dense"``, a query vector.
            k: how many documents.
            filter: a qdrant ``models.Filter`` or a dict of metadata values
                (see :mod:`t5_vectors.plan.filters`).
            score_threshold: drop results worse than this (similarity for cosine and dot,
                distance for euclid and manhattan; else MaxSim, BM25 or fused score).
            search_params: search parameters (a :class:`~t5_vectors.storage.base.SearchParams`
                or a qdrant ``models.SearchParams``).
            hnsw_ef: the HNSW beam width at search time (larger: better recall, slower);
                ``None`` is the engine's default.
            exact: search without the index (exact scores over every point).
            mode: ``"dense"`` (pooled vector), ``"maxsim"``, ``"rerank"`` (dense candidates
                re-ranked by MaxSim), ``"sparse"`` (BM25) or ``"hybrid"`` (dense + BM25 fused);
                see :mod:`t5_vectors.plan.retrieval`.
            fusion: ``"rrf"`` or ``"dbsf"`` (hybrid).
            dense_limit: dense candidates (hybrid, rerank); default ``max(4 * k, 20)``.
            sparse_limit: BM25 candidates (hybrid); default ``max(4 * k, 20)``.
            rrf_k: the RRF constant (hybrid with rrf); default Qdrant's.
        """
        params = with_search_options(search_params, hnsw_ef, exact)
        options = SearchOptions(k, filter, score_threshold, params)
        retrieval = Retrieval(mode, fusion, dense_limit, sparse_limit, rrf_k)
        self.ensure_collection()
        return self._handle.search(query, options, retrieval)

    async def asearch(
        self,
        query: QueryLike,
        *,
        k: int = 4,
        filter: FilterLike | None = None,
        score_threshold: float | None = None,
        search_params: SearchParams | models.SearchParams | None = None,
        hnsw_ef: int | None = None,
        exact: bool = False,
        mode: Mode = "dense",
        fusion: Fusion = "rrf",
        dense_limit: int | None = None,
        sparse_limit: int | None = None,
        rrf_k: int | None = None,
    ) -> ScoredDocuments:
        """Async :meth:`search`."""
        params = with_search_options(search_params, hnsw_ef, exact)
        options = SearchOptions(k, filter, score_threshold, params)
        retrieval = Retrieval(mode, fusion, dense_limit, sparse_limit, rrf_k)
        await self.aensure_collection()
        return await self._handle.asearch(query, options, retrieval)

    def mmr(
        self,
        query: QueryLike,
        *,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike | None = None,
        score_threshold: float | None = None,
        search_params: SearchParams | models.SearchParams | None = None,
        hnsw_ef: int | None = None,
        exact: bool = False,
    ) -> ScoredDocuments:
        """Maximal marginal relevance: *k* of the *fetch_k* nearest, relevant yet diverse.

        ``lambda_mult`` follows LangChain: ``1`` ranks by relevance only (least diversity),
        ``0`` maximises diversity. Scores are Qdrant's scores against the query.

        Args:
            query: a query text or a query vector.
            k: how many documents to return.
            fetch_k: how many nearest documents to choose from.
            lambda_mult: relevance weight in ``[0, 1]``.
            filter: as in :meth:`search`.
            score_threshold: as in :meth:`search`, applied to the *fetch_k* candidates.
            search_params: as in :meth:`search`.
            hnsw_ef: as in :meth:`search`.
            exact: as in :meth:`search`.
        """
        params = with_search_options(search_params, hnsw_ef, exact)
        options = SearchOptions(k, filter, score_threshold, params, fetch_k, lambda_mult)
        self.ensure_collection()
        return self._handle.search(query, options, Retrieval())

    async def ammr(
        self,
        query: QueryLike,
        *,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike | None = None,
        score_threshold: float | None = None,
        search_params: SearchParams | models.SearchParams | None = None,
        hnsw_ef: int | None = None,
        exact: bool = False,
    ) -> ScoredDocuments:
        """Async :meth:`mmr`."""
        params = with_search_options(search_params, hnsw_ef, exact)
        options = SearchOptions(k, filter, score_threshold, params, fetch_k, lambda_mult)
        await self.aensure_collection()
        return await self._handle.asearch(query, options, Retrieval())

    # ----------------------------------------------------------------------- ids and deletion
    def get(self, ids: Sequence[DocumentId]) -> list[Document]:
        """The stored documents with these ids, in the order asked; missing ids are left out."""
        lookup = IdLookup.of(ids)
        if not lookup.own:
            return []
        self.ensure_collection()
        return lookup.match(self._reads().retrieve(self.collection_name, lookup.point_ids))

    async def aget(self, ids: Sequence[DocumentId]) -> list[Document]:
        """Async :meth:`get`."""
        lookup = IdLookup.of(ids)
        if not lookup.own:
            return []
        await self.aensure_collection()
        records = await self._areads().retrieve(self.collection_name, lookup.point_ids)
        return lookup.match(records)

    def delete(self, ids: Sequence[DocumentId] | None = None) -> None:
        """Delete the documents with these ids (missing ones are ignored); ``None`` deletes all."""
        targets = [DELETE_ALL] if ids is None else IdLookup.of(ids).delete_targets()
        self.ensure_collection()
        reads = self._reads()
        for point_ids, where in targets:
            reads.delete(self.collection_name, ids=point_ids, filter=where)

    async def adelete(self, ids: Sequence[DocumentId] | None = None) -> None:
        """Async :meth:`delete`."""
        targets = [DELETE_ALL] if ids is None else IdLookup.of(ids).delete_targets()
        await self.aensure_collection()
        reads = self._areads()
        for point_ids, where in targets:
            await reads.delete(self.collection_name, ids=point_ids, filter=where)

    def storage(self, sample: int = DEFAULT_SAMPLE) -> StorageReport:
        """Bytes per chunk, measured on up to *sample* stored points (see :mod:`.storage`)."""
        self.ensure_collection()
        return StorageReport.read(self._reads(), self.collection_name, self.spec, self.dim, sample)

    async def astorage(self, sample: int = DEFAULT_SAMPLE) -> StorageReport:
        """Async :meth:`storage`."""
        await self.aensure_collection()
        records, _ = await self._areads().scroll(
            self.collection_name,
            limit=sample,
            with_payload=True,
            with_vectors=StorageReport.vector_names(self.spec) or False,
        )
        return StorageReport.measure(self.spec, self.dim, records)

    def copy_to(
        self,
        *,
        collection_name: str | None = None,
        path: str | os.PathLike[str] | None = None,
        url: str | None = None,
        location: str | None = None,
        api_key: str | None = None,
        client: QdrantClient | None = None,
        backend: Backend | None = None,
        client_options: Mapping[str, Any] | None = None,
        show_progress: bool = False,
    ) -> CopyReport:
        """Copy the collection to another store without re-encoding (see :mod:`.storage.copy`).

        Ids, payloads, every named vector (dense, token, sparse) and the model record arrive
        as stored. The copy streams page by page, and running it again is safe (the same ids
        are upserted); a different collection under the destination's name is refused with
        :class:`~t5_vectors.errors.CollectionConfigError` before anything is written.

        Args:
            collection_name: the name at the destination (default: this collection's).
            path: a destination folder (local-mode folders open as they are, others are
                Qdrant Edge), or
            url: a destination server (with ``api_key``), or
            location: ``":memory:"`` or a URL, or
            client: a destination ``QdrantClient`` (not closed), or
            backend: a destination storage backend (not closed).
            api_key: the destination server's API key.
            client_options: other ``QdrantClient`` keyword arguments for the destination.
            show_progress: show a progress bar.

        Returns:
            the points copied, and whether the destination collection was created.
        """
        options = {
            "location": location,
            "url": url,
            "path": os.fspath(path) if path is not None else None,
            "api_key": api_key,
            **(client_options or {}),
        }
        if backend is None and client is None and all(v is None for v in options.values()):
            raise InvalidInputError(
                "copy_to: expected a destination (path=, url=, location=, client= or "
                "backend=), found none."
            )
        self.ensure_collection()
        if self._written:
            self.build_index()
        destination = Connection(client=client, backend=backend, options=options, edge=True)
        try:
            with _copy_bar(show_progress) as progress:
                return copy_collection(
                    self._reads(),
                    self.collection_name,
                    destination.backend,
                    collection_name,
                    progress=progress,
                )
        finally:
            destination.close()

    def count(self, filter: FilterLike | None = None) -> int:
        """Exact number of points (matching *filter*)."""
        where = to_filter(filter)
        self.ensure_collection()
        return self._reads().count(self.collection_name, where)

    async def acount(self, filter: FilterLike | None = None) -> int:
        """Async :meth:`count`."""
        where = to_filter(filter)
        await self.aensure_collection()
        return await self._areads().count(self.collection_name, where)

    def record_model_location(self) -> None:
        """Record where the model now is, when it was recognised as the recorded one elsewhere.

        The same checkpoint copied to another folder (or the hub id of a saved folder) writes
        to the collection as the same model; the record then names the place it was last
        written from, so ``t5-vectors search`` without ``--model`` finds it there. Ingesting
        and adding do it; the file ingest also does when every file is stored unchanged.
        """
        if self.identity.recognised is None:
            return
        schema = self._reads().describe(self.collection_name)
        if schema is not None:
            self.connection.backend.set_metadata(
                self.collection_name, relocated(schema.metadata, self.identity.model)
            )
        self.identity.recognised = None

    async def arecord_model_location(self) -> None:
        """Async :meth:`record_model_location`."""
        if self.identity.recognised is None:
            return
        schema = await self._areads().describe(self.collection_name)
        if schema is not None:
            await self.connection.abackend.set_metadata(
                self.collection_name, relocated(schema.metadata, self.identity.model)
            )
        self.identity.recognised = None

    def _holds_points(self) -> bool:
        """Whether the collection holds any point (else an ingest has nothing to look up).

        Counted once: the ingest asking is about to write, so later calls through this index
        (many small ``add`` calls) look hashes up without a count first. Were the collection
        emptied meanwhile, the lookups find nothing, which is still right.
        """
        if not self._maybe_empty:
            return True
        self._maybe_empty = False
        return self._reads().count(self.collection_name) > 0

    async def _aholds_points(self) -> bool:
        if not self._maybe_empty:
            return True
        self._maybe_empty = False
        return await self._areads().count(self.collection_name) > 0

    # ------------------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Build the index of what was written, then close the storage this index opened.

        Closing releases an embedded store for other processes. Storage left open is closed at
        interpreter exit.
        """
        if self._written and self._ready:
            self.build_index()
        self.connection.close()

    async def aclose(self) -> None:
        """Async :meth:`close`: also closes the async clients this index created."""
        if self._written and self._ready:
            await self.abuild_index()
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


def _check_ingest_options(batch_size: object, on_failure: object) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(f"batch_size: expected a positive int, found {batch_size!r}.")
    if on_failure not in ("raise", "continue"):
        raise InvalidInputError(
            f"on_failure: expected 'raise' or 'continue', found {on_failure!r}."
        )


def _index_bar(show: bool) -> contextlib.AbstractContextManager[Progress | None]:
    """A tqdm bar over an index build (``None`` when not shown)."""
    return _bar(show, "index", "vector")


def _copy_bar(show: bool) -> contextlib.AbstractContextManager[Progress | None]:
    """A tqdm bar over a copy (``None`` when not shown)."""
    return _bar(show, "copy", "point")


@contextlib.contextmanager
def _bar(show: bool, desc: str, unit: str) -> Iterator[Progress | None]:
    """A tqdm bar fed by ``progress(done, total)`` (``None`` when not shown)."""
    if not show:
        yield None
        return
    from tqdm.auto import tqdm

    with tqdm(desc=desc, unit=unit, leave=False) as bar:

        def progress(done: int, total: int | None) -> None:
            if total is not None and bar.total != total:
                bar.total = total
            bar.n = done
            bar.refresh()

        yield progress
