"""Congruence: the same calls on embedded storage and on the server give the same results.

The embedded side is each backend in turn: Qdrant Edge (a new folder), qdrant-client's local
mode (a folder it wrote) and ``:memory:``. Scores agree to 1e-4; the search modes beyond dense
(MaxSim, rerank, sparse, hybrid) run in :func:`test_search_modes`, and copying a collection
between the server and embedded stores in :func:`test_copy_between_server_and_embedded`.
"""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from qdrant_client import models

from t5_vectors import CollectionSpec, QdrantIndex
from tests.qdrant.test_congruence import DOCUMENTS, QUERY, SEARCHES, open_index, ranking

EMBEDDED = ["edge", "local-mode", "memory"]

CORPUS = [
    Document(
        page_content=f"document {i}: {topic}",
        metadata={
            "source": f"{i % 4}.md",
            "page": i,
            "ratio": round(i / 7, 3),
            "tags": ["even" if i % 2 == 0 else "odd", f"m{i % 3}"],
            "author": {"name": ["Ada", "Alan", "Grace"][i % 3]},
            "draft": i % 5 == 0,
            "note": None if i % 6 == 0 else "n",
        },
        id=None if i % 4 == 0 else (str(i) if i % 4 == 1 else f"doc-{i}"),
    )
    for i, topic in enumerate(
        [
            "vector databases store embeddings",
            "transformers encode text",
            "cosine similarity of directions",
            "retrieval augmented generation",
            "payload filters in qdrant",
            "sentence embeddings and pooling",
            "batching many short queries",
            "tokenizers split text",
        ]
        * 5
    )
]

QUERIES = ["vector search", "text encoders", "filters on metadata", "batching"]
FILTERS = [
    None,
    {"source": "1.md"},
    {"tags": "even", "draft": False},
    {"page": [1, 5, 9, 13, 17]},
    {"author": {"name": "Ada"}},
    {"ratio": round(3 / 7, 3)},
    {"note": None},
    models.Filter(
        must_not=[
            models.FieldCondition(key="metadata.source", match=models.MatchValue(value="0.md"))
        ]
    ),
    models.Filter(
        must=[models.FieldCondition(key="metadata.page", range=models.Range(gte=10, lt=20))]
    ),
]


def _build(kind: str, distance: str, tiny_encoder, server, new_name, folder):
    name = new_name()
    embedded = open_index(kind, folder, tiny_encoder, collection_name=name, distance=distance)
    remote = QdrantIndex(
        tiny_encoder, collection_name=name, storage=server, spec=CollectionSpec(distance=distance)
    )
    reports = embedded.ingest(CORPUS, batch_size=7), remote.ingest(CORPUS, batch_size=7)
    assert reports[0].written == reports[1].written == len({d.id or d.page_content for d in CORPUS})
    return embedded, remote


@pytest.fixture(
    scope="module",
    params=[(kind, distance) for kind in EMBEDDED for distance in ("cosine", "dot", "euclid")],
    ids=lambda p: "-".join(p),
)
def pair(request, tiny_encoder, server, new_name, tmp_path_factory):
    """The same corpus embedded and on the server (read-only tests share it)."""
    kind, distance = request.param
    folder = tmp_path_factory.mktemp("embedded")
    embedded, remote = _build(kind, distance, tiny_encoder, server, new_name, folder)
    yield embedded, remote
    embedded.close()


@pytest.fixture(params=EMBEDDED)
def fresh_pair(request, tiny_encoder, server, new_name, tmp_path):
    """Like ``pair``, for tests that write."""
    embedded, remote = _build(request.param, "cosine", tiny_encoder, server, new_name, tmp_path)
    yield embedded, remote
    embedded.close()


