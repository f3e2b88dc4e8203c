"""The ``t5-vectors`` command line (also ``python -m t5_vectors``).

``t5-vectors embed`` embeds texts given as arguments (or one per line on stdin) and prints a
summary per text, or the vectors as JSON lines with ``--json``. Errors a user can cause print one
line and exit with status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Literal

from t5_vectors.errors import T5VectorsError

__all__ = ["main"]

DEFAULT_MODEL = "sentence-transformers/sentence-t5-base"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="t5-vectors",
        description="T5 encoders as an embedding engine for LangChain and Qdrant.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    embed = commands.add_parser("embed", help="embed texts and print vectors or a summary")
    embed.add_argument("texts", nargs="*", help="texts to embed; '-' or none reads stdin lines")
    embed.add_argument("--model", default=DEFAULT_MODEL, help="hub id or local folder")
    embed.add_argument("--query", action="store_true", help="embed as queries (query prefix)")
    embed.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, mps")
    embed.add_argument("--dtype", default="auto", help="auto, float32, bfloat16, float16")
    embed.add_argument("--tokens", action="store_true", help="token-level embeddings instead")
    embed.add_argument("--json", action="store_true", help="print JSON lines with the vectors")
    embed.add_argument(
        "--offline", action="store_true", help="never touch the network (local_files_only)"
    )
    embed.add_argument(
        "--demo-model",
        metavar="DIR",
        help="build a tiny random-weight T5 checkpoint in DIR (if absent) and use it; for trying "
        "the tool offline (vectors carry no meaning)",
    )
    return parser


def _read_texts(args: argparse.Namespace) -> list[str]:
    if args.texts and args.texts != ["-"]:
        return list(args.texts)
    return [line.rstrip("\n") for line in sys.stdin if line.strip()]


def _embed(args: argparse.Namespace) -> int:
    from pathlib import Path

    from t5_vectors.encoder import T5Encoder

    model = args.model
    if args.demo_model:
        from t5_vectors.testing import build_sentence_transformers_checkpoint

        demo = Path(args.demo_model)
        if not (demo / "modules.json").is_file():
            build_sentence_transformers_checkpoint(demo)
        model = str(demo)
    texts = _read_texts(args)
    start = time.perf_counter()
    encoder = T5Encoder.from_pretrained(
        model, device=args.device, dtype=args.dtype, local_files_only=True if args.offline else None
    )
    loaded = time.perf_counter()
    kind: Literal["document", "query"] = "query" if args.query else "document"
    try:
        if args.tokens:
            token_arrays = encoder.encode_tokens(texts, kind=kind)
            for text, states in zip(texts, token_arrays, strict=True):
                if args.json:
                    print(json.dumps({"text": text, "tokens": states.tolist()}))
                else:
                    print(f"{states.shape[0]:>4} tokens x {states.shape[1]}  {text[:60]!r}")
        else:
            vectors = encoder.encode(texts, kind=kind)
            for text, vector in zip(texts, vectors, strict=True):
                if args.json:
                    print(json.dumps({"text": text, "vector": vector.tolist()}))
                else:
                    head = " ".join(f"{v:+.4f}" for v in vector[:4])
                    norm = float((vector**2).sum() ** 0.5)
                    print(f"dim={vector.shape[0]} norm={norm:.4f} [{head} ...]  {text[:60]!r}")
    finally:
        encoder.close()
    done = time.perf_counter()
    print(
        f"{encoder!r}: {len(texts)} texts in {done - loaded:.3f}s (load {loaded - start:.2f}s)",
        file=sys.stderr,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "embed":
            return _embed(args)
    except T5VectorsError as err:
        if args.debug:
            raise
        print(f"t5-vectors: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2  # pragma: no cover - argparse enforces a known command


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
