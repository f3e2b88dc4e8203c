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

Progress is reported through a callback (:class:`Progress`, one call per phase change and per
group of chunks stored), and the chunks are handed to :meth:`QdrantIndex.ingest` in groups of a
few batches, so what the callback counts as *stored* is what Qdrant holds. Interrupting the
ingestion (Ctrl-C) raises :class:`IngestInterrupted`, a ``KeyboardInterrupt`` that says how many
chunks were stored; running the same ingestion again resumes.

A file that cannot be read while ingesting (it vanished, or its permissions changed after the
check in :func:`~t5_vectors.files.discover.discover`) is listed in
:attr:`FilesReport.unreadable` and keeps its stored chunks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from t5_vectors.errors import IngestError, InvalidInputError
from t5_vectors.files.chunking import ChunkSettings, TokenChunker, language_of
from t5_vectors.files.discover import Discovery, discover
from t5_vectors.files.read import read_file

if TYPE_CHECKING:
    from langchain_core.documents import Document

    from t5_vectors.qdrant.index import QdrantIndex
    from t5_vectors.qdrant.report import IngestReport

__all__ = [
    "GROUP_BATCHES",
    "FilesReport",
    "IngestInterrupted",
    "Phase",
    "Progress",
    "chunk_id",
    "ingest_files",
]

GROUP_BATCHES = 4
"""Batches handed to :meth:`QdrantIndex.ingest` per call: progress is counted per group."""

Phase = Literal["ingest", "stale", "prune", "index"]
"""``ingest``: reading, chunking, looking up, encoding and writing (one stream); ``stale``:
removing the leftover chunks of changed files; ``prune``: removing chunks of deleted files;
``index``: building the engine's search index over what was written (once, at the end)."""


def chunk_id(source: str, chunk: int) -> str:
    """The document id of chunk number *chunk* of file *source*."""
    return f"{source}#{chunk}"


@dataclass(frozen=True)
class Progress:
    """Where an ingestion stands, passed to the ``progress`` callback of :func:`ingest_files`.

    Attributes:
        phase: what runs now (see :data:`Phase`).
        files: files to read.
        files_done: files read whose every chunk is stored (binary and unreadable ones count
            once passed over).
        chunks_read: chunks read and split so far.
        chunks_stored: chunks Qdrant holds with their current text (written now, or unchanged).
        sources_checked: files whose leftover chunks were looked for (``stale`` phase).
        sources: files to check for leftover chunks.
        seconds: wall time so far.
    """

    phase: Phase
    files: int
    files_done: int = 0
    chunks_read: int = 0
    chunks_stored: int = 0
    sources_checked: int = 0
    sources: int = 0
    seconds: float = 0.0


ProgressCallback = Callable[[Progress], None]


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
        ingest: the report of :meth:`QdrantIndex.ingest`, summed over its calls.
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
    ingest: IngestReport = field(default_factory=lambda: _empty_report())

    @property
    def chunks_per_second(self) -> float:
        """Chunks read per second of wall time."""
        return self.chunks / self.seconds if self.seconds > 0 else 0.0


class IngestInterrupted(KeyboardInterrupt):
    """:func:`ingest_files` was interrupted (Ctrl-C); what is stored stays stored.

    Attributes:
        progress: where it stood: chunks stored, chunks read, files done.
    """

    def __init__(self, progress: Progress) -> None:
        super().__init__(
            f"interrupted: {progress.chunks_stored} chunks of {progress.files_done} files "
            "stored; run the same ingestion again to resume"
        )
        self.progress = progress


def _empty_report() -> IngestReport:
    from t5_vectors.qdrant.report import IngestReport

    return IngestReport()


class ChunkReader:
    """Turns the discovered files into chunk documents, remembering what it saw.

    Shared by the plain file ingest and the Ray one (:mod:`t5_vectors.ray`), so both make the
    same chunks, ids and metadata.
    """

    def __init__(self, files: Sequence[Path], chunker: TokenChunker) -> None:
        self.files = files
        self.chunker = chunker
        self.expected: dict[str, set[str]] = {}
        self.binary: list[str] = []
        self.unreadable: list[str] = []
        self.lossy: list[str] = []
        self.text_files = 0
        self.chunks = 0
        self.passed = 0
        """Files whose every chunk has been handed over (or that have none)."""

    def documents(self) -> Iterator[Document]:
        from langchain_core.documents import Document

        from t5_vectors.qdrant.ids import point_id

        for path in self.files:
            source = str(path)
            try:
                content = read_file(path)
            except OSError:
                self.unreadable.append(source)
                self.passed += 1
                continue
            if content.binary:
                self.binary.append(source)
                self.passed += 1
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
            self.passed += 1

    def report(
        self, ingest: IngestReport, *, stale: int, pruned: int, started: float
    ) -> FilesReport:
        """What the run did: the files read here, *ingest*'s counts and the clean-up's."""
        return FilesReport(
            files=self.text_files,
            chunks=self.chunks,
            written=ingest.written,
            skipped=ingest.skipped,
            failed=ingest.failed,
            binary=tuple(self.binary),
            unreadable=tuple(self.unreadable),
            lossy=tuple(self.lossy),
            stale_removed=stale,
            pruned=pruned,
            seconds=time.perf_counter() - started,
            ingest=ingest,
        )


