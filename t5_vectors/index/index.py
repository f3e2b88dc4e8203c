"""`QdrantIndex`: a Qdrant collection fed and searched through one embedding model.

Each method is written once, in plain sync code that calls the collection
(:class:`~t5_vectors.index.collection.Collection`), the point encoder and the ingest pipeline;
its async twin (``asearch`` for ``search``, ...) is generated from it by
``scripts/generate_async.py`` at the end of the class, and awaits the same calls' twins.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import warnings
from collections.abc import AsyncIterable, Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, Unpack

import numpy as np
from langchain_core.documents import Document

from t5_vectors.errors import FilterWarning, IngestReport, InvalidInputError
from t5_vectors.index._encoding import PointEncoder
from t5_vectors.index.collection import Collection, StoredSource
from t5_vectors.index.embedder import EmbeddingLike, embedder_of
from t5_vectors.index.identity import ModelIdentity
from t5_vectors.index.ingest import arun_ingest, run_ingest
from t5_vectors.index.options import MmrKwargs, SearchKwargs, mmr_options, search_options
from t5_vectors.plan.collection import (
    SOURCE_KEY,
    CollectionSpec,
    missing_collection,
    missing_indexes,
    new_schema,
)
from t5_vectors.plan.filters import (
    FilterLike,
    Kind,
    filter_conditions,
    hints,
    holding,
    metadata_kinds,
    to_filter,
)
from t5_vectors.plan.footprint import DEFAULT_SAMPLE, StorageReport
from t5_vectors.plan.ids import DocumentId
from t5_vectors.plan.model_record import updated
from t5_vectors.plan.payload import METADATA_KEY, aprepare_stream, prepare_list, prepare_stream
from t5_vectors.plan.points import DELETE_ALL, DeleteTarget, IdLookup
from t5_vectors.plan.retrieval import Retrieval
from t5_vectors.plan.run import DEFAULT_BATCH_SIZE, IngestRun, OnFailure
from t5_vectors.plan.search import ScoredDocuments, SearchOptions
from t5_vectors.plan.vectors import layout_fingerprint
from t5_vectors.storage.base import AsyncBackend, Backend, Filter, Progress
from t5_vectors.storage.copy import CopyReport, copy_collection
from t5_vectors.storage.open import Storage, StorageLike, open_storage
from t5_vectors.storage.retry import RetryPolicy

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient, QdrantClient


DEFAULT_COLLECTION = "t5_vectors"

KEY_SAMPLE = 256
"""Stored documents whose metadata keys are read to check a filter against (see
:meth:`QdrantIndex.filter_hints`)."""

QueryLike = str | Sequence[float] | np.ndarray
"""A query text (embedded as a query) or a query vector of the model's size."""


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

            from t5_vectors import CollectionSpec, QdrantIndex, T5Encoder

            encoder = T5Encoder.from_pretrained("sentence-transformers/sentence-t5-base")
            index = QdrantIndex(encoder, collection_name="docs", storage="./qdrant_data")
            # storage= a folder (embedded), "http://localhost:6333", ":memory:",
            # QdrantClient(...), AsyncQdrantClient(...), or open_storage(url, api_key=...)
            hybrid = QdrantIndex(
                encoder, collection_name="hybrid", spec=CollectionSpec(sparse_vectors=True)
            )

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
        storage: where it lives: an open :class:`~t5_vectors.storage.open.Storage` (not closed
            by :meth:`close`; share one between indexes), or any location
            :func:`~t5_vectors.storage.open.open_storage` opens (then closed by
            :meth:`close`): a folder for embedded storage (Qdrant Edge; a folder
            qdrant-client's local mode wrote, as langchain-qdrant's ``path=`` does, opens as
            it is), a server URL, ``":memory:"``, a ``QdrantClient`` or ``AsyncQdrantClient``
            (never closed here; an async client given alone checks the collection on first
            use). ``None`` is embedded storage in ``./t5_vectors_data``; nothing is created
            on disk until something is written. A server with an API key:
            ``storage=open_storage(url, api_key=...)``.
        spec: how a new collection is laid out and what an existing one must match
            (:class:`~t5_vectors.plan.collection.CollectionSpec`: distance, vector name,
            quantization, payload indexes, token and sparse vectors, shards). Its
            ``token_vectors`` and ``sparse_vectors`` take ``True``: store each chunk's token
            vectors as a MaxSim multivector for ``mode="maxsim"`` / ``"rerank"``, or BM25
            weights of its tokenizer pieces for ``mode="sparse"`` / ``"hybrid"`` (both need a
            T5 model).
        recreate: drop the collection if it exists, then create it (deletes its points).
        create_if_missing: create the collection when it does not exist; with ``False`` a
            missing collection raises ``CollectionConfigError``.
        retry: how transient storage failures are retried.
        close_storage: whether :meth:`close` closes the storage (default: only a storage
            this index opened itself, not an open ``Storage`` given to it).
    """

    def __init__(
        self,
        embedding: EmbeddingLike,
        *,
        collection_name: str = DEFAULT_COLLECTION,
        storage: StorageLike | None = None,
        spec: CollectionSpec | None = None,
        recreate: bool = False,
        create_if_missing: bool = True,
        retry: RetryPolicy | None = None,
        close_storage: bool | None = None,
    ) -> None:
        if not isinstance(collection_name, str) or not collection_name:
            raise InvalidInputError(
                f"collection_name: expected a non-empty str, found {collection_name!r}."
            )
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InvalidInputError(f"retry: expected a RetryPolicy, found {retry!r}.")
        if spec is not None and not isinstance(spec, CollectionSpec):
            raise InvalidInputError(
                f"spec: expected a CollectionSpec, found {type(spec).__name__}. Pass "
                "spec=CollectionSpec(distance=..., token_vectors=True, ...)."
            )
        self.embedder = embedder_of(embedding)
        encoder = self.embedder.encoder
        self.spec = (spec or CollectionSpec()).sized(encoder.d_model if encoder else None)
        self.points = PointEncoder(
            self.embedder, self.spec.vector_name, self.spec.tokens, self.spec.sparse
        )
        self.collection_name = collection_name
        self.retry = retry if retry is not None else RetryPolicy()
        self.identity = ModelIdentity(self.embedder)
        self._owns_storage = (
            close_storage if close_storage is not None else not isinstance(storage, Storage)
        )
        self.connection: Storage = open_storage(storage)
        self.collection = Collection(self.connection, collection_name, self.retry)
        self._written = False
        self._maybe_empty = True  # until a count finds points or this index writes
        self._recreate = recreate
        self._create_if_missing = create_if_missing
        self._ready = False
        self._source_indexed = False
        self._keys: dict[str, set[Kind]] | None = None  # sampled metadata keys, until a write
        self._held: dict[str, bool] = {}  # keys the sample lacked: stored at all? until a write
        self._lock = threading.Lock()
        self._alock = asyncio.Lock()
        if self.connection.has_sync:
            self.ensure_collection()

    def __repr__(self) -> str:
        return (
            f"QdrantIndex(collection_name={self.collection_name!r}, "
            f"embedding={self.embedder.name}, distance={self.spec.distance!r})"
        )

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
        return layout_fingerprint(self.identity.fingerprint, self.spec.tokens, self.spec.sparse)

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
        """The sync ``QdrantClient``: an escape hatch for qdrant-client storages only.

        Servers, ``:memory:`` and local-mode folders have one; a Qdrant Edge store raises
        :class:`~t5_vectors.errors.InvalidInputError`. t5-vectors itself never uses it.
        """
        return self.connection.client

    @property
    def async_client(self) -> AsyncQdrantClient | None:
        """The ``AsyncQdrantClient`` of a server (``None``: async calls run in a thread).

        An escape hatch for qdrant-client storages only, as :attr:`client`.
        """
        return self.connection.async_client

    # ----------------------------------------------------------------------------- collection
    def ensure_collection(self) -> None:
        """Create or check the collection (done once: on construction, or on first use)."""
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self._ensure()

    def _ensure(self) -> None:
        schema = self.collection.describe()
        if schema is not None and self._recreate:
            self.collection.drop()
            schema = None
        self._source_indexed = schema is None or SOURCE_KEY in schema.payload_indexes
        if schema is None:
            if not self._create_if_missing:
                existing = self.connection.backend.list_collections()
                raise missing_collection(self.collection_name, self.connection.location, existing)
            record = self.identity.record(self.spec.metric)
            self.collection.create(new_schema(self.spec, self.dim, record))
        else:
            self.spec.check(schema, self.collection_name, self.dim, self.embedder.name)
            self.identity.check(schema, self.collection_name)
            for key, kind in missing_indexes(self.spec, schema).items():
                self.collection.create_payload_index(key, kind)
        self._ready, self._recreate = True, False

    def drop(self) -> None:
        """Delete the whole collection; the next call creates it again."""
        self.collection.drop()
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
        self.collection.build_index(progress)
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
        written again. ``aingest`` also takes async iterables (``loader.alazy_load()``).

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
        total = len(documents) if isinstance(documents, Sized) else None
        run = IngestRun(batch_size, on_failure, force, True, show_progress, total)
        fingerprint = self.fingerprint
        prepared = prepare_stream(documents, fingerprint)  # a list is validated in full here
        self.ensure_collection()
        if self.fingerprint != fingerprint:  # adopted the collection's (nothing consumed yet)
            prepared = prepare_stream(documents, self.fingerprint)
        run = replace(run, lookup=self._ready_to_write(force))
        report = run_ingest(prepared, self.collection, self.points, run)
        if report.written and build_index:
            with progress_bar(show_progress, "index", "vector") as progress:
                self.build_index(progress)
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
        run = IngestRun(batch_size)
        fingerprint = self.fingerprint
        prepared = prepare_list(documents, ids, fingerprint)
        self.ensure_collection()
        if self.fingerprint != fingerprint:  # adopted the collection's: hash with it
            prepared = prepare_list(documents, ids, self.fingerprint)
        run = replace(run, lookup=self._ready_to_write(False))
        run_ingest(prepared, self.collection, self.points, run)
        return [str(doc.document_id) for doc in prepared]

    def record_model_location(self, chunking: Mapping[str, int] | None = None) -> None:
        """Bring the collection's model record up to date before a write.

        The same checkpoint copied to another folder (or the hub id of a saved folder) writes
        to the collection as the same model; the record then names the place it was last
        written from, so ``t5-vectors search`` without ``--model`` finds it there. A model
        accepted by its probe vectors with another fingerprint (a re-saved copy) is recorded
        with its fingerprint too: what it writes is hashed with it. Ingesting
        and adding do it; the file ingest also does when every file is stored unchanged, and
        records the chunk size and overlap it uses (*chunking*, shown by ``t5-vectors info``).
        """
        changes: dict[str, Any] = {"chunking": dict(chunking)} if chunking else {}
        if self.identity.recognised is not None:
            changes["model"] = self.identity.model
        if self.identity.reencodes:  # writes hash with this fingerprint from now on
            changes.update(model=self.identity.model, fingerprint=self.identity.fingerprint)
        if not changes:
            return
        schema = self.collection.describe()
        metadata = updated(schema.metadata, **changes) if schema is not None else None
        if metadata is not None:
            self.collection.set_metadata(metadata)
        self.identity.recognised = None
        self.identity.reencodes = False

    def _ready_to_write(self, force: bool) -> bool:
        """The record made current and the source key indexed (a collection made before it
        had that index gets it on its first write: file sync scans by source): whether the
        ingest must look stored hashes up."""
        self.record_model_location()
        self._keys, self._held = None, {}  # what this write stores may add keys
        if not self._source_indexed:
            self.collection.create_payload_index(SOURCE_KEY, "keyword")
            self._source_indexed = True
        lookup = not force and self._holds_points()
        self._written = True
        return lookup

    def _holds_points(self) -> bool:
        """Whether the collection holds any point (else an ingest has nothing to look up).

        Counted once: the ingest asking is about to write, so later calls through this index
        (many small ``add`` calls) look hashes up without a count first. Were the collection
        emptied meanwhile, the lookups find nothing, which is still right.
        """
        if not self._maybe_empty:
            return True
        self._maybe_empty = False
        return self.collection.count() > 0

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
        return _warned(self._search(query, *search_options(options)))

    def search_with_hints(
        self, query: QueryLike, **options: Unpack[SearchKwargs]
    ) -> tuple[ScoredDocuments, list[str]]:
        """:meth:`search`, with its filter hints returned beside the results instead of warned
        (:meth:`filter_hints`; a server passes them on to its client)."""
        return self._search(query, *search_options(options))

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
        return _warned(self._search(query, *mmr_options(options)))

    def _search(
        self, query: QueryLike, options: SearchOptions, retrieval: Retrieval
    ) -> tuple[ScoredDocuments, list[str]]:
        self.ensure_collection()
        hints = self._hints(options.where)
        return self._found(query, options, retrieval), hints

    def _found(
        self, query: QueryLike, options: SearchOptions, retrieval: Retrieval
    ) -> ScoredDocuments:
        names = self.points.names
        if retrieval.mode == "dense":
            vector = self.points.dense_query(query, self.dim)
            hits = self.collection.query(options.plan(names[0], vector))
            return options.results(vector, hits, names[0])
        if not isinstance(query, str):
            raise _text_needed(retrieval.mode, query)
        vectors = self.points.query(
            query,
            dense=retrieval.needs_dense,
            tokens=retrieval.needs_tokens,
            sparse=retrieval.needs_sparse,
        )
        # A sparse-only query without a single known piece matches nothing.
        if retrieval.mode == "sparse" and vectors.sparse is not None and not vectors.sparse:
            return []
        hits = self.collection.query(retrieval.plan(vectors, options, names))
        return options.results(np.zeros(0, dtype=np.float32), hits, None)

    def filter_hints(self, filter: FilterLike | None) -> list[str]:
        """What a search with *filter* would not say: the metadata keys it names that no stored
        document holds, and the values of a kind their key never holds (either condition
        matches nothing). ``search`` and ``mmr`` warn with these (:class:`FilterWarning`).

        The stored keys are read from a sample of the collection (kept until this index
        writes), and a key the sample lacks is looked for in the whole collection.
        """
        self.ensure_collection()
        return self._hints(to_filter(filter, base=os.getcwd()))

    def _hints(self, where: Filter | None) -> list[str]:
        conditions = filter_conditions(where) if where is not None else []
        if not conditions:
            return []
        if self._keys is None:
            sample = self.collection.head(KEY_SAMPLE, with_payload=(METADATA_KEY,))
            self._keys = metadata_kinds(sample)
        for key, _, _ in conditions:
            if key not in self._keys and key not in self._held:
                self._held[key] = self.collection.count(holding(key)) > 0
        absent = {key for key, held in self._held.items() if not held}
        return hints(conditions, self._keys, absent)

    def sources(self) -> list[StoredSource]:
        """What the collection holds, by source: each file (``metadata["source"]``) with its
        chunk count and when file ingestion stored it (one pass over the points)."""
        self.ensure_collection()
        return self.collection.sources()

    # ----------------------------------------------------------------------- ids and deletion
    def get(self, ids: Sequence[DocumentId]) -> list[Document]:
        """The stored documents with these ids, in the order asked; missing ids are left out."""
        lookup = IdLookup.of(ids)
        if not lookup.own:
            return []
        self.ensure_collection()
        return lookup.match(self.collection.retrieve(lookup.point_ids))

    def delete(
        self, ids: Sequence[DocumentId] | None = None, *, filter: FilterLike | None = None
    ) -> None:
        """Delete the documents with these ids (missing ones are ignored), or those matching
        *filter* (as in :meth:`search`); with neither, every document."""
        if filter is not None and ids is not None:
            raise InvalidInputError(
                "delete: expected ids or a filter, found both. Delete by one, then the other."
            )
        targets: list[DeleteTarget]
        if filter is not None:
            targets = [(None, to_filter(filter, base=os.getcwd()) or {"must": []})]
        else:
            targets = [DELETE_ALL] if ids is None else IdLookup.of(ids).delete_targets()
        self.ensure_collection()
        for point_ids, where in targets:
            self.collection.delete(point_ids, where)

    def count(self, filter: FilterLike | None = None) -> int:
        """Exact number of points (matching *filter*)."""
        where = to_filter(filter, base=os.getcwd())
        self.ensure_collection()
        return self.collection.count(where)

    def storage(self, sample: int = DEFAULT_SAMPLE) -> StorageReport:
        """Bytes per chunk, measured on up to *sample* stored points (see
        :mod:`t5_vectors.plan.footprint`)."""
        self.ensure_collection()
        return self.collection.footprint(self.spec, self.dim, sample)

    def copy_to(
        self,
        storage: StorageLike,
        *,
        collection_name: str | None = None,
        show_progress: bool = False,
    ) -> CopyReport:
        """Copy the collection to other storage without re-encoding (see :mod:`.storage.copy`).

        Ids, payloads, every named vector (dense, token, sparse) and the model record arrive
        as stored. The copy streams page by page, and running it again is safe (the same ids
        are upserted); a different collection under the destination's name is refused with
        :class:`~t5_vectors.errors.CollectionConfigError` before anything is written.

        Args:
            storage: the destination: an open :class:`~t5_vectors.storage.open.Storage`, or
                anything :func:`~t5_vectors.storage.open.open_storage` opens (a folder, a URL,
                ``":memory:"``, a ``QdrantClient``); what this call opens, it closes.
            collection_name: the name at the destination (default: this collection's).
            show_progress: show a progress bar.

        Returns:
            the points copied, and whether the destination collection was created.
        """
        self.ensure_collection()
        if self._written:
            self.build_index()
        destination = open_storage(storage)
        try:
            with progress_bar(show_progress, "copy", "point") as progress:
                return copy_collection(
                    self.collection.backend,
                    self.collection_name,
                    destination.backend,
                    collection_name,
                    progress=progress,
                )
        finally:
            if destination is not storage:
                destination.close()

    # ------------------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Build the index of what was written, then close the storage this index opened.

        Closing releases an embedded store for other processes (a :class:`Storage` given to
        the index stays open: it is its owner's to close). Storage left open is closed at
        interpreter exit. The storage is closed even when the build fails (a full disk raises
        :class:`~t5_vectors.errors.StorageFullError`; the index is built on a later close).
        """
        try:
            if self._written and self._ready:
                self.build_index()
        finally:
            if self._owns_storage:
                self.connection.close()

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

    # --- async twins: generated by scripts/generate_async.py from the code above; do not edit ---
    async def aensure_collection(self) -> None:
        """Async :meth:`ensure_collection`."""
        if not self._ready:
            async with self._alock:
                if not self._ready:
                    await self._aensure()

    async def _aensure(self) -> None:
        """Async :meth:`_ensure`."""
        schema = await self.collection.adescribe()
        if schema is not None and self._recreate:
            await self.collection.adrop()
            schema = None
        self._source_indexed = schema is None or SOURCE_KEY in schema.payload_indexes
        if schema is None:
            if not self._create_if_missing:
                existing = await self.connection.abackend.list_collections()
                raise missing_collection(self.collection_name, self.connection.location, existing)
            record = await self.identity.arecord(self.spec.metric)
            await self.collection.acreate(new_schema(self.spec, self.dim, record))
        else:
            self.spec.check(schema, self.collection_name, self.dim, self.embedder.name)
            await self.identity.acheck(schema, self.collection_name)
            for key, kind in missing_indexes(self.spec, schema).items():
                await self.collection.acreate_payload_index(key, kind)
        self._ready, self._recreate = (True, False)

    async def adrop(self) -> None:
        """Async :meth:`drop`."""
        await self.collection.adrop()
        self._ready = self._written = False
        self._maybe_empty = True

    async def abuild_index(self, progress: Progress | None = None) -> None:
        """Async :meth:`build_index`."""
        await self.aensure_collection()
        await self.collection.abuild_index(progress)
        self._written = False

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
        """Async :meth:`ingest`."""
        total = len(documents) if isinstance(documents, Sized) else None
        run = IngestRun(batch_size, on_failure, force, True, show_progress, total)
        fingerprint = self.fingerprint
        prepared = aprepare_stream(documents, fingerprint)
        await self.aensure_collection()
        if self.fingerprint != fingerprint:
            prepared = aprepare_stream(documents, self.fingerprint)
        run = replace(run, lookup=await self._aready_to_write(force))
        report = await arun_ingest(prepared, self.collection, self.points, run)
        if report.written and build_index:
            with progress_bar(show_progress, "index", "vector") as progress:
                await self.abuild_index(progress)
        return report

    async def aadd(
        self,
        documents: Sequence[Document | str],
        *,
        ids: Sequence[DocumentId | None] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> list[str]:
        """Async :meth:`add`."""
        run = IngestRun(batch_size)
        fingerprint = self.fingerprint
        prepared = prepare_list(documents, ids, fingerprint)
        await self.aensure_collection()
        if self.fingerprint != fingerprint:
            prepared = prepare_list(documents, ids, self.fingerprint)
        run = replace(run, lookup=await self._aready_to_write(False))
        await arun_ingest(prepared, self.collection, self.points, run)
        return [str(doc.document_id) for doc in prepared]

    async def arecord_model_location(self, chunking: Mapping[str, int] | None = None) -> None:
        """Async :meth:`record_model_location`."""
        changes: dict[str, Any] = {"chunking": dict(chunking)} if chunking else {}
        if self.identity.recognised is not None:
            changes["model"] = self.identity.model
        if self.identity.reencodes:
            changes.update(model=self.identity.model, fingerprint=self.identity.fingerprint)
        if not changes:
            return
        schema = await self.collection.adescribe()
        metadata = updated(schema.metadata, **changes) if schema is not None else None
        if metadata is not None:
            await self.collection.aset_metadata(metadata)
        self.identity.recognised = None
        self.identity.reencodes = False

    async def _aready_to_write(self, force: bool) -> bool:
        """Async :meth:`_ready_to_write`."""
        await self.arecord_model_location()
        self._keys, self._held = (None, {})
        if not self._source_indexed:
            await self.collection.acreate_payload_index(SOURCE_KEY, "keyword")
            self._source_indexed = True
        lookup = not force and await self._aholds_points()
        self._written = True
        return lookup

    async def _aholds_points(self) -> bool:
        """Async :meth:`_holds_points`."""
        if not self._maybe_empty:
            return True
        self._maybe_empty = False
        return await self.collection.acount() > 0

    async def asearch(self, query: QueryLike, **options: Unpack[SearchKwargs]) -> ScoredDocuments:
        """Async :meth:`search`."""
        return _warned(await self._asearch(query, *search_options(options)))

    async def asearch_with_hints(
        self, query: QueryLike, **options: Unpack[SearchKwargs]
    ) -> tuple[ScoredDocuments, list[str]]:
        """Async :meth:`search_with_hints`."""
        return await self._asearch(query, *search_options(options))

    async def ammr(self, query: QueryLike, **options: Unpack[MmrKwargs]) -> ScoredDocuments:
        """Async :meth:`mmr`."""
        return _warned(await self._asearch(query, *mmr_options(options)))

    async def _asearch(
        self, query: QueryLike, options: SearchOptions, retrieval: Retrieval
    ) -> tuple[ScoredDocuments, list[str]]:
        """Async :meth:`_search`."""
        await self.aensure_collection()
        hints = await self._ahints(options.where)
        return (await self._afound(query, options, retrieval), hints)

    async def _afound(
        self, query: QueryLike, options: SearchOptions, retrieval: Retrieval
    ) -> ScoredDocuments:
        """Async :meth:`_found`."""
        names = self.points.names
        if retrieval.mode == "dense":
            vector = await self.points.adense_query(query, self.dim)
            hits = await self.collection.aquery(options.plan(names[0], vector))
            return options.results(vector, hits, names[0])
        if not isinstance(query, str):
            raise _text_needed(retrieval.mode, query)
        vectors = await self.points.aquery(
            query,
            dense=retrieval.needs_dense,
            tokens=retrieval.needs_tokens,
            sparse=retrieval.needs_sparse,
        )
        if retrieval.mode == "sparse" and vectors.sparse is not None and (not vectors.sparse):
            return []
        hits = await self.collection.aquery(retrieval.plan(vectors, options, names))
        return options.results(np.zeros(0, dtype=np.float32), hits, None)

    async def afilter_hints(self, filter: FilterLike | None) -> list[str]:
        """Async :meth:`filter_hints`."""
        await self.aensure_collection()
        return await self._ahints(to_filter(filter, base=os.getcwd()))

    async def _ahints(self, where: Filter | None) -> list[str]:
        """Async :meth:`_hints`."""
        conditions = filter_conditions(where) if where is not None else []
        if not conditions:
            return []
        if self._keys is None:
            sample = await self.collection.ahead(KEY_SAMPLE, with_payload=(METADATA_KEY,))
            self._keys = metadata_kinds(sample)
        for key, _, _ in conditions:
            if key not in self._keys and key not in self._held:
                self._held[key] = await self.collection.acount(holding(key)) > 0
        absent = {key for key, held in self._held.items() if not held}
        return hints(conditions, self._keys, absent)

    async def asources(self) -> list[StoredSource]:
        """Async :meth:`sources`."""
        await self.aensure_collection()
        return await self.collection.asources()

    async def aget(self, ids: Sequence[DocumentId]) -> list[Document]:
        """Async :meth:`get`."""
        lookup = IdLookup.of(ids)
        if not lookup.own:
            return []
        await self.aensure_collection()
        return lookup.match(await self.collection.aretrieve(lookup.point_ids))

    async def adelete(
        self, ids: Sequence[DocumentId] | None = None, *, filter: FilterLike | None = None
    ) -> None:
        """Async :meth:`delete`."""
        if filter is not None and ids is not None:
            raise InvalidInputError(
                "delete: expected ids or a filter, found both. Delete by one, then the other."
            )
        targets: list[DeleteTarget]
        if filter is not None:
            targets = [(None, to_filter(filter, base=os.getcwd()) or {"must": []})]
        else:
            targets = [DELETE_ALL] if ids is None else IdLookup.of(ids).delete_targets()
        await self.aensure_collection()
        for point_ids, where in targets:
            await self.collection.adelete(point_ids, where)

    async def acount(self, filter: FilterLike | None = None) -> int:
        """Async :meth:`count`."""
        where = to_filter(filter, base=os.getcwd())
        await self.aensure_collection()
        return await self.collection.acount(where)

    async def astorage(self, sample: int = DEFAULT_SAMPLE) -> StorageReport:
        """Async :meth:`storage`."""
        await self.aensure_collection()
        return await self.collection.afootprint(self.spec, self.dim, sample)

    async def aclose(self) -> None:
        """Async :meth:`close`."""
        try:
            if self._written and self._ready:
                await self.abuild_index()
        finally:
            if self._owns_storage:
                await self.connection.aclose()

    # --- end of async twins ---


def _text_needed(mode: str, query: object) -> InvalidInputError:
    return InvalidInputError(
        f"query: mode {mode!r} expected a query text, found {type(query).__name__}. Pass the "
        "text, or search a vector with mode='dense'."
    )


@contextlib.contextmanager
def progress_bar(show: bool, desc: str, unit: str) -> Iterator[Progress | None]:
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


def _warned(found: tuple[ScoredDocuments, list[str]]) -> ScoredDocuments:
    """The results of a search, its filter hints warned as :class:`FilterWarning` (attributed
    to the caller of ``search``)."""
    hits, hints = found
    for hint in hints:
        warnings.warn(hint, FilterWarning, stacklevel=3)
    return hits
