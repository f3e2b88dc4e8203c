"""The ``t5-vectors`` command line (also ``python -m t5_vectors``).

Commands, one private module each: ``embed`` (texts to vectors, ``_embed``), ``ingest`` (files
and folders into a collection, ``_ingest``), ``search``, ``info``, ``delete``, ``copy`` (a
collection to another target), ``serve`` (HTTP: OpenAI and TEI embeddings, search, writes) and
``mcp`` (MCP tools over stdio), with ``_common`` (options, opening a store, error lines) and
``_layout`` (the vector and search-mode flags against a collection's layout). The API is
:func:`main`.
Errors a user can cause print one line and exit with status 2, anything unexpected exits with 1;
``--debug`` shows the traceback. Ctrl-C prints one line and exits with 130. Output piped into a
reader that stops early (``t5-vectors search ... | head -1``) ends the command quietly with 141.

Building the parser imports no model, Qdrant or LangChain code (each command imports what it
needs when it runs), so ``--help`` and ``--version`` answer at once.
"""

from __future__ import annotations

import argparse
import difflib
import os
import select
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

from t5_vectors.cli import (
    _check_dtype,
    _copy,
    _delete,
    _embed,
    _info,
    _ingest,
    _mcp,
    _search,
    _serve,
    _sources,
)
from t5_vectors.cli._common import DEFAULT_MODEL, report_error, show_warning

__all__ = ["DEFAULT_MODEL", "main"]

INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells report it."""

CLOSED_OUTPUT = 141
"""Exit status when the reader of stdout went away (128 + SIGPIPE), as shells report a command
that a closed pipe stopped: ``seq 1000000 | head -1`` under ``set -o pipefail`` says 141 too."""


def _version() -> str:
    from t5_vectors._version import __version__

    return f"t5-vectors {__version__}"


class _Parser(argparse.ArgumentParser):
    """argparse, with a misspelt option reported by the command it belongs to, before any other
    error (a missing required flag, a value argparse would give to the wrong option), and with
    the nearest option it knows: ``t5-vectors search: error: unrecognized argument --colection
    (did you mean --collection?)``. Subcommand parsers are made of this class too."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        words = list(sys.argv[1:] if args is None else args)
        self._check_option_words(words)
        return super().parse_known_args(words, namespace)

    def _check_option_words(self, words: list[str]) -> None:
        known = list(self._option_string_actions)
        for word in words:
            if word == "--":
                return
            if not word.startswith("-") or word == "-" or _is_number(word):
                if self._subparsers is not None:
                    return  # the command: its own parser checks the words after it
                continue
            option = word.split("=", 1)[0]
            if option in known or word[:2] in known:  # --flag, --flag=value, -kVALUE
                continue
            if " " in word:
                continue  # argparse reads a word with a space as a positional ("-a text")
            if option.startswith("--") and any(name.startswith(option) for name in known):
                continue  # an abbreviation argparse resolves (or reports as ambiguous)
            nearest = _nearest(option, known)
            hint = f" (did you mean {nearest}?)" if nearest else f"; see {self.prog} --help"
            self.error(f"unrecognized argument {option}{hint}")


def _is_number(word: str) -> bool:
    """Whether *word* is a number (``-1``, ``-0.5``): a value, not a flag."""
    try:
        float(word)
    except ValueError:
        return False
    return True


def _nearest(option: str, known: list[str]) -> str:
    """The known options nearest to a misspelt one ("" if none is near): those that share its
    first word first (``--chunk-size``: ``--chunk-tokens or --chunk-overlap``), else by spelling."""
    first = option.lstrip("-").split("-")[0]
    kin = [name for name in known if name.lstrip("-").split("-")[0] == first]
    scored = sorted(
        ((difflib.SequenceMatcher(None, option, name).ratio(), name) for name in kin or known),
        reverse=True,
    )
    if not scored or (not kin and scored[0][0] < 0.6):
        return ""
    best = scored[0][0]
    return " or ".join(name for score, name in scored[:2] if score >= best - 0.1)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="t5-vectors",
        description="T5 encoders as an embedding engine for LangChain and Qdrant.",
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in (
        _embed,
        _ingest,
        _search,
        _sources,
        _info,
        _delete,
        _copy,
        _serve,
        _mcp,
        _check_dtype,
    ):
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    debug = False
    try:
        args = _parser().parse_args(argv)
        debug = args.debug
        with warnings.catch_warnings():
            # A server that is down is reported as one line of ours, not this warning too.
            warnings.filterwarnings("ignore", message="Failed to obtain server version")
            if not debug:
                warnings.showwarning = show_warning
            status: int = args.run(args)
            sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
            return status
    except KeyboardInterrupt as interrupt:
        return _interrupted(interrupt)
    except BrokenPipeError as error:
        if not _silence_closed_output():
            return report_error(error, debug=debug)
        return CLOSED_OUTPUT
    except Exception as error:
        try:
            return report_error(error, debug=debug)
        except KeyboardInterrupt as interrupt:
            return _interrupted(interrupt)


def _silence_closed_output() -> bool:
    """Whether stdout or stderr is a pipe whose reader has gone; if so, points it at the null
    device, so that nothing more is written to it (Python's own flush at exit included).

    The command stopped at its next write, with its stores closed on the way out; nothing is
    printed, as a command that SIGPIPE stops prints nothing. A ``BrokenPipeError`` from anything
    else (a connection) is not this, and is reported as usual.
    """
    closed = [stream for stream in (sys.stdout, sys.stderr) if _reader_gone(stream)]
    if closed:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            for stream in closed:
                os.dup2(null, stream.fileno())
        finally:
            os.close(null)
    return bool(closed)


def _reader_gone(stream: TextIO) -> bool:
    """Whether *stream* is a pipe or socket with no reader left (poll reports an error or hangup
    on its writing end)."""
    try:
        poller = select.poll()
        poller.register(stream.fileno(), select.POLLOUT)
        events = poller.poll(0)
    except (AttributeError, OSError, ValueError):  # no poll (Windows), no descriptor, closed
        return False
    return any(event & (select.POLLERR | select.POLLHUP) for _, event in events)


def _interrupted(interrupt: KeyboardInterrupt) -> int:
    """One line for Ctrl-C: what an interrupted ingest stored, or just that it stopped."""
    message = str(interrupt) if str(interrupt).startswith("interrupted") else "interrupted"
    message = message.replace("the same ingestion", "the same command")
    try:
        start = "\n" if sys.stderr.isatty() else ""  # off the progress bar's line
        print(f"{start}t5-vectors: {message}", file=sys.stderr)
    except KeyboardInterrupt:  # pragma: no cover - a second Ctrl-C while printing
        pass
    return INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
