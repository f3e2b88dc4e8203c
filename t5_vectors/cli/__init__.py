"""The ``t5-vectors`` command line (also ``python -m t5_vectors``).

Commands, one module each: ``embed`` (texts to vectors), ``ingest`` (files and folders into a
collection), ``search``, ``info`` and ``delete``. Errors a user can cause print one line and
exit with status 2, anything unexpected exits with 1; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from t5_vectors.cli import delete, embed, info, ingest, search
from t5_vectors.cli.common import DEFAULT_MODEL, report_error, show_warning

__all__ = ["DEFAULT_MODEL", "main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="t5-vectors",
        description="T5 encoders as an embedding engine for LangChain and Qdrant.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in (embed, ingest, search, info, delete):
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            # A server that is down is reported as one line of ours, not this warning too.
            warnings.filterwarnings("ignore", message="Failed to obtain server version")
            if not args.debug:
                warnings.showwarning = show_warning
            status: int = args.run(args)
            return status
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        return report_error(error, debug=args.debug)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
