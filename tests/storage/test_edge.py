"""EdgeBackend: the embedded backend on Qdrant Edge.

Results are compared with qdrant-client's ``:memory:`` engine on the same points (ids, order and
scores); layout, persistence, the sidecar, errors and index building are checked through the
backend's public calls and the files it leaves.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from t5_vectors.errors import CollectionConfigError, InvalidInputError
from t5_vectors.storage.base import (
    Backend,
    DenseVectorSpec,
    Fuse,
    Hnsw,
    Mmr,
    Nearest,
    Point,
    Prefetch,
    Quantization,
    QueryPlan,
    Schema,
    SearchParams,
    SparseVector,
    SparseVectorSpec,
)
from t5_vectors.storage.edge.backend import EdgeBackend

DIM = 16
N = 120


def _points(n: int = N, seed: int = 0) -> list[Point]:
    rng = np.random.default_rng(seed)
    points = []
    for i in range(n):
        pid: int | str = i if i % 2 else str(uuid.UUID(int=i + 1))
        indices = tuple(sorted(rng.choice(50, size=4, replace=False).tolist()))
        points.append(
            Point(
                pid,
                {
                    "": rng.standard_normal(DIM).astype(np.float32),
                    "tok": rng.standard_normal((1 + i % 4, DIM)).astype(np.float32),
                    "sp": SparseVector(indices, tuple(rng.uniform(0.1, 1, 4).tolist())),
                },
                {
                    "page_content": f"text {i}",
                    "metadata": {"source": f"s{i % 3}", "i": i, "tags": [f"t{i % 5}"]},
                },
            )
        )
    return points


SCHEMA = Schema(
    dense={
        "": DenseVectorSpec(size=DIM),
        "tok": DenseVectorSpec(size=DIM, multivector=True),
    },
    sparse={"sp": SparseVectorSpec(idf=True)},
    payload_indexes={"metadata.source": "keyword"},
    metadata={"model": {"name": "tiny", "dim": DIM}},
)


def _client(points: list[Point]) -> QdrantClient:
    client = QdrantClient(":memory:")
    client.create_collection(
        "c",
        vectors_config={
            "": models.VectorParams(size=DIM, distance=models.Distance.COSINE),
            "tok": models.VectorParams(
                size=DIM,
                distance=models.Distance.COSINE,
                multivector_config=models.MultiVectorConfig(
                    comparator=models.MultiVectorComparator.MAX_SIM
                ),
            ),
        },
        sparse_vectors_config={"sp": models.SparseVectorParams(modifier=models.Modifier.IDF)},
    )

    def vector(value: Any) -> Any:
        if isinstance(value, SparseVector):
            return models.SparseVector(indices=list(value.indices), values=list(value.values))
        return value.tolist()

    client.upsert(
        "c",
        [
            models.PointStruct(
                id=p.id,
                vector={k: vector(v) for k, v in p.vectors.items()},
                payload=dict(p.payload),
            )
            for p in points
        ],
    )
    return client


@pytest.fixture
def backend(tmp_path: Path) -> Any:
    backend = EdgeBackend(tmp_path / "store")
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The same points in Edge and in qdrant-client's :memory: engine."""
    points = _points()
    edge = EdgeBackend(tmp_path_factory.mktemp("edge") / "store")
    edge.create("c", SCHEMA)
    edge.upsert("c", points)
    client = _client(points)
    yield edge, client, points
    edge.close()
    client.close()


def _same(edge_hits: list[Any], client_hits: list[Any], tol: float = 1e-4) -> None:
    """Same scores in the same order, and the same ids (in any order among equal scores)."""
    np.testing.assert_allclose(
        [h.score for h in edge_hits], [h.score for h in client_hits], rtol=tol, atol=tol
    )

    def groups(hits: list[Any]) -> list[set[str]]:
        out: list[set[str]] = []
        for i, h in enumerate(hits):
            if i and abs(h.score - hits[i - 1].score) <= tol:
                out[-1].add(str(h.id))
            else:
                out.append({str(h.id)})
        return out

    assert groups(edge_hits) == groups(client_hits)


def _query_vector(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)


# --- layout and lifecycle ------------------------------------------------------------------------


