"""32 threads share one encoder and one vector store: no deadlock, serial results, exact counts.

Each thread makes a fixed number of calls (every kind at least once, the rest drawn from its own
seeded generator): ``embed_query``, ``similarity_search`` or ``add_documents``. Nothing depends
on how fast the machine is. Queries and searches are compared with the
results of the same calls made serially before the threads start (searches are filtered to a
fixed pre-ingested subset, so concurrent additions cannot change their answer). Additions draw
from a shared pool of documents (many threads add the same ones) plus documents unique to each
thread; at the end the collection holds exactly the distinct documents added, each intact.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest
from langchain_core.documents import Document
from qdrant_client import QdrantClient

from t5_vectors import T5Embeddings, T5Encoder, T5QdrantVectorStore

THREADS = 32
CALLS = 12
"""Calls per thread: the three kinds once each, then nine drawn at random."""
DEADLOCK = 300.0
"""Seconds after which a thread still running is reported as a deadlock (not a speed goal)."""
FIXED = 24
POOL = 120
QUERIES = [
    "where are vectors stored?",
    "how does T5 read text",
    "agents retrieve documents",
    "a question about nothing in particular",
    "naïve café ✓ ünïcode",
    "",
]
GROUP = {"group": "fixed"}


def fixed_documents() -> list[Document]:
    return [
        Document(
            page_content=f"fixed document {i} about topic {i % 5}: vectors, text and search",
            metadata={"group": "fixed", "n": i},
            id=f"fixed-{i}",
        )
        for i in range(FIXED)
    ]


def pooled_document(n: int) -> Document:
    """A document many threads may add: same id, same content, so it is stored once."""
    return Document(
        page_content=f"shared document {n}", metadata={"group": "pool", "n": n}, id=f"pool-{n}"
    )


@dataclass
class Worker:
    """What one thread did and what went wrong."""

    seed: int
    counts: Counter[str] = field(default_factory=Counter)
    added: set[str] = field(default_factory=set)
    mismatches: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def store(tiny_encoder: T5Encoder) -> Iterator[T5QdrantVectorStore]:
    client = QdrantClient(":memory:")
    vector_store = T5QdrantVectorStore(tiny_encoder, client=client, collection_name="threads")
    vector_store.add_documents(fixed_documents())
    yield vector_store
    client.close()


def test_32_threads_mixing_queries_searches_and_additions(store, tiny_encoder, reliability):
    embeddings = T5Embeddings(encoder=tiny_encoder)
    serial_vectors = {q: np.asarray(embeddings.embed_query(q)) for q in QUERIES}
    serial_results = {
        q: [(d.id, s) for d, s in store.similarity_search_with_score(q, k=5, filter=GROUP)]
        for q in QUERIES
    }
    start = threading.Barrier(THREADS)

    def work(worker: Worker) -> None:
        rng = random.Random(worker.seed)
        start.wait()
        kinds = ("embed_query", "similarity_search", "add_documents")
        ops = [*kinds, *(rng.choice(kinds) for _ in range(CALLS - len(kinds)))]
        rng.shuffle(ops)
        for op in ops:
            query = rng.choice(QUERIES)
            try:
                if op == "embed_query":
                    vector = np.asarray(embeddings.embed_query(query))
                    if not np.allclose(vector, serial_vectors[query], atol=1e-5, rtol=1e-5):
                        diff = float(np.abs(vector - serial_vectors[query]).max())
                        worker.mismatches.append(f"embed_query({query!r}) off by {diff:.2e}")
                elif op == "similarity_search":
                    got = store.similarity_search_with_score(query, k=5, filter=GROUP)
                    ids = [d.id for d, _ in got]
                    want = serial_results[query]
                    if ids != [i for i, _ in want] or not np.allclose(
                        [s for _, s in got], [s for _, s in want], atol=1e-5
                    ):
                        worker.mismatches.append(f"search({query!r}) -> {ids}")
                else:
                    batch = [pooled_document(rng.randrange(POOL)) for _ in range(rng.randint(1, 3))]
                    unique = worker.counts["add_documents"]
                    batch.append(
                        Document(
                            page_content=f"thread {worker.seed} document {unique}",
                            metadata={"group": "own", "thread": worker.seed},
                            id=f"own-{worker.seed}-{unique}",
                        )
                    )
                    batch = list({doc.id: doc for doc in batch}.values())
                    returned = store.add_documents(batch)
                    if returned != [doc.id for doc in batch]:
                        worker.mismatches.append(f"add_documents returned {returned}")
                    worker.added.update(str(doc.id) for doc in batch)
                worker.counts[op] += 1
            except Exception as err:  # recorded and asserted below
                worker.errors.append(f"{op}: {type(err).__name__}: {err}")
                return

    workers = [Worker(seed=i) for i in range(THREADS)]
    threads = [
        threading.Thread(target=work, args=(w,), name=f"mix-{w.seed}", daemon=True) for w in workers
    ]
    for thread in threads:
        thread.start()
    ends = time.monotonic() + DEADLOCK
    for thread in threads:
        thread.join(timeout=max(0.0, ends - time.monotonic()))
    stuck = [thread.name for thread in threads if thread.is_alive()]

    added = set().union(*(w.added for w in workers))
    counts = sum((w.counts for w in workers), Counter())
    mismatches = [m for w in workers for m in w.mismatches]
    errors = [e for w in workers for e in w.errors]
    total = store.index.count() if not stuck else -1
    expected_total = FIXED + len(added)
    stored = store.get_by_ids(sorted(added)) if not stuck else []
    intact = sum(
        doc.page_content == (pooled_document(int(doc.id[5:])).page_content)
        if doc.id and doc.id.startswith("pool-")
        else doc.page_content.startswith("thread ")
        for doc in stored
    )
    reliability(
        area="concurrency",
        case=f"{THREADS} threads x {CALLS} calls: embed_query, similarity_search, "
        "add_documents on one encoder and one embedded store",
        expected="no deadlock or error; results equal to serial; count = distinct documents",
        outcome=f"{counts['embed_query']} queries, {counts['similarity_search']} searches, "
        f"{counts['add_documents']} additions; {len(stuck)} threads stuck, {len(errors)} errors, "
        f"{len(mismatches)} results differing from serial; count {total} for "
        f"{expected_total} distinct documents, {intact} added documents intact",
        lost=f"{expected_total - total} documents" if not stuck else "unknown (deadlock)",
    )
    assert not stuck, f"deadlock: {stuck} still running after {DEADLOCK:.0f} s"
    assert not errors, errors[:5]
    assert not mismatches, mismatches[:5]
    assert min(counts[op] for op in ("embed_query", "similarity_search", "add_documents")) > 0
    assert total == expected_total
    assert len(stored) == len(added) == intact
