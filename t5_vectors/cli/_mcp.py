"""``t5-vectors mcp``: a collection as MCP tools over stdio (search, store, delete, sources, info).

For agents in any language: an MCP client starts ``t5-vectors mcp --collection NAME`` and calls
its tools (:mod:`t5_vectors.serve.mcp_server`). The flags are ``serve``'s storage, model and
layout flags, and the limits that apply to tool calls (``--max-texts``, ``--max-chars``,
``--max-k``); ``--read-only`` leaves ``store`` and ``delete`` out. Standard output carries the
protocol, so everything the command says goes to standard error; the model loads before the
protocol starts, and errors are one line with exit status 2, as in every command.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from t5_vectors.cli._common import open_collection
from t5_vectors.cli._serve import (
    _LIMITS,
    add_served_options,
    in_flags,
    require_extra,
    server_config,
)

_TOOL_LIMITS = ("--max-texts", "--max-chars", "--max-k")
"""``serve``'s limits that apply to MCP tool calls (the others are about HTTP)."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``mcp``."""
    from t5_vectors.serve import config as defaults

    mcp = commands.add_parser(
        "mcp",
        help="serve a collection as MCP tools (search, store, delete, sources, info) over stdio, "
        "for agents",
    )
    add_served_options(mcp)
    for flag, default, text in _LIMITS:
        if flag in _TOOL_LIMITS:
            value = getattr(defaults, default)
            mcp.add_argument(flag, type=int, default=value, metavar="N", help=text.format(value))
    mcp.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve MCP over stdio until the client closes it; returns the exit status."""
    limits = {"max_texts": args.max_texts, "max_chars": args.max_chars, "max_k": args.max_k}
    from t5_vectors.serve import ServerConfig

    with in_flags():
        ServerConfig(**limits)  # every limit checked before the model loads
    require_extra("mcp_server")
    from t5_vectors.serve import Service, run_mcp

    # Nothing but the protocol may reach standard output: loading messages go to stderr.
    with (
        contextlib.redirect_stdout(sys.stderr),
        open_collection(args, read_only=args.read_only) as opened,
    ):
        service = Service(
            opened.encoder, opened.index, server_config(args, opened.encoder, **limits)
        )
        mode = "read-only" if args.read_only else "read-write"
        print(
            f"t5-vectors: MCP server on stdio for collection {args.collection!r} ({mode}, model "
            f"{service.model_name})",
            file=sys.stderr,
            flush=True,
        )
        with contextlib.redirect_stdout(sys.__stdout__):
            return run_mcp(service)
