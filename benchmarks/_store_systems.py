"""The embedded stores that ``store.py`` compares, each behind the same four calls.

Every system is used the way a LangChain user without a server would use it:

* ``t5-edge`` -- ``T5QdrantVectorStore(embedding, path=...)`` on a new folder (Qdrant Edge);
  durable and ready once ``index.close()`` returns (it builds the HNSW index of what was
  written, flushes and closes the shard);
* ``t5-local`` -- the same class on a folder qdrant-client's local mode wrote (``meta.json``
  created first), which t5-vectors keeps opening with local mode;
* ``lc-local`` -- langchain-qdrant's ``QdrantVectorStore`` over ``QdrantClient(path=...)``
  (local mode: a pickle-free SQLite file, numpy exact search); ``client.close()``;
* ``chroma`` -- langchain-chroma's ``Chroma(persist_directory=...)`` with a cosine collection
  (``collection_configuration={"hnsw": {"space": "cosine"}}``, Chroma's other HNSW defaults),
  telemetry off; ``client.close()``;
* ``faiss`` -- langchain-community's ``FAISS`` (a flat index: exact search; ``normalize_L2``
  so that its L2 ranking is the cosine ranking of the others), made by ``from_texts`` on the
  first batch and grown by ``add_texts``; durable once ``save_local`` returns, reopened by
  ``load_local`` (which unpickles the docstore this benchmark wrote itself).

Texts go in through ``add_texts`` in batches, with their metadata; searches through
``similarity_search``. No ids are passed: each library makes its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

SYSTEMS = ("t5-edge", "t5-local", "lc-local", "chroma", "faiss")
LABELS = {
    "t5-edge": "t5-vectors / Qdrant Edge",
    "t5-local": "t5-vectors / local mode",
    "lc-local": "langchain-qdrant / local mode",
    "chroma": "Chroma (langchain-chroma, persist_directory, cosine)",
    "faiss": "FAISS (langchain-community, flat, save_local)",
}
COLLECTION = "bench"
K = 10
"""Results per search."""


def peak_rss_mb() -> float:
    """The process's peak resident set (``VmHWM``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    """The process's resident set now (``VmRSS``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def import_system(system: str) -> None:
    """Import what the system's vector store needs (timed apart from open and ingest)."""
    if system in ("t5-edge", "t5-local"):
        from t5_vectors import T5QdrantVectorStore

        T5QdrantVectorStore.__name__  # noqa: B018 - the lazy attribute loads the modules
    elif system == "lc-local":
        import langchain_qdrant  # noqa: F401
        import qdrant_client  # noqa: F401
    elif system == "chroma":
        import chromadb  # noqa: F401
        import langchain_chroma  # noqa: F401
    elif system == "faiss":
        import faiss  # noqa: F401
        from langchain_community.vectorstores import FAISS  # noqa: F401
    else:
        raise SystemExit(f"unknown system {system!r}; expected one of {', '.join(SYSTEMS)}")


def table_embeddings(texts: Sequence[str], vectors: np.ndarray) -> Any:
    """A LangChain ``Embeddings`` answering from precomputed vectors (text -> vector)."""
    from langchain_core.embeddings import Embeddings

    class Table(Embeddings):
        def __init__(self) -> None:
            self.table = {t: v for t, v in zip(texts, vectors, strict=True)}
            self.other = np.asarray(vectors[0])  # texts not in the table: t5-vectors' size probe

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [self.table.get(t, self.other).tolist() for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return self.table.get(text, self.other).tolist()

    return Table()


def fake_embeddings(size: int = 768) -> Any:
    """LangChain's ``DeterministicFakeEmbedding`` (a seeded normal vector per text)."""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    return DeterministicFakeEmbedding(size=size)


def _chroma(folder: Path, embedding: Any) -> Any:
    import chromadb
    from langchain_chroma import Chroma

    return Chroma(
        collection_name=COLLECTION,
        embedding_function=embedding,
        persist_directory=str(folder),
        client_settings=chromadb.Settings(anonymized_telemetry=False),
        collection_configuration={"hnsw": {"space": "cosine"}},
    )


def open_store(system: str, folder: Path, embedding: Any, *, create: bool) -> Any:
    """The system's vector store over ``folder`` (``None`` for a FAISS store not made yet)."""
    if system == "lc-local":
        from langchain_qdrant import QdrantVectorStore
        from qdrant_client import QdrantClient, models

        client = QdrantClient(path=str(folder))
        if create:
            size = len(embedding.embed_query("size probe"))
            client.create_collection(
                COLLECTION, models.VectorParams(size=size, distance=models.Distance.COSINE)
            )
        return QdrantVectorStore(client=client, collection_name=COLLECTION, embedding=embedding)
    if system == "chroma":
        return _chroma(folder, embedding)
    if system == "faiss":
        if create:
            return None
        from langchain_community.vectorstores import FAISS

        return FAISS.load_local(
            str(folder), embedding, allow_dangerous_deserialization=True, normalize_L2=True
        )
    from t5_vectors import T5QdrantVectorStore

    if system == "t5-local" and create:
        from qdrant_client import QdrantClient

        QdrantClient(path=str(folder)).close()  # a folder local mode wrote
    return T5QdrantVectorStore(embedding, path=str(folder), collection_name=COLLECTION)


def add_batch(
    system: str, store: Any, embedding: Any, texts: list[str], metadatas: list[dict[str, Any]]
) -> Any:
    """``add_texts`` one batch; returns the store (FAISS makes its own on the first batch)."""
    if system == "faiss" and store is None:
        from langchain_community.vectorstores import FAISS

        return FAISS.from_texts(texts, embedding, metadatas=metadatas, normalize_L2=True)
    store.add_texts(texts, metadatas=metadatas)
    return store


def timed_builds(system: str, store: Any) -> list[float]:
    """Seconds of each Qdrant Edge index build from now on (empty for other systems).

    Wraps the Edge backend's private ``_optimize`` (the builds run inside upserts once
    ``index_after`` points are unindexed, and at close); nothing is wrapped if it is absent.
    """
    builds: list[float] = []
    if system not in ("t5-edge", "t5-local"):
        return builds
    backend = store.index.backend
    backend = getattr(backend, "backend", backend)  # the folder's EdgeBackend behind its lease
    optimize: Callable[..., None] | None = getattr(backend, "_optimize", None)
    if optimize is not None:

        def timed_optimize(*a: Any, **kw: Any) -> None:
            t = time.perf_counter()
            optimize(*a, **kw)
            builds.append(time.perf_counter() - t)

        backend._optimize = timed_optimize
    return builds


def make_durable(system: str, store: Any, folder: Path) -> None:
    """Whatever makes the written store durable and ready to serve, then release it."""
    if system in ("t5-edge", "t5-local"):
        store.index.close()
    elif system == "lc-local":
        store.client.close()
    elif system == "chroma":
        store._client.close()
    elif system == "faiss":
        store.save_local(str(folder))


def release(system: str, store: Any) -> None:
    """Close a store opened for serving."""
    if system in ("t5-edge", "t5-local"):
        store.index.close()
    elif system == "lc-local":
        store.client.close()
    elif system == "chroma":
        store._client.close()


def result_index(document: Any) -> int:
    """The corpus position of a found document (``metadata["i"]``)."""
    return int(document.metadata["i"])
