"""``ingest``: a Ray dataset into a ``QdrantIndex``, end to end.

Stages, each a Ray Data operator (Ray schedules, streams, retries and restarts them):

1. **look up** (``map_batches`` over a small actor pool, one backend connection per actor):
   each row becomes its document (id, payload, content hash, as ``QdrantIndex.ingest``);
   duplicates of an id inside a batch collapse to the last one; the stored hashes of the batch
   are read in one ``retrieve`` and rows stored unchanged are dropped, so an unchanged corpus
   is neither encoded nor written on a re-run. Into an empty collection (and with ``force``
   for the driver) there is nothing to look up: the rows go straight to the encoders;
2. **encode** (``map_batches(T5EmbedBatches)`` over ``concurrency`` actors, ``num_gpus`` each):
   the index's checkpoint, options and vector layout, checked against its fingerprint;
3. **write**: a server or cluster is written by the workers (``write_datasink`` with
   :class:`~t5_vectors.ray.QdrantDatasink`). Embedded storage (Qdrant Edge or a local-mode
   folder, ``:memory:``) serves one process, so there the driver looks up (streaming the
   dataset through :meth:`Dataset.iter_batches`), then streams the encoded rows back and
   writes them batch by batch: driver memory holds a few batches, not the corpus.

Every write is an upsert under a deterministic id, so a task Ray retries after a crash, or a
whole run repeated after the driver died, converges on the same collection.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import ray
from ray.data import ActorPoolStrategy

from t5_vectors._checks import check_positive_int
from t5_vectors.errors import IngestReport, InvalidInputError, T5VectorsError
from t5_vectors.index.collection import Collection
from t5_vectors.plan.payload import PreparedDocument
from t5_vectors.plan.run import DEFAULT_BATCH_SIZE
from t5_vectors.ray._batches import Batch, num_rows
from t5_vectors.ray._embed import _IndexEmbedBatches
from t5_vectors.ray._rows import Columns, Layout, prepare_rows, to_points
from t5_vectors.ray._sink import QdrantDatasink, dedupe_last
from t5_vectors.ray._target import Target, layout_of, shared
from t5_vectors.storage.open import StorageLike

if TYPE_CHECKING:
    from ray.data import Dataset

    from t5_vectors.index.index import QdrantIndex

_VECTOR = "__t5v_vector"
_TOKENS = "__t5v_tokens"
_SPARSE = "__t5v_sparse"


def ingest(
    dataset: Dataset,
    index: QdrantIndex,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    metadata_columns: Sequence[str] | None = None,
    concurrency: int | tuple[int, int] | None = None,
    num_gpus: float | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    force: bool = False,
    worker_storage: StorageLike | None = None,
    build_index: bool = True,
) -> IngestReport:
    """Embed *dataset* on Ray actors and store it in *index*'s collection.

    Rows become documents exactly as :meth:`QdrantIndex.ingest` makes them: the text column is
    ``page_content``, ``id_column`` the id (``None``: derived from the ``source`` metadata and
    the text), ``metadata_columns`` the metadata (``None``: every other column). Re-running on
    the same rows encodes and writes nothing.

    Example:
        .. code-block:: python

            import ray
            from t5_vectors import QdrantIndex, T5Encoder
            from t5_vectors.ray import ingest

            ray.init()  # or ray.init("ray://head:10001")
            encoder = T5Encoder.from_pretrained("sentence-transformers/sentence-t5-base")
            index = QdrantIndex(encoder, collection_name="docs", storage="http://qdrant:6333")
            ds = ray.data.read_parquet("s3://bucket/chunks/")  # id, text, source, ...
            report = ingest(ds, index, id_column="id", concurrency=8, num_gpus=1)
            print(report.written, report.skipped)

    Args:
        dataset: the rows to store.
        index: a ``QdrantIndex`` over a ``T5Encoder`` loaded from a hub id or a folder every
            node can read (each actor loads it again and checks its fingerprint).
        text_column: the column with the texts.
        id_column: the column with document ids, or ``None``.
        metadata_columns: the columns stored as metadata, or ``None`` for all others.
        concurrency: encoder actors (an int, or ``(min, max)`` for an autoscaling pool);
            ``None`` lets Ray size the pool.
        num_gpus: GPUs per encoder actor (``None``: CPU actors).
        batch_size: rows per batch in every stage (looked up, encoded, written together).
        force: re-encode and rewrite rows stored unchanged.
        worker_storage: where the workers look up and write: anything
            :func:`~t5_vectors.storage.open.open_storage` opens in a worker (a server URL, a
            :class:`~t5_vectors.storage.open.ServerLocation` with its API key; picklable).
            Given, the workers write there whatever storage the index itself uses; default:
            the index's server, or the driver for embedded storage.
        build_index: build the engine's search index over what was written, at the end, as
            :meth:`QdrantIndex.ingest` does (``False``: the caller builds it once later).

    Returns:
        written (encoded and upserted) and skipped (stored unchanged) rows; ``batches`` counts
        the lookup batches (without a lookup, batches of ``batch_size`` rows).

    Raises:
        InvalidInputError: bad options, a missing column, a bad row (named in the message).
        ModelMismatchError: an actor loaded another checkpoint than the index's encoder.
        CollectionConfigError: the collection does not match the index (checked first).
    """
    started = time.perf_counter()
    size = _check_options(batch_size, concurrency, num_gpus)
    columns = Columns(
        text=text_column,
        id=id_column,
        metadata=metadata_columns,
        vector=_VECTOR,
        tokens=_TOKENS,
        sparse=_SPARSE,
    )
    embed_options = _embed_options(index, text_column, num_gpus)
    index.ensure_collection()  # on the driver, before any worker reads or writes
    try:
        if worker_storage is not None or shared(index):
            report = _ingest_on_workers(
                dataset,
                index,
                columns,
                embed_options,
                (size, concurrency, num_gpus),
                force,
                worker_storage,
                started,
            )
        else:
            report = _ingest_from_driver(
                dataset, index, columns, embed_options, size, concurrency, num_gpus, force, started
            )
    except Exception as error:
        cause = user_error(error)
        if cause is None or cause is error:
            raise
        raise cause from error
    if report.written and build_index:
        index.build_index()
    return report


def user_error(error: BaseException) -> T5VectorsError | None:
    """The t5-vectors error a Ray failure carries (Ray wraps errors raised in workers)."""
    seen: set[int] = set()
    stack = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, T5VectorsError) and type(current).__module__.startswith(
            "t5_vectors"
        ):
            return current
        for nested in (getattr(current, "cause", None), current.__cause__, current.__context__):
            if isinstance(nested, BaseException):
                stack.append(nested)
    return None


# --------------------------------------------------------------------------------- look up
def lookup(
    collection: Collection, batch: Batch, columns: Columns, fingerprint: str, force: bool
) -> tuple[np.ndarray, list[PreparedDocument]]:
    """Which rows of *batch* to encode and write, and the documents of all its rows.

    A row is kept when it is the last row of its id in the batch and (unless *force*) its
    content hash differs from the stored one (read in one retried call).
    """
    if num_rows(batch) == 0:
        return np.zeros(0, dtype=bool), []
    documents = prepare_rows(batch, columns, fingerprint)
    keep = np.zeros(len(documents), dtype=bool)
    keep[dedupe_last(documents)] = True
    if not force and keep.any():
        stored = collection.hashes([documents[i].point_id for i in np.flatnonzero(keep)])
        for i in np.flatnonzero(keep):
            if stored.get(documents[i].point_id) == documents[i].content_hash:
                keep[i] = False
    return keep, documents


def _take(batch: Batch, keep: np.ndarray) -> Batch:
    if isinstance(batch, dict):
        return {name: values[keep] for name, values in batch.items()}
    if type(batch).__module__.startswith("pandas"):
        return batch[keep]
    return batch.filter(keep)


@ray.remote(num_cpus=0)
class _Tally:
    """Rows read and skipped by the lookup actors, per batch (a retried batch counts once)."""

    def __init__(self) -> None:
        self.batches: dict[str, tuple[int, int]] = {}

    def add(self, key: str, read: int, skipped: int) -> None:
        self.batches[key] = (read, skipped)

    def totals(self) -> tuple[int, int, int]:
        read = sum(value[0] for value in self.batches.values())
        skipped = sum(value[1] for value in self.batches.values())
        return read, skipped, len(self.batches)


class _LookupBatches:
    """The lookup stage on the workers: drops rows stored unchanged, counts them."""

    def __init__(self, target: Target, columns: Columns, tally: Any, force: bool) -> None:
        self.target = target
        self.columns = columns
        self.tally = tally
        self.force = force
        self.collection = target.open()

    def __call__(self, batch: Batch) -> Batch:
        fingerprint = self.target.layout.fingerprint
        keep, documents = lookup(self.collection, batch, self.columns, fingerprint, self.force)
        digest = hashlib.sha256()
        for document in documents:
            digest.update(f"{document.point_id}:{document.content_hash}\n".encode())
        rows = num_rows(batch)
        ray.get(self.tally.add.remote(digest.hexdigest(), rows, rows - int(keep.sum())))
        return _take(batch, keep)


# ------------------------------------------------------------------------------- encode
def _embed_options(index: QdrantIndex, text_column: str, num_gpus: float | None) -> dict[str, Any]:
    encoder = index.embedder.encoder
    if encoder is None:
        raise InvalidInputError(
            f"index: expected a QdrantIndex over a T5Encoder (each Ray actor loads the same "
            f"checkpoint), found one over {index.embedder.name}. Build the index from "
            "T5Encoder.from_pretrained(...)."
        )
    config = encoder.config
    device = "cuda" if num_gpus else "cpu"
    dtype = str(encoder.dtype).removeprefix("torch.") if encoder.device.type == device else "auto"
    return {
        "model": encoder.name_or_path,
        "text_column": text_column,
        "vector_column": _VECTOR,
        "kind": "document",
        "token_vectors": index.spec.token_vectors or False,
        "sparse_vectors": index.spec.sparse_vectors or False,
        "token_column": _TOKENS,
        "sparse_column": _SPARSE,
        "expected_fingerprint": encoder.fingerprint,
        "device": device,
        "dtype": dtype,
        "pooling": config.pooling,
        "normalize": config.normalize,
        "max_length": config.max_length,
        "query_prefix": config.query_prefix,
        "document_prefix": config.document_prefix,
    }


def _embed(
    dataset: Dataset,
    options: dict[str, Any],
    size: int,
    concurrency: int | tuple[int, int] | None,
    num_gpus: float | None,
) -> Dataset:
    extra: dict[str, Any] = {"num_gpus": num_gpus} if num_gpus else {}
    embedded = dataset.map_batches(
        _IndexEmbedBatches,
        fn_constructor_kwargs=options,
        batch_size=size,
        compute=_pool(concurrency),
        **extra,
    )
    return _typed_errors(embedded)


def _typed_errors(dataset: Dataset) -> Dataset:
    """Have Ray carry our stages' own exceptions (not ``UserCodeException``) to the driver."""
    dataset.context.raise_original_map_exception = True
    return dataset


