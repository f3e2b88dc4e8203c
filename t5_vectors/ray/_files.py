"""Files and folders into a ``QdrantIndex``, encoded on Ray: the file pipeline's Ray stage.

The file pipeline is :func:`t5_vectors.files.ingest_files`, for a local ingest and a Ray one
alike: discovery, reading, token-measured chunking, the per-file records, stale chunks, pruning,
the index build, progress and a resumable Ctrl-C. The one part that differs is where chunks are
encoded and written, its :class:`~t5_vectors.files.ingest.ChunkStage`: :class:`RayStage` puts
each group of chunks in the Ray object store in blocks of ``block_rows`` and runs
:func:`t5_vectors.ray.ingest` on them (lookup, encoding on actors, writes by the workers to a
server, or by the driver to embedded storage). :func:`ingest_files` is that pipeline with that
stage.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ray

from t5_vectors._checks import check_positive_int
from t5_vectors.errors import IngestReport
from t5_vectors.files import ingest as files
from t5_vectors.files.chunking import ChunkSettings
from t5_vectors.files.discover import Discovery
from t5_vectors.plan.run import DEFAULT_BATCH_SIZE
from t5_vectors.ray._ingest import check_concurrency, ingest

if TYPE_CHECKING:
    from langchain_core.documents import Document

    from t5_vectors.index.index import QdrantIndex


_COLUMNS = ("id", "text", "source", "chunk", "start_index")
_BLOCK_ROWS = 1024
_GROUP_BLOCKS = 32


class RayStage:
    """Encode and write each group of chunks with :func:`t5_vectors.ray.ingest` on Ray.

    Args:
        concurrency: encoder actors (``None``: Ray sizes the pool).
        num_gpus: GPUs per encoder actor.
        block_rows: chunks per block handed to Ray.
        group_blocks: blocks per group (one Ray run; progress is counted per group).
    """

    def __init__(
        self,
        *,
        concurrency: int | tuple[int, int] | None = None,
        num_gpus: float | None = None,
        block_rows: int = _BLOCK_ROWS,
        group_blocks: int = _GROUP_BLOCKS,
    ) -> None:
        check_concurrency(concurrency, num_gpus)
        check_positive_int("block_rows", block_rows)
        check_positive_int("group_blocks", group_blocks)
        self.concurrency = concurrency
        self.num_gpus = num_gpus
        self.block_rows = block_rows
        self.group_blocks = group_blocks

    def group_size(self, batch_size: int) -> int:
        return self.block_rows * self.group_blocks

    def store(
        self, index: QdrantIndex, chunks: Sequence[Document], batch_size: int
    ) -> IngestReport:
        refs = [
            _put(chunks[start : start + self.block_rows])
            for start in range(0, len(chunks), self.block_rows)
        ]
        return ingest(
            ray.data.from_arrow_refs(refs),
            index,
            id_column="id",
            metadata_columns=list(_COLUMNS[2:]),
            concurrency=self.concurrency,
            num_gpus=self.num_gpus,
            batch_size=batch_size,
            build_index=False,  # built once by the pipeline, after the stale chunks are gone
        )


def ingest_files(
    index: QdrantIndex,
    paths: Sequence[str | os.PathLike[str]] | Discovery,
    *,
    glob: Sequence[str] = (),
    exclude: Sequence[str] = (),
    chunking: ChunkSettings | None = None,
    prune: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    concurrency: int | tuple[int, int] | None = None,
    num_gpus: float | None = None,
    show_progress: bool = False,
    progress: files.ProgressCallback | None = None,
    block_rows: int = _BLOCK_ROWS,
) -> files.FilesReport:
    """:func:`t5_vectors.files.ingest_files` with the chunks encoded on Ray actors.

    Call ``ray.init(...)`` first (or let Ray start a local cluster on first use).

    Example:
        .. code-block:: python

            import ray
            from t5_vectors import QdrantIndex, T5Encoder
            from t5_vectors.ray import ingest_files

            ray.init()  # RAY_ADDRESS, or a local cluster
            encoder = T5Encoder.from_pretrained("sentence-transformers/sentence-t5-base")
            server = "http://qdrant:6333"
            with QdrantIndex(encoder, collection_name="docs", storage=server) as index:
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
        show_progress: show a progress bar over the files, with chunks stored and read.
        progress: called with a :class:`~t5_vectors.files.ingest.Progress` as each group of
            chunks is stored and as each phase starts and advances.
        block_rows: chunks per block handed to Ray.

    Raises:
        SourceFileError: a path is missing or unreadable (before anything is written).
        InvalidInputError: bad options, or an index without a T5 encoder.
        IngestInterrupted: Ctrl-C; says how many chunks are stored (run again to resume).
    """
    stage = RayStage(concurrency=concurrency, num_gpus=num_gpus, block_rows=block_rows)
    return files.ingest_files(
        index,
        paths,
        glob=glob,
        exclude=exclude,
        chunking=chunking,
        prune=prune,
        batch_size=batch_size,
        show_progress=show_progress,
        progress=progress,
        stage=stage,
    )


def _put(chunks: Sequence[Document]) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]

    columns: dict[str, list[object]] = {name: [] for name in _COLUMNS}
    for chunk in chunks:
        metadata = chunk.metadata
        columns["id"].append(chunk.id)
        columns["text"].append(chunk.page_content)
        for name in _COLUMNS[2:]:
            columns[name].append(metadata[name])
    return ray.put(pa.table(columns))
