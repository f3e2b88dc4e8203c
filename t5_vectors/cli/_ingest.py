"""``t5-vectors ingest``: files and folders into a collection, as T5-token chunks.

Order of work, so that every mistake is reported before anything is written (or created on
disk): check the flags, find and check the files (none to read is an error, before a model
loads), connect to an existing store and read the collection's layout (an existing collection
keeps its token and sparse vectors; flags asking for vectors it lacks are refused:
:mod:`t5_vectors.cli._layout`) and model record, load the model (the recorded one unless
``--model`` is given), check the chunk size against the model, and only then create a new
embedded store folder and open (or create) the collection, which refuses another model than the
recorded one; then stream, with progress on terminals. Ctrl-C stops with one line saying how
many chunks are stored.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from t5_vectors.cli._common import (
    CommandError,
    add_model_options,
    add_qdrant_options,
    display_path,
    open_collection,
    qdrant_step,
)
from t5_vectors.cli._layout import add_layout_options, check_layout_flags, describe_layout
from t5_vectors.errors import CollectionConfigError, InvalidInputError
from t5_vectors.files.discover import Discovery, discover
from t5_vectors.files.read import read_file
from t5_vectors.plan.run import DEFAULT_BATCH_SIZE

if TYPE_CHECKING:
    from t5_vectors.encoder.core import T5Encoder
    from t5_vectors.files.chunking import ChunkSettings
    from t5_vectors.files.ingest import ChunkStage, FilesReport
    from t5_vectors.index.identity import ModelIdentity
    from t5_vectors.plan.layout import CollectionLayout

DEFAULT_CHUNK_TOKENS = 256
"""The library's default chunk size (:data:`t5_vectors.files.chunking.DEFAULT_CHUNK_TOKENS`)."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``ingest``."""
    ingest = commands.add_parser(
        "ingest",
        help="read files and folders into a collection (re-running writes only what changed)",
        description="Read text files (.txt, .md, .rst, .html, source code, ...) from files and "
        "folders, split them into chunks measured in the model's tokens, and store them in a "
        "Qdrant collection. Binary files are skipped and counted. Re-running writes only what "
        "changed; a changed file's old chunks are replaced.",
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files and folders")
    ingest.add_argument("--collection", required=True, metavar="NAME", help="collection name")
    add_model_options(ingest, recorded=True)
    add_qdrant_options(ingest)
    ingest.add_argument(
        "--glob",
        action="append",
        default=[],
        metavar="PATTERN",
        help="only files (in folders) matching this pattern, e.g. '*.md'; repeatable",
    )
    ingest.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="leave out files (in folders) matching this pattern; repeatable",
    )
    ingest.add_argument(
        "--chunk-tokens",
        type=int,
        metavar="N",
        help=f"most tokens per chunk (default {DEFAULT_CHUNK_TOKENS}, at most the model's limit)",
    )
    ingest.add_argument(
        "--chunk-overlap", type=int, metavar="N", help="tokens shared by neighbouring chunks"
    )
    ingest.add_argument(
        "--prune",
        action="store_true",
        help="also remove chunks of files that no longer exist in the folders given",
    )
    add_layout_options(ingest)
    ingest.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"chunks looked up, encoded and written together (default {DEFAULT_BATCH_SIZE})",
    )
    ingest.add_argument("--json", action="store_true", help="print the summary as JSON")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar (shown on terminals)")
    ingest.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="encode on a Ray cluster: ADDRESS (ray://head:10001 or head:6379); without one, "
        'RAY_ADDRESS, else a local Ray (needs pip install "t5-vectors[ray]")',
    )
    ingest.add_argument(
        "--ray-actors",
        type=int,
        default=None,
        metavar="N",
        help="encoder actors with --ray (default: Ray sizes the pool)",
    )
    ingest.set_defaults(run=run)


def _check_ray(args: argparse.Namespace) -> None:
    """``--ray`` and ``--ray-actors`` are usable: Ray is installed and the count is positive."""
    if args.ray_actors is not None and args.ray is None:
        raise CommandError("--ray-actors: expected together with --ray, found it alone. Add --ray.")
    if args.ray_actors is not None and args.ray_actors < 1:
        raise CommandError(
            f"--ray-actors: expected a positive number of actors, found {args.ray_actors}."
        )
    if args.ray is None:
        return
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise CommandError(
            "--ray: expected Ray to be installed, found none. Install it with "
            'pip install "t5-vectors[ray]", or drop --ray to encode in this process.'
        )