def test_is_a_backend_and_opening_creates_nothing(tmp_path):
    store = tmp_path / "store"
    backend = EdgeBackend(store)
    assert isinstance(backend, Backend)
    assert (backend.kind, backend.location) == ("edge", str(store))
    assert backend.list_collections() == []
    assert backend.describe("c") is None
    assert backend.drop("c") is False
    with pytest.raises(CollectionConfigError, match="expected it to exist"):
        backend.count("c")
    backend.close()
    assert not store.exists()


def test_quantized_originals_stay_on_disk_by_default(tmp_path):
    plain = Schema(dense={"": DenseVectorSpec(size=4), "t": DenseVectorSpec(size=4)})
    with EdgeBackend(tmp_path / "a") as backend:  # int8 by default: originals on disk
        backend.create("c", plain)
        described = backend.describe("c")
        assert described is not None
        assert all(spec.on_disk for spec in described.dense.values())
        backend.upsert(
            "c", [Point(1, {"": np.ones(4, np.float32), "t": np.ones(4, np.float32)}, {})]
        )
        backend.build_index("c")
        assert [
            hit.id for hit in backend.query("c", QueryPlan(Nearest(np.ones(4, np.float32)), 1))
        ] == [1]
    with EdgeBackend(tmp_path / "b", quantization=None) as backend:  # nothing quantized: in RAM
        backend.create("c", plain)
        described = backend.describe("c")
        assert described is not None
        assert not any(spec.on_disk for spec in described.dense.values())


def test_describe_returns_the_schema_as_created_after_reopening(tmp_path):
    schema = Schema(
        dense={
            "": DenseVectorSpec(size=8, distance="dot", on_disk=True),
            "tok": DenseVectorSpec(
                size=8,
                multivector=True,
                datatype="float16",
                quantization=Quantization("binary", always_ram=True),
                hnsw=Hnsw(m=0),
            ),
        },
        sparse={"sp": SparseVectorSpec(idf=False, on_disk=True)},
        quantization=Quantization("scalar", quantile=0.99, always_ram=True),
        hnsw=Hnsw(m=8, ef_construct=64, full_scan_threshold=100),
        payload_indexes={"metadata.source": "keyword", "metadata.i": "integer"},
        metadata={"model": "m", "probe": [0.5, 0.25]},
        on_disk_payload=True,
    )
    with EdgeBackend(tmp_path, originals_on_disk=False) as backend:
        backend.create("a", schema)
        backend.create("b", Schema(dense={"v": DenseVectorSpec(size=3)}))
        assert backend.describe("a") == schema
    with EdgeBackend(tmp_path) as backend:
        assert backend.list_collections() == ["a", "b"]
        assert backend.describe("a") == schema
        backend.set_metadata("a", {"model": "n"})
        backend.create_payload_index("a", "page_content", "text")
    with EdgeBackend(tmp_path) as backend:
        described = backend.describe("a")
        assert described is not None
        assert described.metadata == {"model": "n"}
        assert described.payload_indexes == {
            "metadata.source": "keyword",
            "metadata.i": "integer",
            "page_content": "text",
        }
    assert sorted(p.name for p in (tmp_path / "edge" / "a").iterdir()) == [
        "collection.json",
        "shard",
    ]


def test_create_twice_bad_names_and_drop(backend):
    backend.create("c", SCHEMA)
    with pytest.raises(CollectionConfigError, match="found one"):
        backend.create("c", SCHEMA)
    for name in ("", "../x", "a/b", ".hidden", "x" * 300):
        with pytest.raises(InvalidInputError, match="collection name"):
            backend.create(name, SCHEMA)
    backend.upsert("c", _points(10))
    assert backend.drop("c") is True
    assert backend.list_collections() == []
    assert not (backend.path / "edge" / "c").exists()
    backend.create("c", SCHEMA)  # the name is free again, and empty
    assert backend.count("c") == 0


def test_closed_backend_refuses_calls(tmp_path):
    backend = EdgeBackend(tmp_path)
    backend.close()
    backend.close()  # idempotent
    with pytest.raises(InvalidInputError, match="closed"):
        backend.list_collections()


def test_unreadable_sidecar_is_a_typed_error(tmp_path):
    with EdgeBackend(tmp_path) as backend:
        backend.create("c", SCHEMA)
    (tmp_path / "edge" / "c" / "collection.json").write_text("{not json")
    with EdgeBackend(tmp_path) as backend, pytest.raises(CollectionConfigError, match="restore"):
        backend.describe("c")
    (tmp_path / "edge" / "c" / "collection.json").write_text(json.dumps({"format": 99}))
    with EdgeBackend(tmp_path) as backend, pytest.raises(CollectionConfigError, match="format"):
        backend.count("c")


