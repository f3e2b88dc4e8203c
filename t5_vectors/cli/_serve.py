"""``t5-vectors serve``: one encoder and one collection over HTTP, for every process and client.

The server speaks OpenAI's embeddings API, text-embeddings-inference's ``/embed`` and its own
search and write routes (:mod:`t5_vectors.serve`). Order of work, so that every mistake is one
line and exit status 2 before the model loads or the port is served: check the flags and the
``serve`` extra, read the server key, bind the port, open the store (a folder open in another
process is refused here, as in every command) and read the collection's layout and model
record, load the model, open (or create) the collection, then serve until SIGTERM or Ctrl-C.

The server's own key is ``--server-key-env VAR``, not ``--api-key-env``: in every command
``--api-key-env`` already names the *Qdrant server's* key (with ``--qdrant-url``), and a server
in front of a Qdrant server may need both.

The store, the model and the collection are opened as ``ingest`` and ``mcp`` open them
(:func:`~t5_vectors.cli._common.open_collection`).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from t5_vectors.cli._common import (
    CommandError,
    Target,
    add_model_options,
    add_qdrant_options,
    api_key,
    open_collection,
    qdrant_step,
)
from t5_vectors.cli._info import describe
from t5_vectors.cli._layout import add_layout_options
from t5_vectors.errors import InvalidInputError

if TYPE_CHECKING:
    from t5_vectors import T5Encoder
    from t5_vectors.serve import ServerConfig


_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_LIMITS = (
    ("--max-concurrent", "DEFAULT_MAX_CONCURRENT", "requests admitted at once; one more gets 429 "
     "with Retry-After (default {})"),
    ("--max-texts", "DEFAULT_MAX_TEXTS", "texts or documents in one request (default {})"),
    ("--max-chars", "DEFAULT_MAX_CHARS", "characters in one text (default {})"),
    ("--max-body-bytes", "DEFAULT_MAX_BODY_BYTES", "bytes in one request body (default {})"),
    ("--max-k", "DEFAULT_MAX_K", "results one search may ask for (default {})"),
)  # fmt: skip


def add_served_options(parser: argparse.ArgumentParser) -> None:
    """What ``serve`` and ``mcp`` share: the collection, model, storage and layout flags."""
    parser.add_argument("--collection", required=True, metavar="NAME", help="collection name")
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="refuse writes; the collection must exist",
    )
    add_model_options(parser, recorded=True)
    add_qdrant_options(parser)
    add_layout_options(parser)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``serve``."""
    from t5_vectors.serve import config as defaults

    serve = commands.add_parser(
        "serve",
        help="serve embeddings (OpenAI and TEI APIs) and search of a collection over HTTP",
    )
    add_served_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                       "127.0.0.1; 0.0.0.0 for every interface)")  # fmt: skip
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any free)")
    serve.add_argument(
        "--server-key-env",
        metavar="VAR",
        help="environment variable holding the key clients must send as Authorization: Bearer "
        "KEY (never printed); --api-key-env stays the Qdrant server's key",
    )
    for flag, default, text in _LIMITS:
        value = getattr(defaults, default)
        serve.add_argument(flag, type=int, default=value, metavar="N", help=text.format(value))
    serve.add_argument(
        "--drain-seconds",
        type=float,
        default=defaults.DEFAULT_DRAIN_SECONDS,
        metavar="S",
        help="on SIGTERM, how long to wait for requests in flight (default "
        f"{defaults.DEFAULT_DRAIN_SECONDS:g})",
    )
    serve.add_argument(
        "--log-level",
        default="warning",
        choices=("critical", "error", "warning", "info", "debug"),
        help="uvicorn's log level (info adds an access log line per request)",
    )
    serve.set_defaults(run=run)


def require_extra(*modules: str) -> None:
    """Import *modules* of :mod:`t5_vectors.serve`, or fail with one line naming the extra."""
    import importlib

    for module in modules:
        try:
            importlib.import_module(f"t5_vectors.serve.{module}")
        except ImportError as error:
            raise CommandError(str(error)) from error


def server_config(args: argparse.Namespace, encoder: T5Encoder, **limits: Any) -> ServerConfig:
    """The :class:`ServerConfig` the flags ask for (errors name the flags)."""
    from t5_vectors.serve import ServerConfig
    from t5_vectors.serve.service import model_label

    with in_flags():
        return ServerConfig(
            read_only=args.read_only, model_name=model_label(encoder.name_or_path), **limits
        )


@contextlib.contextmanager
def in_flags() -> Iterator[None]:
    """Restate an :class:`InvalidInputError` about a parameter in flags: ``"max_texts: expected
    ..."`` as ``"--max-texts: expected ..."``."""
    try:
        yield
    except InvalidInputError as error:
        message = re.sub(
            r"^([a-z_]+):", lambda m: "--" + m.group(1).replace("_", "-") + ":", str(error)
        )
        raise InvalidInputError(message) from error


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or Ctrl-C; returns the exit status."""
    require_extra("app", "lifecycle")
    limits = {
        "max_concurrent": args.max_concurrent,
        "max_texts": args.max_texts,
        "max_chars": args.max_chars,
        "max_body_bytes": args.max_body_bytes,
        "max_k": args.max_k,
        "drain_seconds": args.drain_seconds,
        "api_key": api_key(args.server_key_env, flag="--server-key-env", what="the key"),
    }
    from t5_vectors.serve import ServerConfig, Service, bind, create_app
    from t5_vectors.serve import run as run_server
    from t5_vectors.serve.lifecycle import listen, url_of

    with in_flags():
        ServerConfig(**limits)  # every limit checked before the port and the model
        sock = bind(args.host, args.port)
    try:
        with open_collection(args, read_only=args.read_only) as opened:
            service = Service(
                opened.encoder,
                opened.index,
                server_config(args, opened.encoder, **limits),
                describe=partial(_describe, opened.target),
            )
            app = create_app(service)
            with in_flags():
                listen(sock)
            _announce(args, url_of(sock), service, limits["api_key"] is not None)
            status = run_server(app, service, sock, log_level=args.log_level)
    finally:
        sock.close()
    print("t5-vectors: stopped; the store is closed", file=sys.stderr, flush=True)
    return status


def _describe(target: Target, name: str, sample: int) -> dict[str, Any]:
    """What ``t5-vectors info`` says about collection *name* (``GET /collections/{name}``)."""
    with qdrant_step(target.where):
        return describe(target, name, sample)


def _announce(args: argparse.Namespace, url: str, service: Any, keyed: bool) -> None:
    mode = "read-only" if args.read_only else "read-write"
    print(
        f"t5-vectors: serving collection {args.collection!r} ({mode}, model "
        f"{service.model_name}) at {url}: OpenAI base_url {url}/v1, TEI {url}/embed, docs "
        f"{url}/docs",
        file=sys.stderr,
        flush=True,
    )
    if not keyed and args.host not in _LOOPBACK:
        print(
            f"t5-vectors: warning: serving on {args.host} without --server-key-env: anyone who "
            "can reach this port can read"
            + ("" if args.read_only else " and write")
            + " the collection",
            file=sys.stderr,
            flush=True,
        )