def _ray_address(args: argparse.Namespace) -> str:
    """The cluster to join: ``--ray ADDRESS``, else ``RAY_ADDRESS``, else a new local Ray."""
    import os

    # "local" starts a local cluster; None would attach to any cluster already on this machine.
    return str(args.ray or os.environ.get("RAY_ADDRESS") or "local")


def _flag_words(error: InvalidInputError) -> CommandError:
    """A chunk-size error in flag words (``--chunk-tokens``, not ``chunk_tokens``)."""
    text = str(error).replace("chunk_tokens", "--chunk-tokens")
    return CommandError(text.replace("chunk_overlap", "--chunk-overlap"))


def _chunk_settings(args: argparse.Namespace) -> ChunkSettings:
    from t5_vectors.files.chunking import ChunkSettings

    try:
        return ChunkSettings(args.chunk_tokens, args.chunk_overlap)
    except InvalidInputError as error:
        raise _flag_words(error) from error


def _searched(args: argparse.Namespace) -> str:
    """What ``discover`` looked through, in flag words."""
    text = ", ".join(repr(path) for path in args.paths)
    if args.glob:
        text += " matching --glob " + " or ".join(repr(g) for g in args.glob)
    if args.exclude:
        text += " leaving out --exclude " + ", ".join(repr(e) for e in args.exclude)
    return text


def require_text(found: Discovery, args: argparse.Namespace) -> None:
    """Raise :class:`CommandError` unless some file found has text to ingest.

    Reads files in order up to the first with text (usually the first one), so an empty folder,
    a ``--glob`` that matches nothing or a folder of binary files is refused before a model
    loads or a collection is created.
    """
    if not found.files:
        raise CommandError(
            f"ingest: expected files to read in {_searched(args)}, found none. Check the paths "
            "and patterns (--glob '*.md' matches at any depth, 'notes/*.md' only in notes/; "
            "hidden files and folders are never walked)."
        )
    binary = empty = unreadable = 0
    for path in found.files:
        try:
            content = read_file(path)
        except OSError:
            unreadable += 1
            continue
        if content.binary:
            binary += 1
        elif not content.text.strip():
            empty += 1
        else:
            return
    counts = ", ".join(
        f"{count} {what}"
        for count, what in ((binary, "binary"), (empty, "empty"), (unreadable, "unreadable"))
        if count
    )
    raise CommandError(
        f"ingest: expected text files in {_searched(args)}, found {len(found.files)} "
        f"file{'s' if len(found.files) != 1 else ''} with no text ({counts}). Point it at "
        "text files (.txt, .md, .html, source code, ...), or widen --glob. (Binary means a "
        "NUL byte or control bytes in the first 8 KiB; text in Latin-1 or another encoding is "
        "read, with the bytes that are not UTF-8 replaced by U+FFFD.)"
    )


def _model_note(identity: ModelIdentity, collection: str) -> str | None:
    """What the model given means for the chunks stored, when it is not simply the recorded one."""
    model = identity.model
    if identity.reencodes:
        recorded = identity.recognised or model
        return (
            f"--model {model} embeds like the model collection {collection!r} records "
            f"({recorded}: their vectors of probe texts agree) but is not the same checkpoint "
            "files (a re-saved copy, another format or settings): stored chunks are encoded "
            "again with it and rewritten, and the collection now records it"
        )
    if identity.recognised is not None:
        return (
            f"--model {model} is the model collection {collection!r} records as "
            f"{identity.recognised} (the same checkpoint in another place): stored chunks are "
            "kept, and the collection now records this place"
        )
    return None


def _sizes(encoder: T5Encoder, settings: ChunkSettings) -> ChunkSizes:
    """The chunk size and overlap *settings* come to for *encoder* (errors in flag words)."""
    from t5_vectors.files.chunking import TokenChunker

    try:
        chunker = TokenChunker(encoder, settings)
    except InvalidInputError as error:
        raise _flag_words(error) from error
    return ChunkSizes(chunker.chunk_tokens, chunker.chunk_overlap, encoder.max_length)