def test_a_create_interrupted_before_the_shard_existed_opens_empty(tmp_path):
    with EdgeBackend(tmp_path) as backend:
        backend.create("c", SCHEMA)
        backend.upsert("c", _points(5))
    # as if the process died after writing the sidecar and before Edge created the shard
    import shutil

    shutil.rmtree(tmp_path / "edge" / "c" / "shard")
    with EdgeBackend(tmp_path) as backend:
        assert backend.count("c") == 0
        backend.upsert("c", _points(5))
        assert backend.count("c") == 5


def test_points_persist_across_reopening(tmp_path):
    points = _points(30)
    with EdgeBackend(tmp_path) as backend:
        backend.create("c", SCHEMA)
        backend.upsert("c", points)
    with EdgeBackend(tmp_path) as backend:
        records = backend.retrieve("c", [p.id for p in points], with_vectors=True)
        assert {r.id for r in records} == {p.id for p in points}
        by_id = {r.id: r for r in records}
        for p in points:
            record = by_id[p.id]
            assert record.payload == p.payload
            assert record.vectors is not None
            sparse, given = record.vectors["sp"], p.vectors["sp"]
            assert isinstance(sparse, SparseVector)
            assert isinstance(given, SparseVector)
            assert sparse.indices == given.indices
            np.testing.assert_allclose(sparse.values, given.values, rtol=1e-6)
            stored = record.vectors["tok"]
            assert isinstance(stored, np.ndarray)
            assert stored.shape == np.shape(p.vectors["tok"])


# --- agreement with qdrant-client -------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_dense_search_agrees_with_qdrant_client(pair, seed):
    edge, client, _ = pair
    q = _query_vector(seed)
    hits = edge.query("c", QueryPlan(Nearest(q), limit=10))
    expected = client.query_points("c", q.tolist(), using="", limit=10, with_payload=True).points
    _same(hits, expected)
    assert [h.payload for h in hits] == [h.payload for h in expected]


def test_filter_threshold_offset_and_payload_selection_agree(pair):
    edge, client, _ = pair
    q = _query_vector(7)
    flt = models.Filter(
        must=[models.FieldCondition(key="metadata.source", match=models.MatchValue(value="s1"))]
    )
    plan = QueryPlan(
        Nearest(q),
        limit=5,
        offset=2,
        filter=flt.model_dump(mode="json", exclude_none=True),
        score_threshold=-0.2,
        with_payload=("page_content",),
    )
    hits = edge.query("c", plan)
    expected = client.query_points(
        "c",
        q.tolist(),
        using="",
        limit=5,
        offset=2,
        query_filter=flt,
        score_threshold=-0.2,
        with_payload=["page_content"],
    ).points
    _same(hits, expected)
    assert all(set(h.payload) == {"page_content"} for h in hits)


def test_multivector_and_sparse_search_agree(pair):
    edge, client, _ = pair
    tokens = np.random.default_rng(3).standard_normal((3, DIM)).astype(np.float32)
    _same(
        edge.query("c", QueryPlan(Nearest(tokens, "tok"), limit=8)),
        client.query_points("c", tokens.tolist(), using="tok", limit=8).points,
    )
    sparse = SparseVector((1, 7, 20, 33), (1.0, 0.5, 0.25, 2.0))
    _same(
        edge.query("c", QueryPlan(Nearest(sparse, "sp"), limit=8)),
        client.query_points(
            "c",
            models.SparseVector(indices=list(sparse.indices), values=list(sparse.values)),
            using="sp",
            limit=8,
        ).points,
    )


