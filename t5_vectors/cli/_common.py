"""What the commands share: model and Qdrant options, opening them, and one-line errors.

A user error prints ``t5-vectors: error: <one line>`` and exits with status 2; anything else
prints ``t5-vectors: unexpected error: ...`` and exits with 1. ``--debug`` prints the traceback
instead. API keys read with ``--api-key-env`` are masked in everything printed.

Errors are classified by the operation that failed, not by what their cause chain holds:
loading the model goes through :func:`load_encoder` (model errors, restated with ``--model DIR``,
``--offline`` and ``--demo-model DIR``), talking to Qdrant through :func:`qdrant_step` (a server
that cannot be reached). :func:`open_collection` opens the store, the model and the collection
for the commands that need all three, in the order that says every mistake before anything is
created. Nothing heavy is imported at module level: ``--help``, ``info`` and
``delete`` load no model code.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from t5_vectors.errors import (
    CollectionConfigError,
    IngestError,
    InvalidInputError,
    ModelLoadError,
    ModelMismatchError,
    ModelNotFoundError,
    StorageLockedError,
    StorageTimeoutError,
    StorageUnavailableError,
    T5VectorsError,
    stopping_error,
)

if TYPE_CHECKING:
    from t5_vectors.encoder.core import T5Encoder
    from t5_vectors.index.collection import Collection
    from t5_vectors.index.index import QdrantIndex
    from t5_vectors.plan.collection import CollectionSpec
    from t5_vectors.plan.layout import CollectionLayout
    from t5_vectors.storage.base import Schema
    from t5_vectors.storage.open import Storage


DEFAULT_MODEL = "sentence-transformers/sentence-t5-base"

DEFAULT_PATH = "./t5_vectors_data"
"""Embedded Qdrant's default folder (the library's ``DEFAULT_PATH``, without importing it)."""

_DEMO_HINT = "or try the tool with --demo-model DIR (a tiny random-weight model, built offline)"


class CommandError(T5VectorsError):
    """A user error restated in the command line's words (flags and commands): exit status 2."""


_SECRETS: set[str] = set()
"""Values never to print (API keys read from the environment)."""


def add_model_options(
    parser: argparse.ArgumentParser,
    *,
    recorded: bool,
    device: str = "auto",
    dtype_help: str = "auto, float32, bfloat16, float16, int8",
) -> None:
    """``--model`` (by default the collection's *recorded* one, else :data:`DEFAULT_MODEL`),
    ``--device`` (default *device*), ``--dtype``, ``--offline`` and ``--demo-model``."""
    default = "default: the collection's recorded model, else " if recorded else "default "
    parser.add_argument(
        "--model", metavar="ID_OR_PATH", help=f"hub id or local folder ({default}{DEFAULT_MODEL})"
    )
    parser.add_argument(
        "--device", default=device, help=f"auto, cpu, cuda, cuda:N, mps (default {device})"
    )
    parser.add_argument("--dtype", default="auto", help=dtype_help)
    parser.add_argument(
        "--offline", action="store_true", help="never touch the network (local_files_only)"
    )
    parser.add_argument(
        "--demo-model",
        metavar="DIR",
        help="build a tiny random-weight T5 checkpoint in DIR (if absent) and use it; for trying "
        "the tool offline (vectors carry no meaning)",
    )


