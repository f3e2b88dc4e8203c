"""``t5-vectors delete``: a whole collection, or the chunks of some files.

Dropping a whole collection asks first on a terminal; scripts (no terminal on stdin) pass
``--yes``, and without it nothing is deleted. Answering no (or Ctrl-D) keeps the collection and
exits with status 0: declining is a choice, not an error.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import closing
from pathlib import Path

from t5_vectors.cli._common import (
    CommandError,
    add_qdrant_options,
    display_path,
    open_target,
    qdrant_step,
)
from t5_vectors.errors import InvalidInputError


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``delete``."""
    delete = commands.add_parser(
        "delete",
        help="delete a collection (asks first; --yes in scripts), or the chunks of some files",
    )
    delete.add_argument("--collection", required=True, metavar="NAME", help="collection name")
    delete.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="PATH",
        help="only the chunks of this file, or of the files under this folder; repeatable",
    )
    delete.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="delete a whole collection without asking (for scripts)",
    )
    add_qdrant_options(delete)
    delete.set_defaults(run=run)


def _selected(source: str, wanted: list[tuple[str, Path]]) -> bool:
    path = Path(source)
    return any(
        source == given or path == absolute or path.is_relative_to(absolute)
        for given, absolute in wanted
    )


def _confirmed(args: argparse.Namespace, points: int, where: str) -> bool:
    """Whether dropping the collection may go ahead: ``--yes``, or a "y" typed on a terminal."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise CommandError(
            f"delete --collection {args.collection}: expected --yes to delete the whole "
            f"collection ({points} points) without a terminal to ask on, found no --yes. Add "
            "--yes, or --source PATH to delete only some files' chunks."
        )
    question = f"Delete collection {args.collection!r} ({points} points) from {where}? [y/N] "
    try:
        answer = input(question)
    except EOFError:  # Ctrl-D: no answer, so no
        print()
        return False
    return answer.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    """Delete; returns the exit status."""
    with closing(open_target(args, must_exist=True)) as target, qdrant_step(target.where):
        target.collection_info(args.collection)
        collection = target.collection(args.collection)
        if not args.source:
            points = collection.count()
            if not _confirmed(args, points, target.where):
                print(f"Kept collection {args.collection!r}: nothing deleted.")
                return 0
            collection.drop()
            print(f"Deleted collection {args.collection!r} ({points} points) from {target.where}.")
            return 0
        from t5_vectors.files._sync import chunk_sources

        wanted = [(given, Path(given).expanduser().absolute()) for given in args.source]
        doomed = [
            point
            for point, source in chunk_sources(collection)
            if source is not None and _selected(source, wanted)
        ]
        if not doomed:
            shown = ", ".join(repr(given) for given in args.source)
            raise InvalidInputError(
                f"--source: expected chunks of {shown} in collection {args.collection!r}, "
                "found none. Sources are stored as absolute paths: check the path "
                "(t5-vectors search --json shows them), or the collection."
            )
        collection.delete(doomed)
    sources = ", ".join(display_path(str(absolute)) for _, absolute in wanted)
    print(f"Deleted {len(doomed)} chunks of {sources} from {args.collection!r}.")
    return 0
