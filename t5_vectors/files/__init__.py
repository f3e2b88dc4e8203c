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

from t5_vectors._lazy import attach

# Cheap (standard library only), and imported now so that the function ``discover`` is what
# ``t5_vectors.files.discover`` names once the package is loaded, not the module of that name.
from t5_vectors.files.discover import Discovery as Discovery
from t5_vectors.files.discover import discover as discover
from t5_vectors.files.read import FileText as FileText
from t5_vectors.files.read import html_to_text as html_to_text
from t5_vectors.files.read import read_file as read_file

if TYPE_CHECKING:
    from t5_vectors.files.chunking import DEFAULT_CHUNK_TOKENS as DEFAULT_CHUNK_TOKENS
    from t5_vectors.files.chunking import Chunk as Chunk
    from t5_vectors.files.chunking import ChunkSettings as ChunkSettings
    from t5_vectors.files.chunking import TokenChunker as TokenChunker
    from t5_vectors.files.ingest import FilesReport as FilesReport
    from t5_vectors.files.ingest import chunk_id as chunk_id
    from t5_vectors.files.ingest import ingest_files as ingest_files


__getattr__, __dir__, __all__ = attach(__name__, __file__)