def add_qdrant_options(parser: argparse.ArgumentParser) -> None:
    """``--qdrant-path DIR`` or ``--qdrant-url URL`` (with ``--api-key-env VAR``)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--qdrant-path",
        metavar="DIR",
        help=f"embedded Qdrant storage folder (default {DEFAULT_PATH}; no server needed)",
    )
    where.add_argument("--qdrant-url", metavar="URL", help="a Qdrant server, http(s)://host:6333")
    parser.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="environment variable holding the server's API key (never printed)",
    )


def _model_name(args: argparse.Namespace, recorded: str | None) -> str:
    if getattr(args, "demo_model", None):
        from t5_vectors.testing import build_demo_checkpoint

        demo = Path(args.demo_model).expanduser().absolute()
        if not (demo / "modules.json").is_file():
            build_demo_checkpoint(demo)
        return str(demo)
    model: str = args.model or recorded or DEFAULT_MODEL
    local = Path(model).expanduser()
    # A local folder is recorded by its absolute path, so later runs find it from anywhere.
    return str(local.absolute()) if local.is_dir() else model


def load_encoder(args: argparse.Namespace, recorded: str | None = None) -> T5Encoder:
    """The encoder the options ask for; without ``--model``, the *recorded* one or the default.

    Raises:
        CommandError: the model cannot be found or loaded; the message names the CLI fixes.
    """
    name = _model_name(args, recorded)
    try:
        from t5_vectors.encoder.core import T5Encoder

        return T5Encoder.from_pretrained(
            name,
            device=args.device,
            dtype=args.dtype,
            local_files_only=True if args.offline else None,
        )
    except (KeyboardInterrupt, InvalidInputError):
        raise
    except Exception as error:
        raise CommandError(_model_message(name, args, error)) from error


def _innermost(error: BaseException) -> BaseException:
    seen = {id(error)}
    while error.__cause__ is not None and id(error.__cause__) not in seen:
        error = error.__cause__
        seen.add(id(error))
    return error


def _model_message(name: str, args: argparse.Namespace, error: BaseException) -> str:
    """*error* from loading model *name*, with the fixes a command-line user has."""
    flag = "--demo-model" if getattr(args, "demo_model", None) else "--model"
    if not isinstance(error, ModelNotFoundError):
        what = (
            one_line(error)
            if isinstance(error, ModelLoadError)
            else (f"{type(error).__name__}: {one_line(error)}")
        )
        return (
            f"{flag}: expected a T5 checkpoint that loads, found {name!r} failing: {what} "
            f"To fix, pass another --model DIR, {_DEMO_HINT}."
        )
    path = Path(name).expanduser()
    offline = args.offline or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    # A path, never a hub id ("org/name"): the fixes are the path's, not the hub's.
    written_as_path = name.startswith((".", "~")) or "\\" in name or name.count("/") > 1
    if path.is_file() or path.is_absolute() or written_as_path:
        if path.is_file():
            found = f"{name!r} is a file, not a checkpoint folder"
            fix = f"the folder that holds it (--model {path.parent})"
        else:
            found = f"no folder at {name!r}"
            fix = "the path of a folder that exists" + (
                "" if path.is_absolute() else f" (a relative path starts at {Path.cwd()})"
            )
        return (
            f"{flag}: expected a model folder on this machine, found {found}. To fix, pass "
            f"--model DIR with {fix}: a checkpoint folder saved by transformers or "
            f"sentence-transformers (config.json and the weights inside), {_DEMO_HINT}."
        )
    if offline:
        found = (
            f"neither a folder {name!r} in {Path.cwd()} nor the hub id {name!r} in the local "
            "Hugging Face cache, and --offline (or HF_HUB_OFFLINE=1) forbids downloading it"
        )
    else:
        cause = _innermost(error)
        found = (
            f"no folder {name!r} in {Path.cwd()}, and the Hugging Face hub could not provide it "
            f"({one_line(cause)})"
        )
    cache = (
        "download it once where the hub is reachable (run without --offline and HF_HUB_OFFLINE, or "
        f"`hf download {name}`)"
        if offline
        else "add --offline to use only the local cache once the model is cached"
    )
    return (
        f"{flag}: expected a model folder on this machine or a Hugging Face hub id that can be "
        f"fetched, found {found}. To fix, pass --model DIR (a checkpoint folder saved by "
        f"transformers or sentence-transformers), {cache}, {_DEMO_HINT}."
    )


def mismatch_message(error: ModelMismatchError, collection: str) -> str:
    """A :class:`ModelMismatchError` in the command line's words."""
    return (
        f"--model: expected the model recorded with collection {collection!r} "
        f"({error.recorded}), found {error.given}, another embedding model. To fix, drop "
        f"--model (the recorded model is used), ingest into another --collection, or remove "
        f"this one first (t5-vectors delete --collection {collection})."
    )


@dataclass
class Target:
    """Open storage and how to name it in messages.

    Attributes:
        storage: the storage (from :func:`~t5_vectors.storage.open.open_storage`).
        where: ``"embedded Qdrant at PATH"`` or ``"Qdrant at URL"``.
    """

    storage: Storage
    where: str

    def collection(self, name: str) -> Collection:
        """Collection *name* here, for calls that need no model."""
        from t5_vectors.index.collection import Collection

        return Collection(self.storage, name)

    def collection_names(self) -> list[str]:
        """The names of the collections stored here, sorted."""
        return sorted(self.storage.backend.list_collections())

    def collection_info(self, name: str) -> Schema:
        """The collection's schema, or :class:`CollectionConfigError` naming those that exist."""
        schema = self.collection(name).describe()
        if schema is None:
            names = self.collection_names()
            found = f"only {', '.join(map(repr, names))}" if names else "no collections"
            raise CollectionConfigError(
                f"Expected a collection {name!r} in {self.where}, found {found}. Check "
                "--collection and --qdrant-path / --qdrant-url, or create it with "
                "t5-vectors ingest."
            )
        return schema

    def layout(self, name: str) -> CollectionLayout | None:
        """The vectors collection *name* stores (``None`` if it does not exist)."""
        from t5_vectors.plan.layout import collection_layout

        schema = self.collection(name).describe()
        return None if schema is None else collection_layout(schema, name)

    def close(self) -> None:
        self.storage.close()


