"""What each ``QdrantIndex`` method does, written once for its sync and its async form.

Each operation is a generator (:mod:`t5_vectors._steps`) that decides in plain code and yields
the calls it needs to targets that both drivers provide under the same names:

* ``"store"``: the storage backend (``Backend`` / ``AsyncBackend``);
* ``"reads"``: the same, its idempotent calls retried (:mod:`t5_vectors.storage.retry`);
* ``"embed"``: the point encoder (``documents`` / ``query``; ``adocuments`` / ``aquery``);
* ``"self"``: the index itself (``ensure_collection``; ``aensure_collection``);
* ``"pipeline"``: the ingestion pipeline (``run_ingest`` / ``arun_ingest``).

``QdrantIndex.search`` drives :func:`search` with the sync targets, ``asearch`` the same
generator with the async ones, so the two cannot drift apart.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, Iterable, Iterator, Sequence, Sized
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.documents import Document

from t5_vectors._checks import check_positive_int
from t5_vectors._steps import Call, Steps
from t5_vectors.errors import InvalidInputError
from t5_vectors.index.ingest import IngestReport, IngestRun, OnFailure
from t5_vectors.plan.collection import ensure_steps
from t5_vectors.plan.filters import FilterLike, to_filter
from t5_vectors.plan.footprint import StorageReport
from t5_vectors.plan.ids import DocumentId
from t5_vectors.plan.model_record import relocated
from t5_vectors.plan.payload import aprepare_stream, prepare_list, prepare_stream
from t5_vectors.plan.points import DELETE_ALL, IdLookup
from t5_vectors.plan.retrieval import Retrieval
from t5_vectors.plan.search import ScoredDocuments, SearchOptions, as_query_vector
from t5_vectors.storage.base import Progress

if TYPE_CHECKING:
    from t5_vectors.index.index import QdrantIndex

__all__ = [
    "add",
    "build_index",
    "count",
    "delete",
    "drop",
    "ensure",
    "get",
    "ingest",
    "record_model_location",
    "search",
    "storage",
]


def _store(name: str, *args: Any, **kwargs: Any) -> Call:
    return Call("store", name, args, kwargs)


def _reads(name: str, *args: Any, **kwargs: Any) -> Call:
    return Call("reads", name, args, kwargs)


_ENSURED = Call("self", "ensure_collection")


def ensure(index: QdrantIndex) -> Steps[None]:
    """Create or check the collection (the caller holds the index's lock)."""
    yield from ensure_steps(
        index.collection_name,
        index.spec,
        index.dim,
        index.embedder.name,
        recreate=index._recreate,
        create_if_missing=index._create_if_missing,
        identity=index.identity,
    )
    index._ready, index._recreate = True, False


def drop(index: QdrantIndex) -> Steps[None]:
    """Delete the whole collection; the next call creates it again."""
    yield _store("drop", index.collection_name)
    index._ready = index._written = False
    index._maybe_empty = True


def build_index(index: QdrantIndex, progress: Progress | None) -> Steps[None]:
    """Build the engine's index of what was written."""
    yield _ENSURED
    yield _store("build_index", index.collection_name, progress=progress)
    index._written = False


def holds_points(index: QdrantIndex) -> Steps[bool]:
    """Whether the collection holds any point (else an ingest has nothing to look up).

    Counted once: the ingest asking is about to write, so later calls through this index
    (many small ``add`` calls) look hashes up without a count first. Were the collection
    emptied meanwhile, the lookups find nothing, which is still right.
    """
    if not index._maybe_empty:
        return True
    index._maybe_empty = False
    return bool((yield _reads("count", index.collection_name)) > 0)


def record_model_location(index: QdrantIndex) -> Steps[None]:
    """Name where the model now is in the collection's record, when it was recognised there
    under another name (see ``QdrantIndex.record_model_location``)."""
    if index.identity.recognised is None:
        return
    schema = yield _reads("describe", index.collection_name)
    if schema is not None:
        metadata = relocated(schema.metadata, index.identity.model)
        yield _store("set_metadata", index.collection_name, metadata)
    index.identity.recognised = None


def _ready_to_write(index: QdrantIndex, force: bool) -> Steps[bool]:
    """Collection checked, record current: whether the ingest must look stored hashes up."""
    yield from record_model_location(index)
    lookup = not force and (yield from holds_points(index))
    index._written = True
    return lookup


def ingest(
    index: QdrantIndex,
    documents: Iterable[Document | str] | AsyncIterable[Document | str],
    *,
    batch_size: int,
    show_progress: bool,
    force: bool,
    on_failure: OnFailure,
    build: bool,
) -> Steps[IngestReport]:
    """Stream *documents* into the collection (``QdrantIndex.ingest``)."""
    _check_ingest_options(batch_size, on_failure)

    def source(fingerprint: str) -> Any:
        if isinstance(documents, AsyncIterable):
            return aprepare_stream(documents, fingerprint)
        return prepare_stream(documents, fingerprint)

    fingerprint = index.fingerprint
    prepared = source(fingerprint)  # lists are validated in full before anything is written
    yield _ENSURED
    if index.fingerprint != fingerprint:  # adopted the collection's (nothing consumed yet)
        prepared = source(index.fingerprint)
    lookup = yield from _ready_to_write(index, force)
    run = IngestRun(
        batch_size,
        index.retry,
        on_failure,
        force=force,
        lookup=lookup,
        show_progress=show_progress,
        total=len(documents) if isinstance(documents, Sized) else None,
    )
    report: IngestReport = yield Call("pipeline", "run", (prepared, index._handle, run))
    if report.written and build:
        with _bar(show_progress, "index", "vector") as progress:
            yield Call("self", "build_index", (progress,))
    return report


def add(
    index: QdrantIndex,
    documents: Sequence[Document | str],
    ids: Sequence[DocumentId | None] | None,
    batch_size: int,
) -> Steps[list[str]]:
    """Add or update *documents*, validated first (``QdrantIndex.add``)."""
    _check_ingest_options(batch_size, "raise")
    fingerprint = index.fingerprint
    prepared = prepare_list(documents, ids, fingerprint)
    yield _ENSURED
    if index.fingerprint != fingerprint:  # adopted the collection's: hash with it
        prepared = prepare_list(documents, ids, index.fingerprint)
    lookup = yield from _ready_to_write(index, False)
    run = IngestRun(batch_size, index.retry, lookup=lookup)
    yield Call("pipeline", "run", (prepared, index._handle, run))
    return [str(doc.document_id) for doc in prepared]


def search(
    index: QdrantIndex, query: object, options: SearchOptions, retrieval: Retrieval
) -> Steps[ScoredDocuments]:
    """The best documents for *query* under *retrieval* (``QdrantIndex.search`` / ``mmr``)."""
    yield _ENSURED
    names = index._vector_names
    name = index.collection_name
    if retrieval.mode == "dense":
        if isinstance(query, str):
            vector = yield Call("embedder", "query", (query,))
        else:
            vector = as_query_vector(query, index.dim)  # type: ignore[arg-type]
        hits = yield _reads("query", name, options.plan(names[0], vector))
        return options.results(vector, hits, names[0])
    if not isinstance(query, str):
        raise InvalidInputError(
            f"query: mode {retrieval.mode!r} expected a query text, found "
            f"{type(query).__name__}. Pass the text, or search a vector with mode='dense'."
        )
    needs = {
        "dense": retrieval.needs_dense,
        "tokens": retrieval.needs_tokens,
        "sparse": retrieval.needs_sparse,
    }
    vectors = yield Call("embed", "query", (query,), needs)
    # A sparse-only query without a single known piece matches nothing.
    if retrieval.mode == "sparse" and vectors.sparse is not None and not vectors.sparse:
        return []
    hits = yield _reads("query", name, retrieval.plan(vectors, options, names))
    return options.results(np.zeros(0, dtype=np.float32), hits, None)


def get(index: QdrantIndex, ids: Sequence[DocumentId]) -> Steps[list[Document]]:
    """The stored documents with these ids, in the order asked."""
    lookup = IdLookup.of(ids)
    if not lookup.own:
        return []
    yield _ENSURED
    return lookup.match((yield _reads("retrieve", index.collection_name, lookup.point_ids)))


def delete(
    index: QdrantIndex, ids: Sequence[DocumentId] | None, filter: FilterLike | None
) -> Steps[None]:
    """Delete the documents with these ids, those matching *filter*, or (neither) all."""
    if filter is not None:
        where = to_filter(filter)
        if ids is not None:
            raise InvalidInputError(
                "delete: expected ids or a filter, found both. Delete by one, then the other."
            )
        yield _ENSURED
        yield _reads("delete", index.collection_name, filter=where or {"must": []})
        return
    targets = [DELETE_ALL] if ids is None else IdLookup.of(ids).delete_targets()
    yield _ENSURED
    for point_ids, where in targets:
        yield _reads("delete", index.collection_name, ids=point_ids, filter=where)


def count(index: QdrantIndex, filter: FilterLike | None) -> Steps[int]:
    """Exact number of points (matching *filter*)."""
    where = to_filter(filter)
    yield _ENSURED
    return int((yield _reads("count", index.collection_name, where)))


def storage(index: QdrantIndex, sample: int) -> Steps[StorageReport]:
    """Bytes per chunk, measured on up to *sample* stored points."""
    yield _ENSURED
    names = StorageReport.vector_names(index.spec)
    records, _ = yield _reads(
        "scroll",
        index.collection_name,
        limit=sample,
        with_payload=True,
        with_vectors=names or False,
    )
    return StorageReport.measure(index.spec, index.dim, records)


def close(index: QdrantIndex) -> Steps[None]:
    """Build the index of what was written, then close the storage the index opened."""
    if index._written and index._ready:
        yield Call("self", "build_index")


def _check_ingest_options(batch_size: object, on_failure: object) -> None:
    check_positive_int("batch_size", batch_size)
    if on_failure not in ("raise", "continue"):
        raise InvalidInputError(
            f"on_failure: expected 'raise' or 'continue', found {on_failure!r}."
        )


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


copy_bar = _bar
