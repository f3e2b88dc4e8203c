"""What the commands share: model and Qdrant options, opening them, and one-line errors.

A user error prints ``t5-vectors: error: <one line>`` and exits with status 2; anything else
prints ``t5-vectors: unexpected error: ...`` and exits with 1. ``--debug`` prints the traceback
instead. API keys read with ``--api-key-env`` are masked in everything printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from t5_vectors.errors import CollectionConfigError, InvalidInputError, T5VectorsError

if TYPE_CHECKING:
    from qdrant_client import models

    from t5_vectors.encoder import T5Encoder
    from t5_vectors.qdrant.connection import Connection
    from t5_vectors.qdrant.layout import CollectionLayout
    from t5_vectors.qdrant.model_record import ModelRecord

__all__ = [
    "DEFAULT_MODEL",
    "Target",
    "add_model_options",
    "add_qdrant_options",
    "display_path",
    "load_encoder",
    "one_line",
    "open_target",
    "redact",
    "report_error",
    "show_warning",
]

DEFAULT_MODEL = "sentence-transformers/sentence-t5-base"

_SECRETS: set[str] = set()
"""Values never to print (API keys read from the environment)."""


def add_model_options(parser: argparse.ArgumentParser, *, default_note: str) -> None:
    """``--model``, ``--device``, ``--dtype``, ``--offline`` and ``--demo-model``."""
    parser.add_argument(
        "--model", metavar="ID_OR_PATH", help=f"hub id or local folder ({default_note})"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, mps")
    parser.add_argument("--dtype", default="auto", help="auto, float32, bfloat16, float16")
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
    from t5_vectors.qdrant.connection import DEFAULT_PATH

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
        from t5_vectors.testing import build_sentence_transformers_checkpoint

        demo = Path(args.demo_model).expanduser().absolute()
        if not (demo / "modules.json").is_file():
            build_sentence_transformers_checkpoint(demo)
        return str(demo)
    model: str = args.model or recorded or DEFAULT_MODEL
    local = Path(model).expanduser()
    # A local folder is recorded by its absolute path, so later runs find it from anywhere.
    return str(local.absolute()) if local.is_dir() else model


def load_encoder(args: argparse.Namespace, recorded: str | None = None) -> T5Encoder:
    """The encoder the options ask for; without ``--model``, the *recorded* one or the default."""
    from t5_vectors.encoder import T5Encoder

    return T5Encoder.from_pretrained(
        _model_name(args, recorded),
        device=args.device,
        dtype=args.dtype,
        local_files_only=True if args.offline else None,
    )


@dataclass
class Target:
    """An open Qdrant connection and how to name it in messages.

    Attributes:
        connection: the clients.
        where: ``"embedded Qdrant at PATH"`` or ``"Qdrant at URL"``.
        local: whether it is embedded Qdrant.
    """

    connection: Connection
    where: str
    local: bool

    def collection_info(self, name: str) -> models.CollectionInfo:
        """The collection's info, or :class:`CollectionConfigError` naming those that exist."""
        if not self.connection.collection_exists(name):
            names = sorted(c.name for c in self.connection.client.get_collections().collections)
            found = f"only {', '.join(map(repr, names))}" if names else "no collections"
            raise CollectionConfigError(
                f"Expected a collection {name!r} in {self.where}, found {found}. Check "
                "--collection and --qdrant-path / --qdrant-url, or create it with "
                "t5-vectors ingest."
            )
        return self.connection.get_collection(name)

    def layout(self, name: str) -> CollectionLayout | None:
        """The vectors collection *name* stores (``None`` if it does not exist)."""
        from t5_vectors.qdrant.layout import collection_layout

        if not self.connection.collection_exists(name):
            return None
        return collection_layout(self.connection.get_collection(name), name)

    def record(self, name: str) -> ModelRecord | None:
        """The model recorded with collection *name* (``None`` if absent or no record)."""
        from t5_vectors.qdrant.model_record import read_record

        if not self.connection.collection_exists(name):
            return None
        return read_record(self.connection.get_collection(name))

    def close(self) -> None:
        self.connection.close()


def open_target(args: argparse.Namespace, *, must_exist: bool) -> Target:
    """Connect to the Qdrant the options name (embedded by default).

    Args:
        args: parsed options.
        must_exist: an embedded storage folder must exist already (search, info, delete).
    """
    from t5_vectors.qdrant.connection import DEFAULT_PATH, Connection

    options: dict[str, Any]
    if args.qdrant_url:
        options = {"url": args.qdrant_url, "api_key": _api_key(args.api_key_env)}
        where, local = f"Qdrant at {args.qdrant_url}", False
    else:
        if args.api_key_env:
            raise InvalidInputError(
                "--api-key-env: expected together with --qdrant-url, found it with embedded "
                "Qdrant (which has no API key). Add --qdrant-url URL, or drop --api-key-env."
            )
        path = Path(args.qdrant_path or DEFAULT_PATH).expanduser()
        if must_exist and not path.is_dir():
            raise CollectionConfigError(
                f"Expected embedded Qdrant storage at {str(path)!r}, found no such folder. Run "
                "t5-vectors ingest first, or point --qdrant-path at the folder it used."
            )
        options = {"path": str(path)}
        where, local = f"embedded Qdrant at {str(path)!r}", True
    try:
        connection = Connection(options=options)
        connection.collection_exists("t5-vectors-connection-check")
    except RuntimeError as error:
        if "already accessed by another instance" in str(error):
            raise InvalidInputError(
                f"Expected {where} to be free, found it open in another process (embedded "
                "Qdrant allows one process at a time). Wait for it to finish, or run a Qdrant "
                "server (docker compose up -d) and use --qdrant-url."
            ) from error
        raise
    return Target(connection, where, local)


def _api_key(variable: str | None) -> str | None:
    if not variable:
        return None
    value = os.environ.get(variable)
    if not value:
        raise InvalidInputError(
            f"--api-key-env: expected the environment variable {variable} to hold the API key, "
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
    """The error's message on one line (the lines of multi-line messages joined by ``; ``)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return redact("; ".join(lines) or type(error).__name__)


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


def _connection_problem(error: BaseException) -> str | None:
    """A one-line explanation when *error* says the Qdrant server could not be reached."""
    import httpx
    from qdrant_client.http.exceptions import ResponseHandlingException

    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, (httpx.TransportError, ResponseHandlingException, ConnectionError)):
            detail = one_line(cause.__cause__ or cause) if cause.__cause__ else one_line(cause)
            return (
                f"Expected a Qdrant server, found none reachable ({detail}). Start it "
                "(docker compose up -d), check --qdrant-url, or drop --qdrant-url to use "
                "embedded Qdrant."
            )
        cause = cause.__cause__ or cause.__context__
    return None


def report_error(error: BaseException, *, debug: bool) -> int:
    """Print *error* (one line, or the traceback with ``--debug``); returns the exit status."""
    if debug:
        text = "".join(traceback.format_exception(error))
        print(redact(text), file=sys.stderr, end="")
    connection = _connection_problem(error)
    if isinstance(error, T5VectorsError) or connection is not None:
        if not debug:
            message = one_line(error) if connection is None else redact(connection)
            print(f"t5-vectors: error: {message}", file=sys.stderr)
        return 2
    if not debug:
        print(
            f"t5-vectors: unexpected error: {type(error).__name__}: {one_line(error)} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
    return 1


Command = Callable[[argparse.Namespace], int]
