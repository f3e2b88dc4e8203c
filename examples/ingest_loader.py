"""Any LangChain document loader into Qdrant, streamed, chunked in T5 tokens, idempotent.

Run it::

    python examples/ingest_loader.py                       # embedded Qdrant in ./t5_vectors_data
    python examples/ingest_loader.py --qdrant-url http://localhost:6333   # docker compose up -d

The loader here reads Markdown and text files; any loader with ``lazy_load()`` works the same
way (``DirectoryLoader``, ``PyPDFLoader``, ``WebBaseLoader`` from ``langchain-community``, ...).
Documents stream through the token chunker into ``QdrantIndex.ingest`` with bounded memory; a
second run finds every chunk stored unchanged and writes nothing.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document

from t5_vectors import QdrantIndex, T5Encoder
from t5_vectors.files import TokenChunker

DOCS = Path(__file__).parent / "docs"
DEFAULT_MODEL = os.environ.get("T5_VECTORS_MODEL", "sentence-transformers/sentence-t5-base")


class NotesLoader(BaseLoader):
    """A LangChain loader: one ``Document`` per ``.md`` / ``.txt`` file, read lazily."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def lazy_load(self) -> Iterator[Document]:
        for path in sorted(self.folder.rglob("*")):
            if path.suffix in {".md", ".txt"}:
                yield Document(path.read_text(encoding="utf-8"), metadata={"source": path.name})


def chunked(documents: Iterable[Document], chunker: TokenChunker) -> Iterator[Document]:
    """Split each document into chunks that fit the model, keeping its metadata."""
    for document in documents:
        for number, chunk in enumerate(chunker.split(document.page_content)):
            source = document.metadata["source"]
            yield Document(
                chunk.text,
                id=f"{source}#{number}",  # stable ids: a re-run overwrites, never duplicates
                metadata={**document.metadata, "chunk": number, "start_index": chunk.start_index},
            )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Ingest the loader's documents twice; the second run writes nothing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="hub id or local folder")
    parser.add_argument("--docs", default=str(DOCS), help="folder of documents")
    parser.add_argument("--collection", default="loader-example")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--qdrant-path", default=None, help="embedded Qdrant folder")
    where.add_argument("--qdrant-url", default=None, help="a Qdrant server")
    args = parser.parse_args(argv)

    storage = args.qdrant_url or args.qdrant_path  # None: embedded, ./t5_vectors_data
    with T5Encoder.from_pretrained(args.model) as encoder:
        chunker = TokenChunker(encoder)
        with QdrantIndex(encoder, collection_name=args.collection, storage=storage) as index:
            loader = NotesLoader(args.docs)
            reports = [
                index.ingest(chunked(loader.lazy_load(), chunker), show_progress=True)
                for _ in range(2)
            ]
            stored = index.count()
            hits = index.search("keeping ferns humid", k=2)
    for run, report in enumerate(reports, start=1):
        print(f"run {run}: written {report.written}, unchanged {report.skipped}")
    print(f"{stored} chunks stored; best match: {hits[0][0].metadata['source']}")
    return {"reports": reports, "stored": stored, "hits": hits}


if __name__ == "__main__":
    main()