def _pool(concurrency: int | tuple[int, int] | None) -> ActorPoolStrategy:
    """Ray's actor pool for *concurrency*: a fixed size, (min, max), or autoscaling from 1."""
    if isinstance(concurrency, int):
        return ActorPoolStrategy(size=concurrency)
    if isinstance(concurrency, tuple):
        return ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[1])
    return ActorPoolStrategy(min_size=1)


# -------------------------------------------------------------------------------- write
def _ingest_on_workers(
    dataset: Dataset,
    index: QdrantIndex,
    columns: Columns,
    embed_options: dict[str, Any],
    resources: tuple[int, int | tuple[int, int] | None, float | None],
    force: bool,
    worker_storage: StorageLike | None,
    started: float,
) -> IngestReport:
    size, concurrency, num_gpus = resources
    sink = QdrantDatasink(
        index,
        text_column=columns.text,
        vector_column=columns.vector,
        id_column=columns.id,
        metadata_columns=_metadata_columns(columns),
        token_column=columns.tokens,
        sparse_column=columns.sparse,
        batch_size=size,
        worker_storage=worker_storage,
    )
    if not force and _nothing_stored_for(sink.target, index, worker_storage):
        # Nothing to skip: no lookup stage; the sink counts the rows that reach it.
        _embed(dataset, embed_options, size, concurrency, num_gpus).write_datasink(
            sink, ray_remote_args={"num_cpus": 0.25}
        )
        # Skipped: duplicate ids that a later row of their block replaced.
        return IngestReport(
            written=sink.written,
            skipped=max(0, sink.rows - sink.written),
            batches=math.ceil(sink.rows / size),
            seconds=time.perf_counter() - started,
        )
    tally = _Tally.remote()  # type: ignore[attr-defined]
    encoders = concurrency if isinstance(concurrency, int) else 4
    looked_up = dataset.map_batches(  # (typed errors: set by _embed on the whole plan)
        _LookupBatches,
        fn_constructor_kwargs={
            "target": sink.target,
            "columns": columns,
            "tally": tally,
            "force": force,
        },
        batch_size=size,
        compute=ActorPoolStrategy(size=max(1, math.ceil(encoders / 4))),
        num_cpus=0.25,
    )
    _embed(looked_up, embed_options, size, concurrency, num_gpus).write_datasink(
        sink, ray_remote_args={"num_cpus": 0.25}
    )
    read, _, batches = ray.get(tally.totals.remote())
    ray.kill(tally)
    # Skipped: stored unchanged, or a duplicate id that a later row of its batch replaced.
    return IngestReport(
        written=sink.written,
        skipped=read - sink.written,
        batches=batches,
        seconds=time.perf_counter() - started,
    )


