"""``ingest_files``: files and folders into a ``QdrantIndex``, encoded on Ray.

The same files, chunks and ids as :func:`t5_vectors.files.ingest_files` (what the CLI's plain
``ingest`` runs): the driver discovers and reads the files and splits them with the index's
tokenizer through the very reader the plain ingest uses, so chunk ids (``<source>#<chunk>``) and
metadata (``source``, ``chunk``, ``start_index``) are identical. Chunks go to the Ray object
store in blocks of ``block_rows``; :func:`t5_vectors.ray.ingest` looks them up, encodes them on
actors and writes them. Files stored whole with the same digest are read but neither split nor
sent (the record on their first chunk, kept as the plain ingest keeps it); the files split here
get their record once the Ray run has stored every chunk. Then, as in the plain ingest, a
changed file's leftover chunks are deleted (and, with ``prune``, the chunks of deleted files) --
only after its new chunks are written, so a crash in between never loses content.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ray

from t5_vectors._checks import check_positive_int
from t5_vectors.files._sync import prune_deleted, remove_stale
from t5_vectors.files.chunking import ChunkSettings
from t5_vectors.files.discover import Discovery, discover
from t5_vectors.files.ingest import ChunkReader, FileRecords, FilesReport, index_chunker
from t5_vectors.ray._ingest import ingest

if TYPE_CHECKING:
    from t5_vectors.index.index import QdrantIndex

__all__ = ["ingest_files"]

_COLUMNS = ("id", "text", "source", "chunk", "start_index")
_BLOCK_ROWS = 1024


def ingest_files(
    index: QdrantIndex,
    paths: Sequence[str | os.PathLike[str]] | Discovery,
    *,
    glob: Sequence[str] = (),
    exclude: Sequence[str] = (),
    chunking: ChunkSettings | None = None,
    prune: bool = False,
    batch_size: int = 64,
    concurrency: int | tuple[int, int] | None = None,
    num_gpus: float | None = None,
    show_progress: bool = False,
    block_rows: int = _BLOCK_ROWS,
) -> FilesReport:
    """:func:`t5_vectors.files.ingest_files` with the encoding on Ray actors.

    Call ``ray.init(...)`` first (or let Ray start a local cluster on first use).

    Example:
        .. code-block:: python

            import ray
            from t5_vectors import QdrantIndex, T5Encoder
            from t5_vectors.ray import ingest_files

            ray.init()  # RAY_ADDRESS, or a local cluster
            encoder = T5Encoder.from_pretrained("sentence-transformers/sentence-t5-base")
            with QdrantIndex(encoder, collection_name="docs", url="http://qdrant:6333") as index:
                report = ingest_files(index, ["docs/"], glob=["*.md"], concurrency=4)

    Args:
        index: the index to write to, over a ``T5Encoder`` every node can load.
        paths: files and folders, or a :class:`~t5_vectors.files.Discovery`.
        glob: keep only files matching one of these patterns.
        exclude: drop files matching one of these patterns.
        chunking: chunk size and overlap in tokens.
        prune: also remove the chunks of files deleted from the folders given.
        batch_size: chunks per batch in each Ray stage.
        concurrency: encoder actors (``None``: Ray sizes the pool).
        num_gpus: GPUs per encoder actor.
        show_progress: show a progress bar over the files as they are read.
        block_rows: chunks per block handed to Ray.

    Raises:
        SourceFileError: a path is missing or unreadable (before anything is written).
        InvalidInputError: bad options, or an index without a T5 encoder.
    """
    started = time.perf_counter()
    check_positive_int("block_rows", block_rows)
    chunker = index_chunker(index, chunking)
    found = paths if isinstance(paths, Discovery) else discover(paths, glob=glob, exclude=exclude)
    records = FileRecords(index)
    reader = ChunkReader(found.files, chunker, lookup=records.lookup, signature=index.fingerprint)
    bar = _files_bar(len(found.files)) if show_progress else None
    refs = []
    try:
        block: dict[str, list[object]] = {name: [] for name in _COLUMNS}
        for document in reader.documents():
            metadata = document.metadata
            for name, value in zip(
                _COLUMNS,
                (document.id, document.page_content, *(metadata[key] for key in _COLUMNS[2:])),
                strict=True,
            ):
                block[name].append(value)
            if bar is not None and bar.n != reader.passed:
                bar.update(reader.passed - bar.n)
            if len(block["id"]) >= block_rows:
                refs.append(_put(block))
                block = {name: [] for name in _COLUMNS}
        if block["id"]:
            refs.append(_put(block))
    finally:
        if bar is not None:
            bar.update(reader.passed - bar.n)
            bar.close()
    report = (
        ingest(
            ray.data.from_arrow_refs(refs),  # type: ignore[arg-type]
            index,
            id_column="id",
            metadata_columns=list(_COLUMNS[2:]),
            concurrency=concurrency,
            num_gpus=num_gpus,
            batch_size=batch_size,
            build_index=False,  # built once below, after the stale chunks are gone
        )
        if refs
        else None
    )
    records.record(reader.take_finished())  # every chunk of these files is stored now
    seen: set[str] = set()
    stale = remove_stale(index.backend, index.collection_name, reader.expected, seen=seen)
    incomplete = reader.incomplete(seen)
    repaired = None
    if incomplete:  # recorded whole, yet a chunk is gone (deleted by id): store them again here
        repaired = index.ingest(list(reader.documents(incomplete)), build_index=False)
        records.record(reader.take_finished())
    pruned = prune_deleted(index.backend, index.collection_name, found.covers) if prune else 0
    from t5_vectors.plan.report import IngestReport

    ingested = report if report is not None else IngestReport()
    if repaired is not None:
        ingested = ingested.plus(repaired)
    if ingested.written or stale or pruned:
        index.build_index()  # once, as the plain file ingest does
    return reader.report(ingested, stale=stale, pruned=pruned, started=started)


def _files_bar(total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="file", desc="reading", dynamic_ncols=True)


def _put(block: dict[str, list[object]]) -> ray.ObjectRef:  # type: ignore[type-arg]
    import pyarrow as pa  # type: ignore[import-untyped]

    return ray.put(pa.table(block))