def _same(left, right):
    assert [doc for doc, _ in left] == [doc for doc, _ in right]
    assert [s for _, s in left] == pytest.approx([s for _, s in right], rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("filter_", FILTERS, ids=range(len(FILTERS)))
def test_search(pair, query, filter_):
    embedded, remote = pair
    assert embedded.count(filter_) == remote.count(filter_)
    _same(embedded.search(query, k=8, filter=filter_), remote.search(query, k=8, filter=filter_))


@pytest.mark.parametrize("query", QUERIES)
def test_mmr(pair, query):
    embedded, remote = pair
    for lambda_mult in (0.0, 0.5, 1.0):
        _same(
            embedded.mmr(query, k=4, fetch_k=12, lambda_mult=lambda_mult),
            remote.mmr(query, k=4, fetch_k=12, lambda_mult=lambda_mult),
        )


def test_ids_payloads_and_deletes(fresh_pair):
    embedded, remote = fresh_pair
    ids = ["1", "doc-2", "5", 9, "missing"]
    assert embedded.get(ids) == remote.get(ids)
    for index in fresh_pair:
        index.delete(["1", "doc-2"])
        index.ingest(CORPUS[:8])
    assert embedded.count() == remote.count()
    left = embedded.backend.scroll(embedded.collection_name, limit=100, with_payload=True)[0]
    right = remote.backend.scroll(remote.collection_name, limit=100, with_payload=True)[0]
    assert {str(p.id): p.payload for p in left} == {str(p.id): p.payload for p in right}
    for index in fresh_pair:
        index.delete()
    assert embedded.count() == remote.count() == 0


def test_score_threshold(pair):
    embedded, remote = pair
    scores = [s for _, s in embedded.search("vector search", k=10)]
    threshold = scores[4]
    delta = 1e-4 if embedded.spec.distance != "euclid" else -1e-4
    left = embedded.search("vector search", k=10, score_threshold=threshold - delta)
    right = remote.search("vector search", k=10, score_threshold=threshold - delta)
    _same(left, right)


@pytest.fixture(scope="module", params=EMBEDDED)
def rich_pair(request, tiny_encoder, server, new_name, tmp_path_factory):
    """Token and sparse vectors, embedded and on the server."""
    name = new_name()
    folder = tmp_path_factory.mktemp("rich")
    options = {"collection_name": name, "token_vectors": True, "sparse_vectors": True}
    embedded = open_index(request.param, folder, tiny_encoder, **options)
    remote = QdrantIndex(tiny_encoder, storage=server, **options)
    embedded.ingest(DOCUMENTS)
    remote.ingest(DOCUMENTS)
    yield embedded, remote
    embedded.close()


@pytest.mark.parametrize("search", SEARCHES, ids=lambda s: "-".join(map(str, s.values())))
def test_search_modes(rich_pair, search):
    embedded, remote = rich_pair
    expected = remote.search(QUERY, k=8, exact=True, **search)
    assert expected
    assert ranking(embedded.search(QUERY, k=8, **search)) == ranking(expected)


def test_copy_between_server_and_embedded(rich_pair, tiny_encoder, new_name, tmp_path):
    embedded, remote = rich_pair
    there = new_name()
    report = embedded.copy_to(collection_name=there, client=remote.client)
    assert (report.points, report.created) == (len(DOCUMENTS), True)
    again = embedded.copy_to(collection_name=there, client=remote.client)
    assert (again.points, again.created) == (len(DOCUMENTS), False)
    options = {"token_vectors": True, "sparse_vectors": True, "create_if_missing": False}
    copied = QdrantIndex(tiny_encoder, collection_name=there, storage=remote.client, **options)
    back = copied.copy_to(path=tmp_path / "back")
    assert back.points == len(DOCUMENTS)
    restored = QdrantIndex(
        tiny_encoder, collection_name=there, storage=tmp_path / "back", **options
    )
    for search in SEARCHES:
        assert ranking(restored.search(QUERY, k=8, **search)) == ranking(
            embedded.search(QUERY, k=8, **search)
        )
    restored.close()