def _ingest_from_driver(
    dataset: Dataset,
    index: QdrantIndex,
    columns: Columns,
    embed_options: dict[str, Any],
    size: int,
    concurrency: int | tuple[int, int] | None,
    num_gpus: float | None,
    force: bool,
    started: float,
) -> IngestReport:
    layout: Layout = layout_of(index)
    collection = index.collection
    read = skipped = batches = 0
    lookup_seconds = 0.0
    if force or collection.count() == 0:
        # Nothing to skip: the rows stream straight to the encoders, and back to be written.
        source: Dataset | None = dataset
    else:
        refs = []
        for batch in dataset.iter_batches(batch_size=size, batch_format="pyarrow"):
            began = time.perf_counter()
            keep, _ = lookup(collection, batch, columns, layout.fingerprint, force)
            lookup_seconds += time.perf_counter() - began
            batches += 1
            read += len(batch)
            skipped += len(batch) - int(keep.sum())
            if keep.any():
                refs.append(ray.put(_take(batch, keep)))
        source = ray.data.from_arrow_refs(refs) if refs else None  # type: ignore[arg-type]
    written = 0
    encode_seconds = qdrant_seconds = 0.0
    if source is not None:
        encoded = _embed(source, embed_options, size, concurrency, num_gpus)
        began = time.perf_counter()
        for batch in encoded.iter_batches(batch_size=size, batch_format="pyarrow"):
            waited = time.perf_counter()
            encode_seconds += waited - began
            documents, points = to_points(batch, columns, layout)
            if source is dataset:  # not looked up: count the batches and collapse duplicates
                batches += 1
                read += len(documents)
                unique = dedupe_last(documents)
                skipped += len(documents) - len(unique)
                points = [points[i] for i in unique]
            collection.upsert(points)
            written += len(points)
            began = time.perf_counter()
            qdrant_seconds += began - waited
    return IngestReport(
        written=written,
        skipped=skipped,
        failed=read - skipped - written,
        batches=batches,
        seconds=time.perf_counter() - started,
        encode_seconds=encode_seconds,
        qdrant_seconds=qdrant_seconds + lookup_seconds,
        qdrant_wait_seconds=qdrant_seconds + lookup_seconds,
    )