@pytest.mark.parametrize("method", ["rrf", "dbsf"])
def test_fusion_agrees(pair, method):
    edge, client, _ = pair
    q = _query_vector(11)
    sparse = SparseVector((2, 5, 9, 40), (1.0, 1.0, 1.0, 1.0))
    plan = QueryPlan(
        Fuse(method, rrf_k=5 if method == "rrf" else None),
        limit=10,
        prefetch=(Prefetch(Nearest(q), 20), Prefetch(Nearest(sparse, "sp"), 20)),
    )
    fusion = (
        models.RrfQuery(rrf=models.Rrf(k=5))
        if method == "rrf"
        else models.FusionQuery(fusion=models.Fusion.DBSF)
    )
    expected = client.query_points(
        "c",
        fusion,
        prefetch=[
            models.Prefetch(query=q.tolist(), using="", limit=20),
            models.Prefetch(
                query=models.SparseVector(indices=list(sparse.indices), values=list(sparse.values)),
                using="sp",
                limit=20,
            ),
        ],
        limit=10,
    ).points
    _same(edge.query("c", plan), expected)


def test_mmr_and_rerank_agree(pair):
    edge, client, _ = pair
    q = _query_vector(13)
    mmr = edge.query("c", QueryPlan(Mmr(q, diversity=0.6, candidates=30), limit=8))
    expected = client.query_points(
        "c",
        models.NearestQuery(nearest=q.tolist(), mmr=models.Mmr(diversity=0.6, candidates_limit=30)),
        using="",
        limit=8,
    ).points
    _same(mmr, expected)
    tokens = np.random.default_rng(5).standard_normal((2, DIM)).astype(np.float32)
    rerank = edge.query(
        "c", QueryPlan(Nearest(tokens, "tok"), limit=5, prefetch=(Prefetch(Nearest(q), 25),))
    )
    expected = client.query_points(
        "c",
        tokens.tolist(),
        using="tok",
        prefetch=[models.Prefetch(query=q.tolist(), using="", limit=25)],
        limit=5,
    ).points
    _same(rerank, expected)


FILTERS = [
    models.Filter(
        must=[models.FieldCondition(key="metadata.source", match=models.MatchValue(value="s2"))]
    ),
    models.Filter(
        should=[
            models.FieldCondition(key="metadata.i", range=models.Range(gte=10, lt=20)),
            models.FieldCondition(key="metadata.tags", match=models.MatchAny(any=["t1", "t2"])),
        ]
    ),
    models.Filter(
        must_not=[
            models.FieldCondition(
                key="metadata.source", match=models.MatchExcept(**{"except": ["s0"]})
            )
        ]
    ),
    models.Filter(
        must=[
            models.Filter(
                min_should=models.MinShould(
                    conditions=[
                        models.FieldCondition(key="metadata.i", range=models.Range(lt=40)),
                        models.FieldCondition(
                            key="metadata.source", match=models.MatchValue(value="s0")
                        ),
                        models.HasIdCondition(has_id=[1, 3, 5, str(uuid.UUID(int=1))]),
                    ],
                    min_count=2,
                )
            )
        ]
    ),
    models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="metadata.x"))]),
    models.Filter(must=[models.IsNullCondition(is_null=models.PayloadField(key="metadata.i"))]),
    models.Filter(
        must=[models.FieldCondition(key="metadata.tags", values_count=models.ValuesCount(gte=1))]
    ),
    models.Filter(must=[models.HasVectorCondition(has_vector="tok")]),
    models.Filter(
        must=[models.FieldCondition(key="page_content", match=models.MatchText(text="text 1"))]
    ),
]


@pytest.mark.parametrize("flt", FILTERS, ids=range(len(FILTERS)))
def test_filters_agree(pair, flt):
    edge, client, _ = pair
    as_json = flt.model_dump(mode="json", exclude_none=True)
    assert edge.count("c", as_json) == client.count("c", count_filter=flt).count
    records, _ = edge.scroll("c", filter=as_json, limit=N)
    expected, _ = client.scroll("c", scroll_filter=flt, limit=N)
    assert [str(r.id) for r in records] == [str(r.id) for r in expected]


def test_malformed_filters_are_typed_errors(pair):
    edge, _, _ = pair
    for bad in (
        {"must": [{"key": "a", "match": {"nope": 1}}]},
        {"nope": []},
        {"must": [{"has_id": "x", "other": 1}]},
        {"must": [{"key": "a", "range": {"gt": "x", "lt": {}}}]},
    ):
        with pytest.raises(InvalidInputError, match="filter"):
            edge.count("c", bad)