class _Run:
    """The bookkeeping of one :func:`ingest_files` call: counts, reports and the callback."""

    def __init__(self, files: int, callback: ProgressCallback | None) -> None:
        self.files = files
        self.callback = callback
        self.started = time.perf_counter()
        self.reports: list[IngestReport] = []
        self.files_done = 0
        self.chunks_read = 0
        self.stored = 0
        self.phase: Phase = "ingest"
        self.sources = 0
        self.sources_checked = 0

    def progress(self) -> Progress:
        return Progress(
            phase=self.phase,
            files=self.files,
            files_done=self.files_done,
            chunks_read=self.chunks_read,
            chunks_stored=self.stored,
            sources_checked=self.sources_checked,
            sources=self.sources,
            seconds=time.perf_counter() - self.started,
        )

    def tell(self) -> None:
        if self.callback is not None:
            self.callback(self.progress())

    def stored_group(self, report: IngestReport, files_done: int, chunks_read: int) -> None:
        self.reports.append(report)
        self.stored += report.written + report.skipped
        self.files_done, self.chunks_read = files_done, chunks_read
        self.tell()

    def total(self) -> IngestReport:
        from t5_vectors.qdrant.report import IngestReport

        reports = self.reports
        return IngestReport(
            written=sum(r.written for r in reports),
            skipped=sum(r.skipped for r in reports),
            failed=sum(r.failed for r in reports),
            batches=sum(r.batches for r in reports),
            seconds=time.perf_counter() - self.started,
            encode_seconds=sum(r.encode_seconds for r in reports),
            qdrant_seconds=sum(r.qdrant_seconds for r in reports),
            qdrant_wait_seconds=sum(r.qdrant_wait_seconds for r in reports),
            failures=tuple(f for r in reports for f in r.failures),
        )


def _both(
    first: ProgressCallback | None, second: ProgressCallback | None
) -> ProgressCallback | None:
    if first is None or second is None:
        return first or second

    def tell(progress: Progress) -> None:
        first(progress)
        second(progress)

    return tell


def _stored_now(index: QdrantIndex, group: Sequence[Document]) -> int:
    """How many of *group* Qdrant holds with their current text (after an interruption)."""
    try:
        stored = index.get([doc.id for doc in group if doc.id is not None])
    except Exception:  # reporting an interruption must not fail; count none of the group
        return 0
    texts = {doc.id: doc.page_content for doc in group}
    return sum(1 for doc in stored if texts.get(doc.id) == doc.page_content)


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
    progress: ProgressCallback | None = None,
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
        show_progress: show a progress bar over files, with chunks stored and read.
        progress: called with a :class:`Progress` as each group of chunks is stored and as
            each phase starts and advances.

    Raises:
        SourceFileError: a path is missing or unreadable (before anything is written).
        InvalidInputError: bad chunk sizes, or an embedding without a T5 tokenizer.
        IngestError: a batch could not be stored (stale chunks are then left alone).
        IngestInterrupted: Ctrl-C; says how many chunks are stored.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(f"batch_size: expected a positive int, found {batch_size!r}.")
    encoder = index.embedder.encoder
    if encoder is None:
        raise InvalidInputError(
            f"index: expected a QdrantIndex over a T5Encoder (its tokenizer measures chunks), "
            f"found one over {index.embedder.name}. Build the index from "
            "T5Encoder.from_pretrained(...)."
        )
    chunker = TokenChunker(encoder, chunking)
    found = paths if isinstance(paths, Discovery) else discover(paths, glob=glob, exclude=exclude)
    bar = _bar(show_progress, len(found.files))
    run = _Run(len(found.files), _both(progress, bar.show if bar is not None else None))
    reader = ChunkReader(found.files, chunker)
    group: list[Document] = []
    try:
        run.tell()
        documents = reader.documents()
        while True:
            group = []
            for document in documents:
                group.append(document)
                if len(group) >= batch_size * GROUP_BATCHES:
                    break
            if not group:
                run.files_done = reader.passed
                break
            passed, read = reader.passed, reader.chunks
            try:
                report = index.ingest(group, batch_size=batch_size, build_index=False)
            except IngestError as error:
                raise _shifted(error, run, group) from error
            run.stored_group(report, passed, read)
        stale = _remove_stale(index, reader.expected, run)
        pruned = 0
        if prune:
            run.phase = "prune"
            run.tell()
            from t5_vectors.files.sync import prune_deleted

            pruned = prune_deleted(index.backend, index.collection_name, found.covers)
        if run.total().written or stale or pruned:
            run.phase = "index"
            run.tell()
            index.build_index()
    except KeyboardInterrupt as interrupt:
        if isinstance(interrupt, IngestInterrupted):
            raise
        if run.phase == "ingest" and group:
            run.stored += _stored_now(index, group)
        raise IngestInterrupted(run.progress()) from interrupt
    finally:
        if bar is not None:
            bar.close()
    return reader.report(run.total(), stale=stale, pruned=pruned, started=run.started)