def _nothing_stored_for(
    target: Target, index: QdrantIndex, worker_storage: StorageLike | None
) -> bool:
    """Whether the workers' collection is empty (then no row can be stored unchanged).

    Through *worker_storage* when given (the workers' view of the store may not be the
    index's own client's), else through the index's own server client.
    """
    if worker_storage is None:
        return index.collection.count() == 0
    collection = target.open()
    try:
        return collection.count() == 0
    finally:
        collection.storage.close()


def _metadata_columns(columns: Columns) -> list[str] | None:
    return list(columns.metadata) if columns.metadata is not None else None


def _check_options(batch_size: int, concurrency: object, num_gpus: object) -> int:
    check_positive_int("batch_size", batch_size)
    check_concurrency(concurrency, num_gpus)
    return batch_size


def check_concurrency(concurrency: object, num_gpus: object) -> None:
    """Refuse an actor count (``int``, ``(min, max)`` or ``None``) or GPU share that is not one."""
    ok = concurrency is None or (
        isinstance(concurrency, int) and not isinstance(concurrency, bool) and concurrency >= 1
    )
    if isinstance(concurrency, tuple):
        ok = (
            len(concurrency) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in concurrency)
            and 1 <= concurrency[0] <= concurrency[1]
        )
    if not ok:
        raise InvalidInputError(
            f"concurrency: expected a positive int (encoder actors), a (min, max) pair or None, "
            f"found {concurrency!r}."
        )
    if num_gpus is not None and (
        isinstance(num_gpus, bool) or not isinstance(num_gpus, (int, float)) or num_gpus <= 0
    ):
        raise InvalidInputError(
            f"num_gpus: expected a positive number of GPUs per actor or None, found {num_gpus!r}."
        )
