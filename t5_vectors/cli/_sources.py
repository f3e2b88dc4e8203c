"""``t5-vectors sources``: what a collection holds, file by file.

Each source (``metadata["source"]``: a file's path for what ``ingest`` stored) with its chunk
count and when ``ingest`` last stored the file, read without loading the model
(:meth:`t5_vectors.index.collection.Collection.sources`, one pass over the points).
"""

from __future__ import annotations

import argparse
import json
from contextlib import closing

from t5_vectors.cli._common import add_qdrant_options, display_path, open_target, qdrant_step


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sources``."""
    sources = commands.add_parser(
        "sources", help="list the files a collection holds: chunks and when each was stored"
    )
    sources.add_argument("--collection", required=True, metavar="NAME", help="collection name")
    sources.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_qdrant_options(sources)
    sources.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """List the sources; returns the exit status."""
    with closing(open_target(args, must_exist=True)) as target, qdrant_step(target.where):
        target.collection_info(args.collection)  # names the collections there if missing
        found = target.collection(args.collection).sources()
    if args.json:
        listed = [{"source": s.source, "chunks": s.chunks, "stored": s.stored} for s in found]
        print(json.dumps({"collection": args.collection, "sources": listed}, indent=2))
        return 0
    files = sum(1 for s in found if s.source is not None)
    chunks = sum(s.chunks for s in found)
    print(f"{args.collection!r} in {target.where}: {files} sources, {chunks} chunks")
    for item in found:
        name = display_path(item.source) if item.source is not None else "(no source)"
        print(f"  {item.chunks:>6} chunks  {item.stored or '-':<25}  {name}")
    return 0
