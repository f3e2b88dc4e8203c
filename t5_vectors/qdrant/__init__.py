"""Qdrant adapter: collections, streaming ingestion and search over one embedding model.

::

    from t5_vectors.qdrant import QdrantIndex

    index = QdrantIndex(encoder, collection_name="docs", url="http://localhost:6333")
    report = index.ingest(loader.lazy_load())
    hits = index.search("a question", k=4, filter={"source": "a.md"})

Every storage call goes through the storage seam (:mod:`t5_vectors.storage`): Qdrant Edge for
embedded folders, qdrant-client for servers, ``:memory:`` and folders local mode wrote.

Modules: :mod:`~t5_vectors.qdrant.index` (``QdrantIndex``),
:mod:`~t5_vectors.qdrant.collection` (settings, the schema they create, checks),
:mod:`~t5_vectors.qdrant.report` (the ingest report and error), :mod:`~t5_vectors.qdrant.retry`,
:mod:`~t5_vectors.qdrant.ids` and :mod:`~t5_vectors.qdrant.payload` (the stored data
contract), :mod:`~t5_vectors.qdrant.connection` (which backend opens); token multivectors and
sparse vectors: :mod:`~t5_vectors.qdrant.vectors` (layout), :mod:`~t5_vectors.qdrant.retrieval`
(search modes), :mod:`~t5_vectors.qdrant.storage` (bytes per chunk) and
:mod:`~t5_vectors.qdrant.layout` (an existing collection's vectors, read back as these options).
Private: ``_ingest`` (the pipeline: one sans-I/O core, sync and async drivers), ``_handle`` (one
collection: the pipeline's sink and the searcher), ``_embedder`` (what encodes the texts),
``_encoding`` (texts to every vector a collection stores), ``_search`` and ``_points`` (search
options and hits; id lookups and deletes), ``_filters`` (filters to Qdrant's JSON form),
``_model_record`` (the model record a collection keeps), ``_local_store`` (repair of a local-mode
folder), ``_retrying`` (idempotent calls retried), ``_mismatch`` (the one mismatch message) and
``_modes`` (the search modes' names).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from t5_vectors._lazy import lazy_exports

if TYPE_CHECKING:
    from t5_vectors.qdrant.collection import CollectionSpec
    from t5_vectors.qdrant.connection import DEFAULT_PATH
    from t5_vectors.qdrant.ids import POINT_NAMESPACE, point_id
    from t5_vectors.qdrant.index import DEFAULT_COLLECTION, QdrantIndex
    from t5_vectors.qdrant.layout import CollectionLayout, collection_layout
    from t5_vectors.qdrant.payload import CONTENT_KEY, HASH_KEY, ID_KEY, METADATA_KEY
    from t5_vectors.qdrant.report import BatchFailure, IngestError, IngestReport
    from t5_vectors.qdrant.retrieval import Retrieval
    from t5_vectors.qdrant.retry import RetryPolicy
    from t5_vectors.qdrant.storage import StorageReport
    from t5_vectors.qdrant.vectors import SparseVectors, TokenVectors

_SOURCES = {
    "CollectionSpec": "t5_vectors.qdrant.collection",
    "DEFAULT_PATH": "t5_vectors.qdrant.connection",
    "POINT_NAMESPACE": "t5_vectors.qdrant.ids",
    "point_id": "t5_vectors.qdrant.ids",
    "DEFAULT_COLLECTION": "t5_vectors.qdrant.index",
    "QdrantIndex": "t5_vectors.qdrant.index",
    "CollectionLayout": "t5_vectors.qdrant.layout",
    "collection_layout": "t5_vectors.qdrant.layout",
    "CONTENT_KEY": "t5_vectors.qdrant.payload",
    "HASH_KEY": "t5_vectors.qdrant.payload",
    "ID_KEY": "t5_vectors.qdrant.payload",
    "METADATA_KEY": "t5_vectors.qdrant.payload",
    "BatchFailure": "t5_vectors.qdrant.report",
    "IngestError": "t5_vectors.qdrant.report",
    "IngestReport": "t5_vectors.qdrant.report",
    "Retrieval": "t5_vectors.qdrant.retrieval",
    "RetryPolicy": "t5_vectors.qdrant.retry",
    "StorageReport": "t5_vectors.qdrant.storage",
    "SparseVectors": "t5_vectors.qdrant.vectors",
    "TokenVectors": "t5_vectors.qdrant.vectors",
}
"""Where each public name lives: imported on first use (PEP 562), so that importing a submodule
(``info`` and ``delete`` read layouts and records) never loads the encoder and torch."""


__all__ = [
    "CONTENT_KEY",
    "DEFAULT_COLLECTION",
    "DEFAULT_PATH",
    "HASH_KEY",
    "ID_KEY",
    "METADATA_KEY",
    "POINT_NAMESPACE",
    "BatchFailure",
    "CollectionLayout",
    "CollectionSpec",
    "IngestError",
    "IngestReport",
    "QdrantIndex",
    "Retrieval",
    "RetryPolicy",
    "SparseVectors",
    "StorageReport",
    "TokenVectors",
    "collection_layout",
    "point_id",
]


__getattr__, __dir__ = lazy_exports(__name__, _SOURCES, __all__)
