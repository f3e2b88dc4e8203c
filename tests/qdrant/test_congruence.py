"""Congruence: the same calls give the same results on every backend.

As qdrant-client tests its local mode against the server, this suite runs one scenario on
Qdrant Edge (a new folder), qdrant-client's local mode (a folder it wrote) and ``:memory:``, and
compares each with ``:memory:`` as the reference. Rankings must agree id for id, scores within
:data:`SCORE_PLACES` decimal places (1e-4: Edge scores in float32 SIMD, local mode in numpy);
ties are compared as groups (ties have no defined order on any engine). Where HNSW answers, the
result is compared with exact search as recall. ``integration_tests/test_congruence.py`` runs
the same comparison against a server when ``QDRANT_URL`` is set.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from qdrant_client import QdrantClient

from t5_vectors import CollectionSpec, QdrantIndex
from t5_vectors.errors import CollectionConfigError
from t5_vectors.plan.ids import point_id
from t5_vectors.plan.model_record import read_record
from t5_vectors.storage.base import Hnsw
from t5_vectors.storage.edge.backend import EdgeBackend
from t5_vectors.testing import SAMPLE_SENTENCES
from tests.qdrant.conftest import VectorTable

SCORE_PLACES = 4
KINDS = ("edge", "local-mode", "memory")
_PAIRS = zip(SAMPLE_SENTENCES, SAMPLE_SENTENCES[5:] + SAMPLE_SENTENCES[:5], strict=True)
TEXTS = [*SAMPLE_SENTENCES, *(f"{a} {b}" for a, b in _PAIRS)]
DOCUMENTS = [
    Document(
        page_content=text,
        id=f"doc-{i}",
        metadata={"source": f"file-{i % 4}.md", "n": i, "tag": ["even", "odd"][i % 2]},
    )
    for i, text in enumerate(TEXTS)
]
QUERY = "vector search with token pieces"
SEARCHES: list[dict[str, Any]] = [
    {"mode": "dense"},
    {"mode": "dense", "filter": {"source": "file-1.md"}},
    {"mode": "dense", "filter": {"tag": ["odd", "x"], "n": 5}},
    {"mode": "maxsim"},
    {"mode": "rerank", "dense_limit": 10},
    {"mode": "sparse"},
    {"mode": "sparse", "filter": {"source": ["file-0.md", "file-2.md"]}},
    {"mode": "hybrid"},
    {"mode": "hybrid", "fusion": "dbsf"},
    {"mode": "hybrid", "rrf_k": 60},
]


def ranking(pairs: list[tuple[Document, float]]) -> list[tuple[float, list[str]]]:
    """Scores best first, rounded to :data:`SCORE_PLACES`, each with the ids sharing it."""
    groups: dict[float, list[str]] = {}
    for document, score in pairs:
        groups.setdefault(round(score, SCORE_PLACES), []).append(str(document.id))
    return [(score, sorted(ids)) for score, ids in groups.items()]


def open_index(kind: str, tmp_path: Path, embedding: Any, **options: Any) -> QdrantIndex:
    """A QdrantIndex on backend *kind* (a fresh store under *tmp_path*)."""
    options.setdefault("collection_name", "congruence")
    if kind == "memory":
        return QdrantIndex(embedding, storage=":memory:", **options)
    folder = tmp_path / kind
    if kind == "local-mode" and not folder.exists():
        QdrantClient(path=str(folder)).close()  # a folder local mode wrote
    index = QdrantIndex(embedding, storage=folder, **options)
    assert index.connection.kind == kind
    return index


@pytest.fixture(scope="module")
def stores(tiny_encoder: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("congruence")
    indexes = {}
    for kind in KINDS:
        spec = CollectionSpec(token_vectors=True, sparse_vectors=True)
        index = open_index(kind, root, tiny_encoder, spec=spec)
        index.ingest(DOCUMENTS)
        indexes[kind] = index
    yield indexes
    for index in indexes.values():
        index.close()


@pytest.mark.parametrize("kind", KINDS[:2])
@pytest.mark.parametrize("search", SEARCHES, ids=lambda s: "-".join(map(str, s.values())))
def test_every_search_mode_agrees(stores: dict[str, Any], kind: str, search: dict[str, Any]):
    reference = stores["memory"].search(QUERY, k=8, **search)
    assert reference  # the comparison is not vacuous
    assert ranking(stores[kind].search(QUERY, k=8, **search)) == ranking(reference)


@pytest.mark.parametrize("kind", KINDS[:2])
def test_mmr_threshold_get_count_agree(stores: dict[str, Any], kind: str) -> None:
    index, reference = stores[kind], stores["memory"]

    def ids(pairs: list[tuple[Document, float]]) -> list[str | None]:
        return [document.id for document, _ in pairs]

    for lambda_mult in (0.0, 0.5, 1.0):
        expected = reference.mmr(QUERY, k=5, fetch_k=12, lambda_mult=lambda_mult)
        assert ids(index.mmr(QUERY, k=5, fetch_k=12, lambda_mult=lambda_mult)) == ids(expected)
    scores = [score for _, score in reference.search(QUERY, k=10)]
    cut = (scores[3] + scores[4]) / 2
    assert ranking(index.search(QUERY, k=10, score_threshold=cut)) == ranking(
        reference.search(QUERY, k=10, score_threshold=cut)
    )
    wanted = ["doc-3", "doc-0", "missing", "doc-17"]
    assert index.get(wanted) == reference.get(wanted)
    assert [d.id for d in index.get(wanted)] == ["doc-3", "doc-0", "doc-17"]
    for where in (None, {"source": "file-1.md"}, {"tag": "even"}, {"n": 1000}):
        assert index.count(where) == reference.count(where)
    assert index.count() == len(DOCUMENTS)
    record, expected_record = (
        read_record(store.backend.describe(store.collection_name)) for store in (index, reference)
    )
    assert record is not None
    assert record.fingerprint == expected_record.fingerprint  # type: ignore[union-attr]
    assert np.array_equal(record.probe, expected_record.probe)  # type: ignore[union-attr, arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_writes_deletes_and_validation_agree(kind: str, tmp_path: Path, tiny_encoder: Any) -> None:
    index = open_index(kind, tmp_path, tiny_encoder)
    assert index.add(DOCUMENTS[:10]) == [f"doc-{i}" for i in range(10)]
    index.delete(["doc-1", "doc-2", "never"])
    assert index.count() == 8
    assert [d.id for d in index.get(["doc-1", "doc-3"])] == ["doc-3"]
    changed = Document(page_content="changed text", id="doc-3", metadata={"source": "x.md"})
    assert index.add([changed]) == ["doc-3"]
    assert index.get(["doc-3"]) == [changed]
    assert index.count({"source": "x.md"}) == 1
    # An existing collection is validated the same way everywhere, before anything is written.
    with pytest.raises(CollectionConfigError, match="distance 'cosine'"):
        QdrantIndex(
            tiny_encoder,
            collection_name="congruence",
            storage=index.backend,
            spec=CollectionSpec(distance="dot"),
        )
    with pytest.raises(CollectionConfigError, match="vectors of size"):
        QdrantIndex(
            VectorTable({"a": [1.0, 0.0]}), collection_name="congruence", storage=index.backend
        )
    assert index.count() == 8
    index.delete()
    assert index.count() == 0
    index.close()


def test_hnsw_on_edge_finds_what_exact_search_finds(tmp_path: Path) -> None:
    """Where HNSW answers, recall@10 against exact search is asserted instead of equality."""
    rng = np.random.default_rng(7)
    dim, n = 48, 3000
    table = {f"text {i}": rng.normal(size=dim).tolist() for i in range(n)}
    embedding = VectorTable(table)
    # Index from the first kilobytes (by default Edge scans collections this small exactly).
    small = Hnsw(m=16, ef_construct=100, full_scan_threshold=10)
    backend = EdgeBackend(tmp_path / "edge", hnsw=small, indexing_threshold_kb=10)
    index = QdrantIndex(embedding, collection_name="recall", storage=backend)
    index.ingest(list(table), batch_size=500)  # the ingest ends by building the index
    stats = index.backend.stats(index.collection_name)
    assert stats.points == n
    assert stats.indexed_vectors >= n  # HNSW answers, not a scan
    queries = rng.normal(size=(25, dim))
    recalls = []
    for query in queries:
        exact = {d.id for d, _ in index.search(query, k=10, exact=True)}
        approximate = {d.id for d, _ in index.search(query, k=10)}
        wide = {d.id for d, _ in index.search(query, k=10, hnsw_ef=512)}
        recalls.append((len(exact & approximate) / 10, len(exact & wide) / 10))
    mean_default, mean_wide = np.mean(recalls, axis=0)
    assert mean_default >= 0.95
    assert mean_wide >= mean_default
    index.close()
    backend.close()


@pytest.mark.parametrize("kind", ["edge", "local-mode"])
def test_threads_search_and_write_as_serial_execution_does(
    kind: str, tmp_path: Path, tiny_encoder: Any
) -> None:
    """Searches running while other threads write return what a serial run returns."""
    index = open_index(kind, tmp_path, tiny_encoder)
    index.add(DOCUMENTS[:16])
    # Writers add documents in their own source; readers search filtered to the first 16.
    only_first = {"source": ["file-0.md", "file-1.md", "file-2.md", "file-3.md"]}
    serial = {text: ranking(index.search(text, k=5, filter=only_first)) for text in TEXTS[:8]}
    errors: list[BaseException] = []
    results: list[tuple[str, list[tuple[float, list[str]]]]] = []

    def write(start: int) -> None:
        try:
            for i in range(start, start + 12, 3):
                index.add(
                    [Document(page_content=f"extra {i}", id=f"x{i}", metadata={"source": "w"})]
                )
        except BaseException as error:
            errors.append(error)

    def read() -> None:
        try:
            for text in TEXTS[:8]:
                results.append((text, ranking(index.search(text, k=5, filter=only_first))))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(s,)) for s in range(3)]
    threads += [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 3 * 8
    assert all(found == serial[text] for text, found in results)
    assert index.count({"source": "w"}) == 12
    index.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_set_payload_merges_top_level_keys_and_keeps_the_rest(
    kind: str, tmp_path: Path, tiny_encoder: Any
) -> None:
    """``set_payload`` merges keys into existing points; search, vectors and documents stay."""
    index = open_index(kind, tmp_path, tiny_encoder)
    index.add(DOCUMENTS[:6])
    before = index.search(QUERY, k=6)
    first, second = index.get(["doc-0", "doc-1"])
    ids = [point_id("doc-0"), point_id("doc-1")]
    index.backend.set_payload(
        index.collection_name, [(ids[0], {"file": {"digest": "a", "chunks": 3}})]
    )
    await index.abackend.set_payload(
        index.collection_name, [(ids[1], {"file": {"digest": "b", "chunks": 1}, "z": 1})]
    )
    index.backend.set_payload(index.collection_name, [])  # nothing to do
    records = index.backend.retrieve(index.collection_name, ids, with_payload=True)
    payloads = {str(r.id): r.payload for r in records}
    assert payloads[str(ids[0])]["file"] == {"digest": "a", "chunks": 3}
    assert payloads[str(ids[1])]["file"] == {"digest": "b", "chunks": 1}
    assert payloads[str(ids[1])]["z"] == 1
    assert payloads[str(ids[0])]["page_content"] == first.page_content
    assert index.get(["doc-0", "doc-1"]) == [first, second]  # documents as they were
    assert ranking(index.search(QUERY, k=6)) == ranking(before)  # vectors untouched
    index.close()
