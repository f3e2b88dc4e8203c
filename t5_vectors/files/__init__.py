"""Files into Qdrant: discover, read as text, split into T5-token chunks, ingest, keep in step.

::

    from t5_vectors.files import ChunkSettings, ingest_files

    report = ingest_files(index, ["docs/"], glob=["*.md"], chunking=ChunkSettings(256, 32))

Modules: :mod:`~t5_vectors.files.discover` (walk, patterns, access checks),
:mod:`~t5_vectors.files.read` (text vs binary, decoding, HTML), :mod:`~t5_vectors.files.chunking`
(token-measured splitting), :mod:`~t5_vectors.files.ingest` (the pipeline) and
:mod:`~t5_vectors.files.sync` (stale chunks and pruning).
"""

from __future__ import annotations

from t5_vectors.files.chunking import DEFAULT_CHUNK_TOKENS, Chunk, ChunkSettings, TokenChunker
from t5_vectors.files.discover import Discovery, discover
from t5_vectors.files.ingest import FilesReport, chunk_id, ingest_files
from t5_vectors.files.read import FileText, html_to_text, read_file

__all__ = [
    "DEFAULT_CHUNK_TOKENS",
    "Chunk",
    "ChunkSettings",
    "Discovery",
    "FileText",
    "FilesReport",
    "TokenChunker",
    "chunk_id",
    "discover",
    "html_to_text",
    "ingest_files",
    "read_file",
]
