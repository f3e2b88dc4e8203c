"""Ingest files and folders into a ``QdrantIndex``: discover, read, chunk, stream, clean up.

::

    from t5_vectors import QdrantIndex, T5Encoder
    from t5_vectors.files import ingest_files

    encoder = T5Encoder.from_pretrained("sentence-transformers/sentence-t5-base")
    with QdrantIndex(encoder, collection_name="docs", path="./t5_vectors_data") as index:
        report = ingest_files(index, ["docs/"], glob=["*.md"])
        print(report.written, report.skipped, report.stale_removed)

Each chunk is a ``Document`` with id ``"<source>#<chunk>"`` and metadata ``source`` (the file's
absolute path), ``chunk`` (its number in the file) and ``start_index`` (its character offset in
the file's text), streamed through :meth:`QdrantIndex.ingest`: unchanged chunks are skipped by
content hash, so re-running on the same files writes nothing. A changed file's chunks are
overwritten in place, then its leftover chunks are deleted (see :mod:`t5_vectors.files.sync`).
With ``prune=True`` the chunks of files deleted from disk (inside the folders given) are
removed too; without it they stay.

A file that cannot be read while ingesting (it vanished, or its permissions changed after the
check in :func:`~t5_vectors.files.discover.discover`) is listed in
:attr:`FilesReport.unreadable` and keeps its stored chunks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

from t5_vectors.errors import InvalidInputError
from t5_vectors.files.chunking import ChunkSettings, TokenChunker, language_of
from t5_vectors.files.discover import Discovery, discover
from t5_vectors.files.read import read_file
from t5_vectors.files.sync import prune_deleted, remove_stale
from t5_vectors.qdrant.ids import point_id
from t5_vectors.qdrant.index import QdrantIndex
from t5_vectors.qdrant.report import IngestReport

__all__ = ["FilesReport", "chunk_id", "ingest_files"]


def chunk_id(source: str, chunk: int) -> str:
    """The document id of chunk number *chunk* of file *source*."""
    return f"{source}#{chunk}"


@dataclass(frozen=True)
class FilesReport:
    """What :func:`ingest_files` did.

    Attributes:
        files: text files read.
        chunks: chunks read from them (``written + skipped + failed``).
        written: chunks encoded and written.
        skipped: chunks stored unchanged, not encoded again.
        failed: chunks read but not written.
        binary: binary files skipped, by path.
        unreadable: files that could not be read during the run (chunks kept), by path.
        lossy: files whose invalid UTF-8 became U+FFFD, by path.
        stale_removed: leftover chunks of changed files, deleted.
        pruned: chunks of files deleted from disk, removed (``prune=True``).
        seconds: wall time.
        ingest: the report of :meth:`QdrantIndex.ingest`.
    """

    files: int = 0
    chunks: int = 0
    written: int = 0
    skipped: int = 0
    failed: int = 0
    binary: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = ()
    lossy: tuple[str, ...] = ()
    stale_removed: int = 0
    pruned: int = 0
    seconds: float = 0.0
    ingest: IngestReport = field(default_factory=IngestReport)

    @property
    def chunks_per_second(self) -> float:
        """Chunks read per second of wall time."""
        return self.chunks / self.seconds if self.seconds > 0 else 0.0


class _Reader:
    """Turns the discovered files into chunk documents, remembering what it saw."""

    def __init__(self, files: Sequence[Path], chunker: TokenChunker, progress: Any) -> None:
        self.files = files
        self.chunker = chunker
        self.progress = progress
        self.expected: dict[str, set[str]] = {}
        self.binary: list[str] = []
        self.unreadable: list[str] = []
        self.lossy: list[str] = []
        self.text_files = 0
        self.chunks = 0
        self.started = time.perf_counter()

    def documents(self) -> Iterator[Document]:
        for path in self.files:
            source = str(path)
            try:
                content = read_file(path)
            except OSError:
                self.unreadable.append(source)
                self.progress.update(1)
                continue
            if content.binary:
                self.binary.append(source)
                self.progress.update(1)
                continue
            self.text_files += 1
            if content.replaced:
                self.lossy.append(source)
            ids: set[str] = set()
            for number, chunk in enumerate(self.chunker.split(content.text, language_of(path))):
                document_id = chunk_id(source, number)
                ids.add(point_id(document_id))
                self.chunks += 1
                yield Document(
                    id=document_id,
                    page_content=chunk.text,
                    metadata={"source": source, "chunk": number, "start_index": chunk.start_index},
                )
            # Registered once the file's last chunk is handed over, so a file whose reading
            # stopped half-way never has its stored chunks cleaned up.
            self.expected[source] = ids
            self.progress.update(1)
            elapsed = time.perf_counter() - self.started
            rate = self.chunks / elapsed if elapsed > 0 else 0.0
            self.progress.set_postfix({"chunks": self.chunks, "chunks/s": f"{rate:.1f}"})


def ingest_files(
    index: QdrantIndex,
    paths: Sequence[str | os.PathLike[str]] | Discovery,
    *,
    glob: Sequence[str] = (),
    exclude: Sequence[str] = (),
    chunking: ChunkSettings | None = None,
    prune: bool = False,
    batch_size: int = 64,
    show_progress: bool = False,
) -> FilesReport:
    """Ingest the text files under *paths* into *index* as token-measured chunks.

    Args:
        index: the index to write to; its embedding must be a ``T5Encoder`` (or a
            ``T5Embeddings``) whose tokenizer measures the chunks.
        paths: files and folders, or a :class:`Discovery` made earlier.
        glob: keep only files matching one of these patterns (see
            :mod:`t5_vectors.files.discover`).
        exclude: drop files matching one of these patterns.
        chunking: chunk size and overlap in tokens.
        prune: also remove the chunks of files that no longer exist in the folders given.
        batch_size: chunks per ingestion batch.
        show_progress: show a progress bar over files, with chunks and chunks/s.

    Raises:
        SourceFileError: a path is missing or unreadable (before anything is written).
        InvalidInputError: bad chunk sizes, or an embedding without a T5 tokenizer.
        IngestError: a batch could not be stored (stale chunks are then left alone).
    """
    started = time.perf_counter()
    encoder = index.embedder.encoder
    if encoder is None:
        raise InvalidInputError(
            f"index: expected a QdrantIndex over a T5Encoder (its tokenizer measures chunks), "
            f"found one over {index.embedder.name}. Build the index from "
            "T5Encoder.from_pretrained(...)."
        )
    chunker = TokenChunker(encoder, chunking)
    found = paths if isinstance(paths, Discovery) else discover(paths, glob=glob, exclude=exclude)
    progress = _progress(show_progress, len(found.files))
    reader = _Reader(found.files, chunker, progress)
    try:
        report = index.ingest(reader.documents(), batch_size=batch_size)
    finally:
        progress.close()
    stale = remove_stale(index.backend, index.collection_name, reader.expected)
    pruned = prune_deleted(index.backend, index.collection_name, found.covers) if prune else 0
    return FilesReport(
        files=reader.text_files,
        chunks=reader.chunks,
        written=report.written,
        skipped=report.skipped,
        failed=report.failed,
        binary=tuple(reader.binary),
        unreadable=tuple(reader.unreadable),
        lossy=tuple(reader.lossy),
        stale_removed=stale,
        pruned=pruned,
        seconds=time.perf_counter() - started,
        ingest=report,
    )


def _progress(show: bool, total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="file", desc="ingest", disable=not show, dynamic_ncols=True)