def open_index(
    args: argparse.Namespace,
    encoder: T5Encoder,
    target: Target,
    spec: CollectionSpec,
    *,
    create_if_missing: bool,
) -> QdrantIndex:
    """The ``QdrantIndex`` of ``--collection`` on *target*'s storage (which the command closes);
    another model is refused in the command line's words (:func:`mismatch_message`)."""
    from t5_vectors.index.index import QdrantIndex

    try:
        return QdrantIndex(
            encoder,
            collection_name=args.collection,
            storage=target.storage,
            spec=spec,
            create_if_missing=create_if_missing,
        )
    except ModelMismatchError as error:
        raise CommandError(mismatch_message(error, args.collection)) from error


@dataclass
class Opened:
    """A collection a command opened: the store, the encoder and the index."""

    target: Target
    encoder: T5Encoder
    index: QdrantIndex


@contextlib.contextmanager
def open_collection(
    args: argparse.Namespace,
    *,
    read_only: bool = False,
    loaded: Callable[[T5Encoder], object] | None = None,
    announce: bool = False,
) -> Iterator[Opened]:
    """Open the store, load the model and open ``--collection`` (``ingest``, ``serve``, ``mcp``);
    close all three after.

    Every mistake is said before anything is created: an existing store is opened and the
    collection's layout and model record read (the layout flags are checked against them,
    :func:`~t5_vectors.cli._layout.ingest_options`), the model loads (the recorded one unless
    ``--model`` is given), *loaded* checks it against the other flags, and only then is a new
    embedded store folder made and the collection opened: created, with the layout flags'
    vectors, unless *read_only*, which needs it to exist. *announce* says on stderr that the
    model is loading.
    """
    from t5_vectors.cli._layout import check_layout_flags, ingest_options
    from t5_vectors.plan.layout import collection_layout
    from t5_vectors.plan.model_record import read_record

    check_layout_flags(args)
    store = embedded_path(args)
    # A storage folder that does not exist yet is created only once the model has loaded.
    target: Target | None = None
    if read_only or store is None or store.exists():
        target = open_target(args, must_exist=read_only)
    encoder: T5Encoder | None = None
    try:
        schema = None
        if target is not None:
            with qdrant_step(target.where):
                if read_only:  # the collection must exist: the error names those there
                    schema = target.collection_info(args.collection)
                else:
                    schema = target.collection(args.collection).describe()
        layout = None if schema is None else collection_layout(schema, args.collection)
        recorded = None if schema is None else read_record(schema)
        options = ingest_options(args, layout, args.collection)
        if announce:
            print("t5-vectors: loading the model ...", file=sys.stderr)
        encoder = load_encoder(args, recorded.model if recorded is not None else None)
        if loaded is not None:
            loaded(encoder)
        if target is None:
            target = open_target(args, must_exist=False)
        with qdrant_step(target.where):
            index = open_index(args, encoder, target, options, create_if_missing=not read_only)
        yield Opened(target, encoder, index)
    finally:
        if encoder is not None:
            encoder.close()
        if target is not None:
            target.close()


def embedded_path(args: argparse.Namespace) -> Path | None:
    """The embedded Qdrant folder the options name (``None`` with ``--qdrant-url``)."""
    if args.qdrant_url:
        return None
    return Path(args.qdrant_path or DEFAULT_PATH).expanduser()


def open_target(args: argparse.Namespace, *, must_exist: bool) -> Target:
    """Connect to the Qdrant the options name (embedded by default).

    Args:
        args: parsed options.
        must_exist: an embedded storage folder must exist already (search, info, delete).

    Raises:
        CommandError: the folder is missing (*must_exist*) or in use, or the server is down.
    """
    path = embedded_path(args)
    if path is None:
        where = f"Qdrant at {args.qdrant_url}"
    else:
        if args.api_key_env:
            raise InvalidInputError(
                "--api-key-env: expected together with --qdrant-url, found it with embedded "
                "Qdrant (which has no API key). Add --qdrant-url URL, or drop --api-key-env."
            )
        if must_exist and not path.is_dir():
            raise CollectionConfigError(
                f"Expected embedded Qdrant storage at {str(path)!r}, found no such folder. Run "
                "t5-vectors ingest first, or point --qdrant-path at the folder it used."
            )
        where = f"embedded Qdrant at {str(path)!r}"
    with qdrant_step(where):
        from t5_vectors.storage.open import open_storage

        try:
            if path is None:
                storage = open_storage(args.qdrant_url, api_key=api_key(args.api_key_env))
            else:
                storage = open_storage(path)
            storage.backend.list_collections()
        except StorageLockedError as error:
            raise CommandError(
                f"Expected {where} to be free, found it open in another process (embedded "
                "Qdrant allows one process at a time). Wait for it to finish, or run a "
                "Qdrant server (docker compose up -d) and use --qdrant-url."
            ) from error
    return Target(storage, where)


