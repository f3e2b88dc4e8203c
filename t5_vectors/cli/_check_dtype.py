"""``t5-vectors check-dtype``: what bfloat16 or int8 costs on your model and texts.

Encodes the texts of the given files in float32 and in each dtype asked for, and prints per
dtype its speed, the minimum and mean cosine of each vector to its float32 vector, and the
agreement of each text's top-k neighbours with float32's, then one line saying which dtype keeps
recall within the tolerance (:func:`t5_vectors.compare_dtypes`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from t5_vectors.cli._common import (
    DEFAULT_MODEL,
    CommandError,
    add_model_options,
    display_path,
    load_encoder,
)

DEFAULT_MAX_TEXTS = 2000


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``check-dtype``."""
    check = commands.add_parser(
        "check-dtype",
        help="measure speed and accuracy of bfloat16 / int8 against float32 on your texts",
        description="Encode the texts of FILE... in float32 and in each --dtype, and report "
        "speed, cosine to float32 and top-k neighbour agreement with float32; the last line "
        "says which dtype keeps recall within --tolerance.",
    )
    check.add_argument(
        "files", nargs="+", metavar="FILE", help="UTF-8 text files ('-' reads stdin)"
    )
    add_model_options(
        check,
        recorded=False,
        device="cpu",
        dtype_help="comma list of dtypes to compare with float32: bfloat16, float16, int8 (CPU); "
        "auto (default): int8 on CPU, plus bfloat16 where the CPU has it natively; "
        "bfloat16 and float16 on CUDA",
    )
    check.add_argument(
        "--lines",
        action="store_true",
        help="one text per non-blank line (default: one per paragraph, split at blank lines)",
    )
    check.add_argument(
        "--max-texts",
        type=int,
        default=DEFAULT_MAX_TEXTS,
        metavar="N",
        help=f"use the first N texts (default {DEFAULT_MAX_TEXTS})",
    )
    check.add_argument("--k", type=int, default=10, help="neighbours compared per text (10)")
    check.add_argument(
        "--tolerance",
        type=float,
        default=0.01,
        help="largest drop of top-k agreement below float32 that keeps recall (0.01)",
    )
    check.add_argument("--repeats", type=int, default=1, help="timed passes per dtype (1)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(run=run)


def read_texts(files: list[str], *, lines: bool) -> list[str]:
    """The texts of *files*: paragraphs (or non-blank lines with *lines*), in order."""
    texts: list[str] = []
    for name in files:
        if name == "-":
            content = sys.stdin.read()
        else:
            path = Path(name).expanduser()
            if not path.is_file():
                found = "a folder" if path.is_dir() else "nothing there"
                raise CommandError(
                    f"check-dtype FILE: expected a text file, found {found} at "
                    f"{display_path(str(path))}. Pass text files (one text per paragraph, or per "
                    "line with --lines)."
                )
            try:
                content = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as error:
                raise CommandError(
                    f"check-dtype FILE: expected UTF-8 text, found undecodable bytes in "
                    f"{display_path(str(path))} ({error.reason} at byte {error.start}). Convert "
                    "it to UTF-8 first."
                ) from error
        pieces = content.splitlines() if lines else content.split("\n\n")
        texts += [" ".join(piece.split()) for piece in pieces if piece.strip()]
    return texts


def _dtypes(value: str, device: str) -> tuple[str, ...]:
    from t5_vectors.encoder.precision_check import default_dtypes

    if value.strip().lower() == "auto":
        return default_dtypes(device)
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    if not names:
        raise CommandError(
            f"--dtype: expected a comma list such as int8 or bfloat16,int8, found {value!r}."
        )
    return names


def run(args: argparse.Namespace) -> int:
    """Compare the dtypes; returns the exit status."""
    from t5_vectors.encoder.precision_check import run_comparison
    from t5_vectors.errors import InvalidInputError

    for flag, value in (
        ("--max-texts", args.max_texts),
        ("--k", args.k),
        ("--repeats", args.repeats),
    ):
        if value < 1:
            raise CommandError(f"{flag}: expected an integer >= 1, found {value}.")
    if not 0 <= args.tolerance < 1:
        raise CommandError(f"--tolerance: expected a number in [0, 1), found {args.tolerance}.")
    texts = read_texts(args.files, lines=args.lines)[: args.max_texts]
    if len(texts) < 2:
        raise CommandError(
            f"check-dtype FILE: expected at least 2 texts, found {len(texts)}. Pass files with "
            "more paragraphs (or lines, with --lines); a few hundred of your own texts show more."
        )
    requested = args.dtype

    def load(dtype: str) -> object:
        args.dtype = dtype
        return load_encoder(args)

    def progress(message: str) -> None:
        print(f"check-dtype: {message}", file=sys.stderr, flush=True)

    try:
        report = run_comparison(
            load,
            texts,
            model=args.model or args.demo_model or DEFAULT_MODEL,
            device=args.device,
            dtypes=_dtypes(requested, args.device),
            k=args.k,
            tolerance=args.tolerance,
            repeats=args.repeats,
            progress=progress,
        )
    except InvalidInputError as error:
        message = str(error)
        if message.startswith(("dtypes:", "dtype:")):
            raise CommandError("--dtype: " + message.split(": ", 1)[1]) from error
        if message.startswith("device:"):
            raise CommandError("--device: " + message.split(": ", 1)[1]) from error
        raise
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(report.to_text())
    return 0