def test_scroll_pages_cover_every_point_once_in_id_order(pair):
    edge, client, points = pair
    seen: list[str] = []
    offset = None
    while True:
        page, offset = edge.scroll("c", limit=7, offset=offset, with_payload=False)
        seen += [str(r.id) for r in page]
        assert all(r.payload is None for r in page)
        if offset is None:
            break
    expected, _ = client.scroll("c", limit=N)
    assert seen == [str(r.id) for r in expected]
    assert len(set(seen)) == len(points)


def test_delete_by_ids_and_by_filter(backend):
    points = _points(30)
    backend.create("c", SCHEMA)
    backend.upsert("c", points)
    backend.delete("c", ids=[points[0].id, points[1].id])
    assert backend.count("c") == 28
    backend.delete("c", filter={"must": [{"key": "metadata.source", "match": {"value": "s1"}}]})
    assert backend.count("c") == 28 - sum(
        1 for p in points[2:] if p.payload["metadata"]["source"] == "s1"
    )
    with pytest.raises(InvalidInputError, match="neither"):
        backend.delete("c")


def test_engine_refusals_are_typed_errors(backend):
    backend.create("c", SCHEMA)
    with pytest.raises(InvalidInputError, match="dimension"):
        backend.upsert("c", [Point(1, {"": np.ones(3, np.float32)}, {})])
    with pytest.raises(InvalidInputError, match="point id"):
        backend.upsert("c", [Point(-1, {"": np.ones(DIM, np.float32)}, {})])
    with pytest.raises(InvalidInputError):
        backend.upsert("c", [Point("not-a-uuid", {"": np.ones(DIM, np.float32)}, {})])
    with pytest.raises(InvalidInputError, match="vector"):
        backend.query("c", QueryPlan(Nearest(np.ones(DIM, np.float32), "nope"), limit=1))


# --- index building -------------------------------------------------------------------------


def test_build_index_reports_progress_and_search_stays_exact(tmp_path):
    points = _points(600, seed=4)
    backend = EdgeBackend(tmp_path, index_after=None, indexing_threshold_kb=1, hnsw_ef=256)
    backend.create("c", Schema(dense={"": DenseVectorSpec(size=DIM)}))
    backend.upsert("c", [Point(p.id, {"": p.vectors[""]}, p.payload) for p in points])
    before = backend.stats("c")
    assert (before.points, before.status) == (600, "yellow")
    q = _query_vector(21)
    exact = backend.query("c", QueryPlan(Nearest(q), limit=10, params=SearchParams(exact=True)))
    calls: list[tuple[int, int | None]] = []
    backend.build_index("c", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 600), (600, 600)]
    after = backend.stats("c")
    assert (after.points, after.indexed_vectors, after.status) == (600, 600, "green")
    hits = backend.query("c", QueryPlan(Nearest(q), limit=10))
    assert [h.id for h in hits] == [h.id for h in exact]
    backend.close()


def test_upsert_builds_the_index_past_the_threshold(tmp_path):
    points = _points(300, seed=6)
    backend = EdgeBackend(tmp_path, index_after=200, indexing_threshold_kb=1)
    backend.create("c", Schema(dense={"": DenseVectorSpec(size=DIM)}))
    dense = [Point(p.id, {"": p.vectors[""]}, p.payload) for p in points]
    backend.upsert("c", dense[:150])
    assert backend.stats("c").status == "yellow"
    backend.upsert("c", dense[150:250])  # 250 >= 200: built inside this call
    assert backend.stats("c").status == "green"
    assert backend.stats("c").indexed_vectors == 250
    backend.upsert("c", dense[250:])
    assert backend.stats("c").status == "yellow"
    backend.close()  # builds what is pending
    with EdgeBackend(tmp_path, index_after=None) as reopened:
        stats = reopened.stats("c")
        assert (stats.points, stats.indexed_vectors) == (300, 300)


def test_points_left_unindexed_by_another_process_are_indexed_on_close(tmp_path):
    points = [Point(p.id, {"": p.vectors[""]}, p.payload) for p in _points(50, seed=8)]
    with EdgeBackend(tmp_path, index_after=None, build_on_close=False) as backend:
        backend.create("c", Schema(dense={"": DenseVectorSpec(size=DIM)}))
        backend.upsert("c", points)  # closed without building: as if the process had died
    assert (tmp_path / "edge" / "c" / "index-pending").exists()
    with EdgeBackend(tmp_path) as backend:
        assert backend.stats("c").status == "yellow"
        calls: list[tuple[int, int | None]] = []
        backend.build_index("c", progress=lambda done, total: calls.append((done, total)))
        assert calls == [(0, 50), (50, 50)]
        assert backend.stats("c").status == "green"
    assert not (tmp_path / "edge" / "c" / "index-pending").exists()
    with EdgeBackend(tmp_path, index_after=None, build_on_close=False) as backend:
        backend.upsert("c", points[:5])
    with EdgeBackend(tmp_path) as backend:
        assert backend.count("c") == 50  # opened (and found pending): close() builds it
    assert not (tmp_path / "edge" / "c" / "index-pending").exists()


