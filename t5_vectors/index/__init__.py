"""Qdrant adapter: collections, streaming ingestion and search over one embedding model.

::

    from t5_vectors.index import QdrantIndex

    index = QdrantIndex(encoder, collection_name="docs", url="http://localhost:6333")
    report = index.ingest(loader.lazy_load())
    hits = index.search("a question", k=4, filter={"source": "a.md"})

Every storage call goes through the storage seam (:mod:`t5_vectors.storage`): Qdrant Edge for
embedded folders, qdrant-client for servers, ``:memory:`` and folders local mode wrote.

Modules: :mod:`~t5_vectors.index.index` (``QdrantIndex``),
:mod:`~t5_vectors.plan.collection` (settings, the schema they create, checks),
:mod:`~t5_vectors.plan.report` (the ingest report and error), :mod:`~t5_vectors.storage.retry`,
:mod:`~t5_vectors.plan.ids` and :mod:`~t5_vectors.plan.payload` (the stored data
contract), :mod:`~t5_vectors.storage.open` (which backend opens); token multivectors and
sparse vectors: :mod:`~t5_vectors.plan.vectors` (layout), :mod:`~t5_vectors.plan.retrieval`
(search modes), :mod:`~t5_vectors.plan.footprint` (bytes per chunk) and
:mod:`~t5_vectors.plan.layout` (an existing collection's vectors, read back as these options).
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
    from t5_vectors.index.index import DEFAULT_COLLECTION, QdrantIndex
    from t5_vectors.plan.collection import CollectionSpec
    from t5_vectors.plan.footprint import StorageReport
    from t5_vectors.plan.ids import POINT_NAMESPACE, point_id
    from t5_vectors.plan.layout import CollectionLayout, collection_layout
    from t5_vectors.plan.payload import CONTENT_KEY, HASH_KEY, ID_KEY, METADATA_KEY
    from t5_vectors.plan.report import BatchFailure, IngestError, IngestReport
    from t5_vectors.plan.retrieval import Retrieval
    from t5_vectors.storage.retry import RetryPolicy
    from t5_vectors.plan.vectors import SparseVectors, TokenVectors
    from t5_vectors.storage.open import DEFAULT_PATH

_SOURCES = {
    "CollectionSpec": "t5_vectors.plan.collection",
    "DEFAULT_PATH": "t5_vectors.storage.open",
    "POINT_NAMESPACE": "t5_vectors.plan.ids",
    "point_id": "t5_vectors.plan.ids",
    "DEFAULT_COLLECTION": "t5_vectors.index.index",
    "QdrantIndex": "t5_vectors.index.index",
    "CollectionLayout": "t5_vectors.plan.layout",
    "collection_layout": "t5_vectors.plan.layout",
    "CONTENT_KEY": "t5_vectors.plan.payload",
    "HASH_KEY": "t5_vectors.plan.payload",
    "ID_KEY": "t5_vectors.plan.payload",
    "METADATA_KEY": "t5_vectors.plan.payload",
    "BatchFailure": "t5_vectors.plan.report",
    "IngestError": "t5_vectors.plan.report",
    "IngestReport": "t5_vectors.plan.report",
    "Retrieval": "t5_vectors.plan.retrieval",
    "RetryPolicy": "t5_vectors.storage.retry",
    "StorageReport": "t5_vectors.plan.footprint",
    "SparseVectors": "t5_vectors.plan.vectors",
    "TokenVectors": "t5_vectors.plan.vectors",
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
