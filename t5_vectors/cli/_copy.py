"""``t5-vectors copy``: move a collection between stores without re-encoding.

::

    t5-vectors copy --collection docs --to-url http://db:6333
    t5-vectors copy --collection docs --from-url http://db:6333 --to-path ./backup
    t5-vectors copy --collection docs --to-collection docs-v2

The source and the destination are each a folder (``--from-path`` / ``--to-path``: a folder
written by qdrant-client's local mode opens as it is, any other is Qdrant Edge) or a server
(``--from-url`` / ``--to-url``, with ``--from-api-key-env`` / ``--to-api-key-env``). The source
is ``./t5_vectors_data`` unless given, as in every command; without ``--to-path`` or
``--to-url`` the copy goes to ``--to-collection`` in the source's store. Ids,
payloads, every named vector and the model record are copied as stored, page by page; running
the same copy again is safe, and a different collection at the destination is refused before
anything is written. No model is loaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from t5_vectors.cli._common import DEFAULT_PATH, CommandError, api_key, unreached
from t5_vectors.errors import (
    CollectionConfigError,
    InvalidInputError,
    StorageTimeoutError,
    StorageUnavailableError,
)

if TYPE_CHECKING:
    from t5_vectors.storage.open import Storage


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``copy``."""
    copy = commands.add_parser(
        "copy", help="copy a collection to another folder or server (no re-encoding)"
    )
    copy.add_argument("--collection", required=True, metavar="NAME", help="collection to copy")
    copy.add_argument(
        "--to-collection", metavar="NAME", help="its name at the destination (default: the same)"
    )
    source = copy.add_mutually_exclusive_group()
    source.add_argument(
        "--from-path", metavar="DIR", help=f"source storage folder (default {DEFAULT_PATH})"
    )
    source.add_argument("--from-url", metavar="URL", help="source Qdrant server")
    copy.add_argument(
        "--from-api-key-env", metavar="VAR", help="variable holding the source server's API key"
    )
    destination = copy.add_mutually_exclusive_group()
    destination.add_argument(
        "--to-path",
        metavar="DIR",
        help="destination storage folder (default: the source's store, with --to-collection)",
    )
    destination.add_argument("--to-url", metavar="URL", help="destination Qdrant server")
    copy.add_argument(
        "--to-api-key-env",
        metavar="VAR",
        help="variable holding the destination server's API key (never printed)",
    )
    copy.add_argument("--progress", action="store_true", help="show a progress bar")
    copy.set_defaults(run=run)


def _open(
    side: str, path: str | None, url: str | None, key_env: str | None, *, must_exist: bool
) -> tuple[Storage, str]:
    from t5_vectors.storage.open import open_storage

    if url:
        key = api_key(key_env, flag=f"--{side}-api-key-env")
        return open_storage(url, api_key=key), f"Qdrant at {url}"
    if key_env:
        raise InvalidInputError(
            f"--{side}-api-key-env: expected together with --{side}-url, found it with a "
            f"folder (which has no API key). Add --{side}-url URL, or drop --{side}-api-key-env."
        )
    if path is None:
        raise InvalidInputError(f"--{side}-path: expected a folder or --{side}-url, found neither.")
    folder = Path(path).expanduser()
    if must_exist and not folder.is_dir():
        raise CollectionConfigError(
            f"Expected a storage folder at {str(folder)!r}, found no such folder. Check "
            f"--{side}-path."
        )
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(
            f"--{side}-path: expected a folder, found a file at {str(folder)!r}."
        )
    return open_storage(folder), repr(str(folder))


def _unreachable(
    error: StorageUnavailableError | StorageTimeoutError, args: argparse.Namespace
) -> CommandError:
    """A server of the copy that cannot be reached, named by its flag."""
    urls = {"--from-url": args.from_url, "--to-url": args.to_url}
    flags = [flag for flag, url in urls.items() if url == error.location] or [
        flag for flag, url in urls.items() if url
    ]
    return CommandError(
        f"Expected a Qdrant server at {error.location}, found {unreached(error)}. Start it "
        f"(docker compose up -d), or check {' and '.join(flags)}."
    )


def run(args: argparse.Namespace) -> int:
    """Copy; returns the exit status."""
    try:
        return _copy(args)
    except (StorageUnavailableError, StorageTimeoutError) as error:
        raise _unreachable(error, args) from error


def _copy(args: argparse.Namespace) -> int:
    from t5_vectors.storage.copy import copy_collection

    from_path: str | None = args.from_path or (None if args.from_url else DEFAULT_PATH)
    if not (args.to_path or args.to_url or args.to_collection):
        raise InvalidInputError(
            "copy: expected a destination, found none. Add --to-path DIR or --to-url URL "
            "(another store), or --to-collection NAME (a copy inside the source's store)."
        )
    same_folder = not (args.to_path or args.to_url) or (
        from_path is not None
        and args.to_path is not None
        and Path(from_path).expanduser().resolve() == Path(args.to_path).expanduser().resolve()
    )
    if same_folder and (args.to_collection or args.collection) == args.collection:
        raise InvalidInputError(
            "--to-path: expected another folder or --to-collection, found the source "
            "collection itself."
        )
    source, source_name = _open(
        "from", from_path, args.from_url, args.from_api_key_env, must_exist=True
    )
    try:
        # One store opens once: a copy inside it reads and writes through one connection.
        destination, destination_name = (
            (source, source_name)
            if same_folder
            else _open("to", args.to_path, args.to_url, args.to_api_key_env, must_exist=False)
        )
        try:
            with _bar(args.progress) as progress:
                report = copy_collection(
                    source.backend,
                    args.collection,
                    destination.backend,
                    args.to_collection,
                    progress=progress,
                )
        finally:
            if destination is not source:
                destination.close()
    finally:
        source.close()
    target = args.to_collection or args.collection
    made = "created" if report.created else "existing"
    print(
        f"Copied {report.points} points of {args.collection!r} from {source_name} to "
        f"{destination_name} ({made} collection {target!r})."
    )
    return 0


class _bar:
    """A tqdm bar fed by ``progress(done, total)``, or no callback at all."""

    def __init__(self, show: bool) -> None:
        self._show = show
        self._bar: Any = None

    def __enter__(self) -> Any:
        if not self._show:
            return None
        from tqdm.auto import tqdm

        self._bar = tqdm(desc="copy", unit="point")

        def progress(done: int, total: int | None) -> None:
            if total is not None:
                self._bar.total = total
            self._bar.n = done
            self._bar.refresh()

        return progress

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