def test_a_schema_the_engine_refuses_leaves_no_collection(backend):
    bad = Schema(dense={"": DenseVectorSpec(size=DIM)}, payload_indexes={"a": "nope"})  # type: ignore[dict-item]
    with pytest.raises(InvalidInputError, match="payload index"):
        backend.create("c", bad)
    with pytest.raises(InvalidInputError, match="compression"):
        backend.create(
            "c",
            Schema(
                dense={"": DenseVectorSpec(size=DIM)},
                quantization=Quantization("product", compression="x3"),
            ),
        )
    assert backend.list_collections() == []
    assert not backend.path.exists()  # nothing was written


def test_delete_with_ids_and_filter_deletes_the_listed_points_that_match(backend):
    points = _points(30)
    backend.create("c", SCHEMA)
    backend.upsert("c", points)
    listed = [p.id for p in points[:12]]
    s1 = {"must": [{"key": "metadata.source", "match": {"value": "s1"}}]}
    backend.delete("c", ids=listed, filter=s1)
    gone = {p.id for p in points[:12] if p.payload["metadata"]["source"] == "s1"}
    left = {r.id for r in backend.scroll("c", limit=100)[0]}
    assert left == {p.id for p in points} - gone
    backend.delete("c", ids=[])
    assert backend.count("c") == 30 - len(gone)
    backend.delete("c", filter={"must": []})
    assert backend.count("c") == 0


def test_new_collections_are_quantized_and_searches_rescore_with_the_originals(tmp_path):
    """By default a collection gets int8 scalar quantization (DEFAULT_QUANTIZATION); searches
    rescore their candidates with the original vectors, so scores are the exact cosines, and an
    exact search ignores the quantized vectors altogether."""
    from t5_vectors.storage.edge.backend import DEFAULT_OVERSAMPLING, DEFAULT_QUANTIZATION

    assert DEFAULT_QUANTIZATION is not None
    assert DEFAULT_OVERSAMPLING is not None
    assert DEFAULT_OVERSAMPLING > 1
    points = _points(600, seed=5)
    backend = EdgeBackend(tmp_path, index_after=None, indexing_threshold_kb=1, hnsw_ef=256)
    backend.create("c", Schema(dense={"": DenseVectorSpec(size=DIM)}))
    assert backend.describe("c").quantization == DEFAULT_QUANTIZATION
    backend.upsert("c", [Point(p.id, {"": p.vectors[""]}, p.payload) for p in points])
    backend.build_index("c")
    assert backend.stats("c").indexed_vectors == 600
    vectors = np.stack([p.vectors[""] for p in points])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [str(p.id) for p in points]
    found = 0
    for seed in range(20):
        q = _query_vector(100 + seed)
        cosines = vectors @ (q / np.linalg.norm(q))
        best = np.argsort(-cosines)[:10]
        exact = backend.query("c", QueryPlan(Nearest(q), limit=10, params=SearchParams(exact=True)))
        assert [str(h.id) for h in exact] == [ids[i] for i in best]
        np.testing.assert_allclose([h.score for h in exact], cosines[best], atol=1e-5)
        hits = backend.query("c", QueryPlan(Nearest(q), limit=10))
        for hit in hits:  # rescored: each score is the exact cosine of its point
            assert abs(hit.score - cosines[ids.index(str(hit.id))]) < 1e-5
        found += len({str(h.id) for h in hits} & {ids[i] for i in best})
    assert found / 200 >= 0.9
    # A schema without quantization stays unquantized when the backend is told so.
    plain = EdgeBackend(tmp_path / "plain", quantization=None)
    plain.create("c", Schema(dense={"": DenseVectorSpec(size=DIM)}))
    assert plain.describe("c").quantization is None
    plain.close()
    backend.close()