@contextlib.contextmanager
def qdrant_step(where: str) -> Iterator[None]:
    """Run a Qdrant operation; a server that cannot be reached becomes one :class:`CommandError`.

    Only the error the operation raised is looked at (not the causes of errors raised by other
    steps, such as a model download that failed on its own network error): a server error, or
    an ingest stopped by one (said with the chunks stored, which the same command resumes from).
    """
    try:
        yield
    except (StorageUnavailableError, StorageTimeoutError, IngestError) as error:
        lost = _server_error(error)
        if lost is None:
            raise
        url = where.removeprefix("Qdrant at ")
        found = f"Expected a Qdrant server at {url}, found {unreached(lost)}"
        if isinstance(error, IngestError):
            failure, report = error.failure, error.report
            raise CommandError(
                f"{found} while {failure.stage} chunks {failure.first}..{failure.last}, with "
                f"{report.written + report.skipped} chunks stored. Start it (docker compose up "
                "-d) or check --qdrant-url, then run the same command again: it resumes where it "
                "stopped."
            ) from error
        raise CommandError(
            f"{found}. Start it (docker compose up -d), check --qdrant-url, or use embedded "
            f"Qdrant (--qdrant-path DIR, or neither flag for {DEFAULT_PATH})."
        ) from error


def _server_error(
    error: BaseException,
) -> StorageUnavailableError | StorageTimeoutError | None:
    """The unreachable server behind *error*: itself, or what stopped an ingest."""
    error = stopping_error(error)
    return error if isinstance(error, StorageUnavailableError | StorageTimeoutError) else None


def unreached(error: StorageUnavailableError | StorageTimeoutError) -> str:
    """What was found of a server: ``"none reachable ([Errno 111] Connection refused)"``.

    The cause is what the client reported (a refused connection, a timeout), never the
    library's own message of the same fault: that one speaks Python (``storage=``), and the
    command line says the fixes in its own words.
    """
    found = "none reachable" if isinstance(error, StorageUnavailableError) else "no answer"
    cause = _innermost(error)
    return found + ("" if isinstance(cause, T5VectorsError) else f" ({one_line(cause)})")


def api_key(
    variable: str | None, *, flag: str = "--api-key-env", what: str = "the API key"
) -> str | None:
    """The key in environment variable *variable* (named with *flag*), kept from everything
    printed; ``None`` without a variable."""
    if not variable:
        return None
    value = os.environ.get(variable)
    if not value:
        raise InvalidInputError(
            f"{flag}: expected the environment variable {variable} to hold {what}, "
            f"found it {'empty' if value == '' else 'unset'}. Export {variable}=... first."
        )
    _SECRETS.add(value)
    return value


def display_path(source: str) -> str:
    """*source* relative to the current folder when it lies inside it."""
    try:
        return str(Path(source).relative_to(Path.cwd()))
    except ValueError:
        return source


def redact(text: str) -> str:
    """*text* with every secret read from the environment masked."""
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


def one_line(error: BaseException) -> str:
    """The error's message on one line (a multi-line message's lines joined into sentences)."""
    text = ""
    for line in (line.strip() for line in str(error).splitlines()):
        if line:
            text += line if not text else ("; " if text[-1] not in ".;:!?" else " ") + line
    return redact(text or type(error).__name__)


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print a warning as one line, ``t5-vectors: warning: ...`` (for ``warnings.showwarning``)."""
    text = " ".join(str(message).split())
    print(f"t5-vectors: warning: {redact(text)}", file=file or sys.stderr)


def report_error(error: BaseException, *, debug: bool) -> int:
    """Print *error* (one line, or the traceback with ``--debug``); returns the exit status."""
    if debug:
        text = "".join(traceback.format_exception(error))
        print(redact(text), file=sys.stderr, end="")
    if isinstance(error, T5VectorsError):
        if not debug:
            print(f"t5-vectors: error: {one_line(error)}", file=sys.stderr)
        return 2
    if not debug:
        print(
            f"t5-vectors: unexpected error: {type(error).__name__}: {one_line(error)} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
    return 1


Command = Callable[[argparse.Namespace], int]
