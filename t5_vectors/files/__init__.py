"""Files into Qdrant: discover, read as text, split into T5-token chunks, ingest, keep in step.

::

    from t5_vectors.files import ChunkSettings, ingest_files

    report = ingest_files(index, ["docs/"], glob=["*.md"], chunking=ChunkSettings(256, 32))

Modules: :mod:`~t5_vectors.files.discover` (walk, patterns, access checks),
:mod:`~t5_vectors.files.read` (text vs binary, decoding, HTML), :mod:`~t5_vectors.files.chunking`
(token-measured splitting) and :mod:`~t5_vectors.files.ingest` (the pipeline); private: ``_sync``
(stale chunks, pruning and the per-file records). Names are imported on first use (PEP 562):
finding and reading files loads no model, Qdrant or LangChain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from t5_vectors._lazy import lazy_exports

# Cheap (standard library only), and imported now so that the function ``discover`` is what
# ``t5_vectors.files.discover`` names once the package is loaded, not the module of that name.
from t5_vectors.files.discover import Discovery, discover
from t5_vectors.files.read import FileText, html_to_text, read_file

if TYPE_CHECKING:
    from t5_vectors.files.chunking import (
        DEFAULT_CHUNK_TOKENS,
        Chunk,
        ChunkSettings,
        TokenChunker,
    )
    from t5_vectors.files.ingest import FilesReport, chunk_id, ingest_files

_LAZY: dict[str, str] = {
    "DEFAULT_CHUNK_TOKENS": "t5_vectors.files.chunking",
    "Chunk": "t5_vectors.files.chunking",
    "ChunkSettings": "t5_vectors.files.chunking",
    "FilesReport": "t5_vectors.files.ingest",
    "TokenChunker": "t5_vectors.files.chunking",
    "chunk_id": "t5_vectors.files.ingest",
    "ingest_files": "t5_vectors.files.ingest",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
