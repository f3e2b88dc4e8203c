"""Ingest files and folders into a ``QdrantIndex``: discover, read, chunk, stream, clean up.

::

    from t5_vectors import QdrantIndex, T5Encoder
    from t5_vectors.files import ingest_files

    encoder = T5Encoder.from_pretrained("sentence-transformers/sentence-t5-base")
    with QdrantIndex(encoder, collection_name="docs", storage="./t5_vectors_data") as index:
        report = ingest_files(index, ["docs/"], glob=["*.md"])
        print(report.written, report.skipped, report.stale_removed)

Each chunk is a ``Document`` with id ``"<source>#<chunk>"`` and metadata ``source`` (the file's
absolute path), ``chunk`` (its number in the file) and ``start_index`` (its character offset in
the file's text), streamed through :meth:`QdrantIndex.ingest`: unchanged chunks are skipped by
content hash, so re-running on the same files writes nothing. A changed file's chunks are
overwritten in place, then its leftover chunks are deleted (see :mod:`t5_vectors.files._sync`).
With ``prune=True`` the chunks of files deleted from disk (inside the folders given) are
removed too; without it they stay.

Progress is reported through a callback (:class:`Progress`, one call per phase change and per
group of chunks stored), and the chunks are handed to the stage that encodes and writes them
(:class:`ChunkStage`: :class:`LocalStage`, :meth:`QdrantIndex.ingest` in this process, or
Ray's) in groups, so what the callback counts as *stored* is what Qdrant holds. The stage is the
only part that differs between a local ingest and a Ray one. Interrupting the
ingestion (Ctrl-C) raises :class:`IngestInterrupted`, a ``KeyboardInterrupt`` that says how many
chunks were stored; running the same ingestion again resumes.

A file that cannot be read while ingesting (it vanished, or its permissions changed after the
check in :func:`~t5_vectors.files.discover.discover`) is listed in
:attr:`FilesReport.unreadable` and keeps its stored chunks.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from t5_vectors._checks import check_positive_int
from t5_vectors.errors import IngestError, IngestReport, InvalidInputError
from t5_vectors.files import _sync
from t5_vectors.files.chunking import ChunkSettings, TokenChunker, language_of
from t5_vectors.files.discover import Discovery, discover
from t5_vectors.files.read import FileText, read_file
from t5_vectors.index.index import QdrantIndex
from t5_vectors.plan.run import DEFAULT_BATCH_SIZE

if TYPE_CHECKING:
    from langchain_core.documents import Document
    from langchain_text_splitters import Language


GROUP_BATCHES = 4
"""Batches of chunks in each group the local stage stores: progress is counted per group."""

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
    ingest: IngestReport = field(default_factory=IngestReport)

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


StoredFiles = Callable[[Sequence[tuple[str, str, str]]], Mapping[str, int]]
"""``lookup([(source, chunk 0's point id, digest), ...]) -> {source: chunks}``: the files stored
whole with the same digest (:func:`t5_vectors.files._sync.stored_files` on a backend)."""

READ_AHEAD_FILES = 256
"""Files read ahead of the chunking, so that their records are looked up in one call."""

_READ_AHEAD_CHARS = 16_000_000


def file_digest(text: str, signature: str, language: Language | None) -> str:
    """SHA-256 over what decides a file's chunks: its text, the chunker and the language.

    Args:
        text: the file's text as read.
        signature: the chunker's and the model's identity (size, overlap, prefix, tokenizer).
        language: the splitting language derived from the file name.
    """
    digest = hashlib.sha256()
    for part in (signature, str(language), text):
        data = part.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


class ChunkReader:
    """Turns the discovered files into chunk documents, remembering what it saw.

    Shared by the plain file ingest and the Ray one (:mod:`t5_vectors.ray`), so both make the
    same chunks, ids and metadata.

    With a *lookup*, files are read a window at a time and each file's digest (its text, the
    chunking settings and *signature*) is compared with the record kept on its stored chunk 0:
    a file stored whole with the same digest is not split again and yields no documents; its
    chunks count as unchanged (:attr:`unchanged_chunks`) and its expected ids are derived from
    the recorded chunk count. Files split here are listed in :meth:`take_finished` once their
    last chunk is handed over, for the caller to record
    (:func:`~t5_vectors.files._sync.record_files`) after those chunks are stored.

    Args:
        files: the files, in order.
        chunker: splits texts into token-measured chunks.
        lookup: finds the files stored whole with the same digest (``None``: split every file).
        signature: the model's identity (``QdrantIndex.fingerprint``), part of each digest.
        on_window: called before each window of files is handed over, and after the last
            (progress: :attr:`passed`, :attr:`chunks` and :attr:`unchanged_chunks` so far).
    """

    def __init__(
        self,
        files: Sequence[Path],
        chunker: TokenChunker,
        *,
        lookup: StoredFiles | None = None,
        signature: str = "",
        on_window: Callable[[], None] | None = None,
    ) -> None:
        self.files = files
        self.chunker = chunker
        self.lookup = lookup
        self.signature = f"{signature}\n{chunker.signature}"
        self.on_window = on_window
        self.expected: dict[str, set[str]] = {}
        self.binary: list[str] = []
        self.unreadable: list[str] = []
        self.lossy: list[str] = []
        self.text_files = 0
        self.chunks = 0
        self.unchanged_chunks = 0
        """Chunks of files stored whole with the same digest (neither split nor encoded)."""
        self.unchanged: dict[str, int] = {}
        """The files stored whole with the same digest, and their chunk counts."""
        self.passed = 0
        """Files whose every chunk has been handed over (or that have none)."""
        self._finished: list[tuple[str, str, int]] = []
        self.skip_lookup: set[str] = set()

    def take_finished(self) -> list[tuple[str, str, int]]:
        """``(chunk 0's point id, digest, chunks)`` of the files split since the last call,
        each only once every one of its chunks has been handed over."""
        finished, self._finished = self._finished, []
        return finished

    def documents(self, files: Sequence[Path] | None = None) -> Iterator[Document]:
        """The chunk documents of *files* (default: all), skipping files stored unchanged."""
        for window in self._windows(self.files if files is None else files):
            if self.on_window is not None:
                self.on_window()
            yield from self._window_documents(window)
        if self.on_window is not None:
            self.on_window()

    def incomplete(self, seen: set[str]) -> list[Path]:
        """Files taken as stored unchanged of which a chunk is missing from *seen* (point ids
        found stored), forgotten here so that :meth:`documents` can split them again (with
        ``lookup`` off: their records are what misled it)."""
        missing = [
            source for source in self.unchanged if not self.expected.get(source, set()) <= seen
        ]
        for source in missing:
            count = self.unchanged.pop(source)
            self.chunks -= count
            self.unchanged_chunks -= count
            self.text_files -= 1
            self.passed -= 1
            self.skip_lookup.add(source)
            if source in self.lossy:
                self.lossy.remove(source)
        return [Path(source) for source in missing]

    def _windows(self, files: Sequence[Path]) -> Iterator[list[tuple[Path, FileText | None]]]:
        window: list[tuple[Path, FileText | None]] = []
        chars = 0
        for path in files:
            try:
                content: FileText | None = read_file(path)
            except OSError:
                content = None
            window.append((path, content))
            chars += len(content.text) if content is not None else 0
            if len(window) >= READ_AHEAD_FILES or chars >= _READ_AHEAD_CHARS:
                yield window
                window, chars = [], 0
        if window:
            yield window

    def _window_documents(self, window: list[tuple[Path, FileText | None]]) -> Iterator[Document]:
        from langchain_core.documents import Document

        from t5_vectors.plan.ids import point_id

        digests: dict[str, str] = {}
        for path, content in window:
            if content is not None and not content.binary:
                digests[str(path)] = file_digest(content.text, self.signature, language_of(path))
        stored: Mapping[str, int] = {}
        wanted = [(s, point_id(chunk_id(s, 0)), d) for s, d in digests.items()]
        wanted = [item for item in wanted if item[0] not in self.skip_lookup]
        if self.lookup is not None and wanted:
            stored = self.lookup(wanted)
        for path, content in window:
            source = str(path)
            if content is None:
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
            if source in stored:
                count = stored[source]
                self.expected[source] = {point_id(chunk_id(source, i)) for i in range(count)}
                self.chunks += count
                self.unchanged_chunks += count
                self.unchanged[source] = count
                self.passed += 1
                continue
            ids: list[str] = []
            for number, chunk in enumerate(self.chunker.split(content.text, language_of(path))):
                document_id = chunk_id(source, number)
                ids.append(point_id(document_id))
                self.chunks += 1
                yield Document(
                    id=document_id,
                    page_content=chunk.text,
                    metadata={"source": source, "chunk": number, "start_index": chunk.start_index},
                )
            # Registered once the file's last chunk is handed over, so a file whose reading
            # stopped half-way never has its stored chunks cleaned up (nor recorded).
            self.expected[source] = set(ids)
            if ids:
                self._finished.append((ids[0], digests[source], len(ids)))
            self.passed += 1

    def report(
        self, ingest: IngestReport, *, stale: int, pruned: int, started: float
    ) -> FilesReport:
        """What the run did: the files read here, *ingest*'s counts and the clean-up's."""
        return FilesReport(
            files=self.text_files,
            chunks=self.chunks,
            written=ingest.written,
            skipped=ingest.skipped + self.unchanged_chunks,
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
        self.unchanged_chunks = 0
        self.group: list[Document] = []
        """The chunks being stored now (handed to ``QdrantIndex.ingest`` as one group)."""

    def read_ahead(self, reader: ChunkReader, *, pending: bool) -> None:
        """*reader* moves to its next window: count the files found stored whole, unchanged,
        as stored (and every file passed as done, when no chunk waits to be stored)."""
        new = reader.unchanged_chunks - self.unchanged_chunks
        if new or (not pending and reader.passed != self.files_done):
            self.stored += new
            self.unchanged_chunks = reader.unchanged_chunks
            self.chunks_read = max(self.chunks_read, reader.chunks)
            if not pending:
                self.files_done = reader.passed
            self.tell()

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

    def total(self, *more: IngestReport) -> IngestReport:
        """The reports of the groups stored (and *more*), over the run's wall time."""
        from dataclasses import replace

        summed = IngestReport()
        for report in (*self.reports, *more):
            summed = summed.plus(report)
        return replace(summed, seconds=time.perf_counter() - self.started)


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


class ChunkStage(Protocol):
    """Where the file pipeline has its chunks encoded and written: the one stage that differs
    between ingesting in this process (:class:`LocalStage`) and on a Ray cluster
    (:class:`t5_vectors.ray.RayStage`). Everything else (discovery, reading, chunking, the
    per-file records, stale chunks, pruning, the index build, progress, interruption) is
    :func:`ingest_files`, the same for both."""

    def group_size(self, batch_size: int) -> int:
        """Chunks handed to :meth:`store` at a time (progress is counted per group)."""
        ...

    def store(
        self, index: QdrantIndex, chunks: Sequence[Document], batch_size: int
    ) -> IngestReport:
        """Encode and write *chunks* into *index*'s collection, without building its index."""
        ...


class LocalStage:
    """Encode with the index's own encoder and write through :meth:`QdrantIndex.ingest`."""

    def group_size(self, batch_size: int) -> int:
        return batch_size * GROUP_BATCHES

    def store(
        self, index: QdrantIndex, chunks: Sequence[Document], batch_size: int
    ) -> IngestReport:
        return index.ingest(chunks, batch_size=batch_size, build_index=False)


def ingest_files(
    index: QdrantIndex,
    paths: Sequence[str | os.PathLike[str]] | Discovery,
    *,
    glob: Sequence[str] = (),
    exclude: Sequence[str] = (),
    chunking: ChunkSettings | None = None,
    prune: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    show_progress: bool = False,
    progress: ProgressCallback | None = None,
    stage: ChunkStage | None = None,
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
        batch_size: chunks per ingestion batch (looked up, encoded and written together).
        show_progress: show a progress bar over files, with chunks stored and read.
        progress: called with a :class:`Progress` as each group of chunks is stored and as
            each phase starts and advances.
        stage: where chunks are encoded and written (default :class:`LocalStage`: this
            process; ``t5_vectors.ray.RayStage()``: Ray actors).

    Raises:
        SourceFileError: a path is missing or unreadable (before anything is written).
        InvalidInputError: bad chunk sizes, or an embedding without a T5 tokenizer.
        IngestError: a batch could not be stored (stale chunks are then left alone).
        IngestInterrupted: Ctrl-C; says how many chunks are stored.
    """
    check_positive_int("batch_size", batch_size)
    chunker = index_chunker(index, chunking)
    found = paths if isinstance(paths, Discovery) else discover(paths, glob=glob, exclude=exclude)
    bar = _Bar(len(found.files)) if show_progress else None
    run = _Run(len(found.files), _both(progress, bar.show if bar is not None else None))
    records = FileRecords(index)
    reader = ChunkReader(
        found.files,
        chunker,
        lookup=records.lookup,
        signature=index.fingerprint,
        on_window=lambda: run.read_ahead(reader, pending=bool(run.group)),
    )
    stream = _Stream(index, reader, run, records, stage or LocalStage(), batch_size)
    stale = pruned = 0
    try:
        index.record_model_location(
            {"chunk_tokens": chunker.chunk_tokens, "chunk_overlap": chunker.chunk_overlap}
        )
        run.tell()
        stream.store(reader.documents())
        seen: set[str] = set()
        stale = _remove_stale(index, reader.expected, run, seen)
        incomplete = reader.incomplete(seen)
        if incomplete:  # recorded whole, yet a chunk is gone (deleted by id): store them again
            run.phase = "ingest"
            run.tell()
            stream.store(reader.documents(incomplete))
        if prune:
            run.phase = "prune"
            run.tell()
            pruned = _sync.prune_deleted(index.collection, found.covers)
        if run.total().written or stale or pruned:
            run.phase = "index"
            run.tell()
            index.build_index()
    except KeyboardInterrupt as interrupt:
        if isinstance(interrupt, IngestInterrupted):
            raise
        if run.phase == "ingest" and run.group:
            run.stored += _stored_now(index, run.group)
        raise IngestInterrupted(run.progress()) from interrupt
    finally:
        if bar is not None:
            bar.close()
    return reader.report(run.total(), stale=stale, pruned=pruned, started=run.started)


class _Stream:
    """Hands chunks to the stage a group at a time, then records the files stored whole."""

    def __init__(
        self,
        index: QdrantIndex,
        reader: ChunkReader,
        run: _Run,
        records: FileRecords,
        stage: ChunkStage,
        batch_size: int,
    ) -> None:
        self.index, self.reader, self.run, self.records = index, reader, run, records
        self.stage, self.batch_size = stage, batch_size
        self.group_size = stage.group_size(batch_size)

    def store(self, documents: Iterator[Document]) -> None:
        """Store *documents* in groups, recording the files whose chunks are all stored."""
        reader, run = self.reader, self.run
        while True:
            run.group = []
            for document in documents:
                run.group.append(document)
                if len(run.group) >= self.group_size:
                    break
            if not run.group:
                self.records.record(reader.take_finished())
                run.files_done = reader.passed
                return
            passed, read = reader.passed, reader.chunks
            finished = reader.take_finished()  # every chunk of these is in this group or before
            try:
                report = self.stage.store(self.index, run.group, self.batch_size)
            except IngestError as error:
                raise _shifted(error, run, run.group) from error
            self.records.record(finished)
            run.stored_group(report, passed, read)


def index_chunker(index: QdrantIndex, chunking: ChunkSettings | None) -> TokenChunker:
    """The chunker of *index*'s model (its tokenizer measures the chunks).

    Raises:
        InvalidInputError: the index is not over a ``T5Encoder``, or bad chunk sizes.
    """
    encoder = index.embedder.encoder
    if encoder is None:
        raise InvalidInputError(
            f"index: expected a QdrantIndex over a T5Encoder (its tokenizer measures chunks), "
            f"found one over {index.embedder.name}. Build the index from "
            "T5Encoder.from_pretrained(...)."
        )
    return TokenChunker(encoder, chunking)


class FileRecords:
    """The per-file records on chunk 0 of *index*'s collection: ``lookup`` (for
    :class:`ChunkReader`) and ``record`` (once the files' chunks are stored), through the
    index's collection (retried)."""

    def __init__(self, index: QdrantIndex) -> None:
        self.collection = index.collection

    def lookup(self, files: Sequence[tuple[str, str, str]]) -> Mapping[str, int]:
        return _sync.stored_files(self.collection, files)

    def record(self, files: Sequence[tuple[str, str, int]]) -> None:
        _sync.record_files(self.collection, files)


def _remove_stale(
    index: QdrantIndex, expected: dict[str, set[str]], run: _Run, seen: set[str]
) -> int:
    run.phase, run.sources = "stale", len(expected)
    run.tell()

    def advance(done: int, total: int | None) -> None:
        # The scan reports sources checked (or, in a local-mode folder, points scanned).
        if total:
            run.sources_checked = done * run.sources // total
        run.tell()

    removed = _sync.remove_stale(index.collection, expected, progress=advance, seen=seen)
    run.sources_checked = run.sources
    run.tell()
    return removed


def _shifted(error: IngestError, run: _Run, group: Sequence[Document]) -> IngestError:
    """*error* of one group's ingest, restated for the whole run (chunk numbers, files, counts)."""
    from dataclasses import replace

    offset = run.chunks_read
    failure = replace(
        error.failure, first=error.failure.first + offset, last=error.failure.last + offset
    )
    first = group[min(error.failure.first, len(group) - 1)].metadata.get("source", "?")
    report = run.total(error.report)
    cause = str(failure.error).rstrip(".")  # a sentence of its own, without a doubled period
    return IngestError(
        f"Ingestion stopped at chunks {failure.first}..{failure.last} (from {first}) while "
        f"{failure.stage}: {cause}. {report.written + report.skipped} chunks are stored "
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