def run(args: argparse.Namespace) -> int:
    """Ingest; returns the exit status."""
    check_layout_flags(args)
    _check_ray(args)
    settings = _chunk_settings(args)
    found = discover(args.paths, glob=args.glob, exclude=args.exclude)
    require_text(found, args)
    show = sys.stderr.isatty() and not args.quiet and not args.json
    # The chunk sizes are checked against the model before a store or collection is created.
    check = partial(_sizes, settings=settings)
    with open_collection(args, loaded=check, announce=show) as opened:
        target, encoder, index = opened.target, opened.encoder, opened.index
        sizes = _sizes(encoder, settings)
        with qdrant_step(target.where):
            from t5_vectors.files.ingest import ingest_files

            note = _model_note(index.identity, args.collection)
            if note is not None and not args.quiet:
                print(f"t5-vectors: note: {note}", file=sys.stderr)
            layout = target.layout(args.collection)
            with _stage(args) as stage:
                report = ingest_files(
                    index,
                    found,
                    chunking=settings,
                    prune=args.prune,
                    batch_size=args.batch_size,
                    show_progress=show,
                    stage=stage,
                )
    model = encoder.name_or_path
    if layout is None:  # the index created it: only another process can have removed it
        raise CollectionConfigError(
            f"Expected collection {args.collection!r} after the ingest, found none: another "
            "process removed it. Run the same ingest again."
        )
    if args.json:
        print(json.dumps(_as_json(report, args.collection, model, layout, sizes), indent=2))
    else:
        _print_summary(report, args.collection, target.where, model, describe_layout(layout), sizes)
    return 1 if report.unreadable or report.failed else 0


@contextlib.contextmanager
def _stage(args: argparse.Namespace) -> Iterator[ChunkStage | None]:
    """Where chunks are encoded and written: this process, or Ray actors with ``--ray`` (the
    one part of the file pipeline that differs; same chunks, ids, records and resume)."""
    if args.ray is None:
        yield None
        return
    import ray

    from t5_vectors.ray import RayStage

    ray.init(address=_ray_address(args), log_to_driver=False)
    try:
        yield RayStage(concurrency=args.ray_actors)
    finally:
        ray.shutdown()


@dataclass(frozen=True)
class ChunkSizes:
    """The chunk size and overlap an ingest used, in tokens, and the model's ``max_length``."""

    tokens: int
    overlap: int
    max_length: int

    def describe(self) -> str:
        """``"up to 64 tokens each: the model's max length"``, or ``"up to 256 tokens each"``."""
        capped = ": the model's max length" if self.tokens == self.max_length else ""
        return f"up to {self.tokens} tokens each{capped}"


def _as_json(
    report: FilesReport,
    collection: str,
    model: str,
    layout: CollectionLayout,
    sizes: ChunkSizes,
) -> dict[str, object]:
    return {
        "collection": collection,
        "model": model,
        "vectors": describe_layout(layout),
        "modes": list(layout.modes),
        "files": report.files,
        "chunks": report.chunks,
        "chunk_tokens": sizes.tokens,
        "chunk_overlap": sizes.overlap,
        "max_length": sizes.max_length,
        "written": report.written,
        "skipped": report.skipped,
        "failed": report.failed,
        "binary_skipped": list(report.binary),
        "unreadable": list(report.unreadable),
        "lossy": list(report.lossy),
        "stale_removed": report.stale_removed,
        "pruned": report.pruned,
        "seconds": round(report.seconds, 3),
        "chunks_per_second": round(report.chunks_per_second, 2),
    }


def _print_summary(
    report: FilesReport, collection: str, where: str, model: str, vectors: str, sizes: ChunkSizes
) -> None:
    for path in report.unreadable:
        print(f"t5-vectors: warning: could not read {display_path(path)}", file=sys.stderr)
    for path in report.lossy:
        print(
            f"t5-vectors: warning: {display_path(path)} is not valid UTF-8; invalid bytes became "
            "U+FFFD. To keep those characters, convert it to UTF-8 (for Latin-1 or Windows-1252: "
            "iconv -f cp1252 -t utf-8) and ingest again",
            file=sys.stderr,
        )
    rows = [
        ("vectors", vectors),
        ("written", f"{report.written} chunks"),
        ("unchanged, skipped", f"{report.skipped} chunks"),
        ("failed", f"{report.failed} chunks"),
        ("binary files skipped", str(len(report.binary))),
        ("stale chunks removed", str(report.stale_removed)),
    ]
    if report.pruned:
        rows.append(("deleted files' chunks", f"{report.pruned} removed"))
    if report.unreadable:
        rows.append(("unreadable files", str(len(report.unreadable))))
    rows.append(("time", f"{report.seconds:.2f} s ({report.chunks_per_second:.1f} chunks/s)"))
    print(
        f"Ingested {report.files} files ({report.chunks} chunks, {sizes.describe()}) into "
        f"{collection!r} ({where}) with {model}"
    )
    width = max(len(name) for name, _ in rows) + 1
    for name, value in rows:
        print(f"  {name + ':':<{width}} {value}")
