"""``t5-vectors embed``: embed texts and print a summary per text, or JSON lines with vectors."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from t5_vectors.cli._common import CommandError, add_model_options, load_encoder

if TYPE_CHECKING:
    from t5_vectors.encoder.core import Kind


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``embed``."""
    embed = commands.add_parser("embed", help="embed texts and print vectors or a summary")
    embed.add_argument("texts", nargs="*", help="texts to embed; '-' or none reads stdin lines")
    add_model_options(embed, recorded=False)
    embed.add_argument("--query", action="store_true", help="embed as queries (query prefix)")
    embed.add_argument("--tokens", action="store_true", help="token-level embeddings instead")
    embed.add_argument("--json", action="store_true", help="print JSON lines with the vectors")
    embed.set_defaults(run=run)


def _read_texts(args: argparse.Namespace) -> list[str]:
    """The texts given, or stdin's non-blank lines; none at all is an error (exit status 2)."""
    if args.texts and args.texts != ["-"]:
        return list(args.texts)
    if not args.texts and sys.stdin.isatty():
        raise CommandError(
            "embed: expected texts to embed, found none. Pass them as arguments "
            '(t5-vectors embed "a text" "another"), or pipe lines into stdin '
            "(... | t5-vectors embed -)."
        )
    texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        raise CommandError(
            "embed: expected texts to embed, found none (stdin had no non-blank line). Pass "
            'them as arguments (t5-vectors embed "a text"), or pipe lines into stdin.'
        )
    return texts


def run(args: argparse.Namespace) -> int:
    """Embed the texts; returns the exit status."""
    texts = _read_texts(args)
    start = time.perf_counter()
    encoder = load_encoder(args)
    loaded = time.perf_counter()
    kind: Kind = "query" if args.query else "document"
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
        f"{encoder!r}: {len(texts)} text{'s' if len(texts) != 1 else ''} in "
        f"{done - loaded:.3f}s (load {loaded - start:.2f}s)",
        file=sys.stderr,
    )
    return 0