def _remove_stale(index: QdrantIndex, expected: dict[str, set[str]], run: _Run) -> int:
    from t5_vectors.files.sync import remove_stale

    run.phase, run.sources = "stale", len(expected)
    run.tell()

    def advance(done: int, total: int | None) -> None:
        # The scan reports sources checked (or, in a local-mode folder, points scanned).
        if total:
            run.sources_checked = done * run.sources // total
        run.tell()

    removed = remove_stale(index.backend, index.collection_name, expected, progress=advance)
    run.sources_checked = run.sources
    run.tell()
    return removed


def _shifted(error: IngestError, run: _Run, group: Sequence[Document]) -> IngestError:
    """*error* of one group's ingest, restated for the whole run (chunk numbers, files, counts)."""
    from dataclasses import replace

    from t5_vectors.qdrant.report import IngestReport

    offset = run.chunks_read
    failure = replace(
        error.failure, first=error.failure.first + offset, last=error.failure.last + offset
    )
    first = group[min(error.failure.first, len(group) - 1)].metadata.get("source", "?")
    done = run.total()
    part = error.report
    report = IngestReport(
        written=done.written + part.written,
        skipped=done.skipped + part.skipped,
        failed=done.failed + part.failed,
        batches=done.batches + part.batches,
        seconds=time.perf_counter() - run.started,
        encode_seconds=done.encode_seconds + part.encode_seconds,
        qdrant_seconds=done.qdrant_seconds + part.qdrant_seconds,
        qdrant_wait_seconds=done.qdrant_wait_seconds + part.qdrant_wait_seconds,
        failures=done.failures + part.failures,
    )
    return IngestError(
        f"Ingestion stopped at chunks {failure.first}..{failure.last} (from {first}) while "
        f"{failure.stage}: {failure.error}. {report.written + report.skipped} chunks are stored "
        f"({report.written} written now); fix the cause, then run the same ingestion again: "
        "it resumes where it stopped.",
        report=report,
        failure=failure,
    )


class _Bar:
    """A progress bar over files, showing chunks stored and read and the current phase."""

    def __init__(self, files: int) -> None:
        from tqdm.auto import tqdm

        self.tqdm = tqdm(total=files, unit="file", desc="ingest", dynamic_ncols=True)

    def show(self, progress: Progress) -> None:
        bar = self.tqdm
        if progress.phase == "ingest":
            bar.update(progress.files_done - bar.n)
            rate = progress.chunks_stored / progress.seconds if progress.seconds > 0 else 0.0
            bar.set_postfix(
                {
                    "stored": progress.chunks_stored,
                    "read": progress.chunks_read,
                    "chunks/s": f"{rate:.1f}",
                },
                refresh=True,
            )
        else:
            if bar.desc != progress.phase:
                bar.update(bar.total - bar.n)
                bar.set_description(progress.phase, refresh=False)
            if progress.phase == "stale":
                bar.set_postfix(
                    {"files checked": f"{progress.sources_checked}/{progress.sources}"},
                    refresh=True,
                )
            elif progress.phase == "prune":
                bar.set_postfix({"scanning": "chunks of deleted files"}, refresh=True)
            else:
                bar.set_postfix({"building": "the search index"}, refresh=True)

    def close(self) -> None:
        self.tqdm.close()


def _bar(show: bool, files: int) -> _Bar | None:
    return _Bar(files) if show else None
