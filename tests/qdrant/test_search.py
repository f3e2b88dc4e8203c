"""Search, filters, MMR semantics, and reaching documents by id."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from langchain_core.documents import Document
from qdrant_client import models

from t5_vectors.errors import InvalidInputError
from t5_vectors.plan.filters import to_filter
from t5_vectors.plan.ids import point_id

LIBRARY = [
    Document(page_content="alpha", metadata={"source": "a.md", "page": 1, "lang": "en"}, id="1"),
    Document(page_content="beta", metadata={"source": "a.md", "page": 2, "lang": "de"}, id="2"),
    Document(page_content="gamma", metadata={"source": "b.md", "page": 1, "lang": "en"}, id="3"),
    Document(
        page_content="delta",
        metadata={"source": "b.md", "page": 3, "author": {"name": "Ada"}, "score": 0.5},
        id="4",
    ),
    Document(
        page_content="epsilon", metadata={"source": "c.md", "draft": True, "note": None}, id="5"
    ),
]


@pytest.fixture
def library(make_index):
    index = make_index(collection_name="library")
    index.add(LIBRARY)
    return index


def test_search_ranks_like_brute_force_over_the_encoder(library, tiny_encoder):
    results = library.search("gamma", k=5)
    documents = tiny_encoder.encode([d.page_content for d in LIBRARY], kind="document")
    query = tiny_encoder.encode(["gamma"], kind="query")[0]
    expected = documents @ query / np.linalg.norm(documents, axis=1) / np.linalg.norm(query)
    order = np.argsort(-expected)
    assert [doc.id for doc, _ in results] == [LIBRARY[i].id for i in order]
    assert [score for _, score in results] == pytest.approx(expected[order].tolist(), abs=1e-5)
    assert results[0][0] == LIBRARY[2]  # id, text and metadata exactly as added


def test_search_by_vector_matches_search(library, tiny_encoder):
    vector = tiny_encoder.encode(["beta"], kind="query")[0]
    by_text = library.search("beta", k=3)
    for query in (vector, vector.tolist()):
        by_vector = library.search(query, k=3)
        assert [doc for doc, _ in by_vector] == [doc for doc, _ in by_text]
        assert [s for _, s in by_vector] == pytest.approx([s for _, s in by_text], abs=1e-6)
    with pytest.raises(InvalidInputError, match="expected 24 floats"):
        library.search([0.1, 0.2], k=3)
    with pytest.raises(InvalidInputError, match="expected 24 floats"):
        library.search(np.zeros((2, 24)), k=3)


@pytest.mark.parametrize(
    ("filter_", "ids"),
    [
        ({"source": "a.md"}, {"1", "2"}),
        ({"source": "b.md", "page": 1}, {"3"}),
        ({"lang": ["en", "de"]}, {"1", "2", "3"}),
        ({"page": [2, 3]}, {"2", "4"}),
        ({"author": {"name": "Ada"}}, {"4"}),
        ({"score": 0.5}, {"4"}),
        ({"draft": True}, {"5"}),
        ({"note": None}, {"5"}),
        ({"source": "nowhere.md"}, set()),
        ({}, {"1", "2", "3", "4", "5"}),
        (
            models.Filter(
                must_not=[
                    models.FieldCondition(
                        key="metadata.source", match=models.MatchValue(value="a.md")
                    )
                ]
            ),
            {"3", "4", "5"},
        ),
    ],
)
def test_filters(library, filter_, ids):
    assert {doc.id for doc, _ in library.search("alpha", k=10, filter=filter_)} == ids
    assert library.count(filter_) == len(ids)


ODD_KEYS = [
    Document(page_content="one", metadata={"a b": 1, "$x": "y", "n": 1, "x-y": 1}, id="1"),
    Document(page_content="two", metadata={"a b": 2, "n": 5, "lang": "en"}, id="2"),
    Document(page_content="three", metadata={"a b": 3, "n": 9, "lang": "fr"}, id="3"),
]


@pytest.mark.parametrize(
    ("filter_", "ids"),
    [
        ({"a b": 1}, {"1"}),
        ({"$x": "y"}, {"1"}),  # "$" starts an operator: refused, naming the accepted forms
        ({"x-y": 1}, {"1"}),
        ({"n": {"$gt": 1}}, {"2", "3"}),
        ({"n": {"$gte": 5, "$lt": 9}}, {"2"}),
        ({"n": {"$eq": 9}}, {"3"}),
        ({"lang": {"$ne": "fr"}}, {"1", "2"}),
        ({"n": {"$in": [1, 9]}}, {"1", "3"}),
        ({"n": {"$nin": [1, 9]}}, {"2"}),
        ({"$or": [{"lang": "en"}, {"n": 1}]}, {"1", "2"}),
        ({"$and": [{"n": {"$gt": 1}}, {"lang": "fr"}]}, {"3"}),
    ],
)
def test_dict_filters_with_operators_and_any_key(make_index, filter_, ids):
    with make_index(collection_name="odd") as index:
        index.add(ODD_KEYS)
        if filter_ == {"$x": "y"}:
            with pytest.raises(InvalidInputError, match=r"\$and or \$or at this level"):
                index.search("one", k=10, filter=filter_)
            return
        assert {doc.id for doc, _ in index.search("one", k=10, filter=filter_)} == ids
        assert index.count(filter_) == len(ids)


def test_dict_filters_become_metadata_conditions():
    assert to_filter(None) is None
    assert to_filter({}) is None
    # Filters come out in Qdrant's JSON form, which every backend parses for its engine.
    assert to_filter({"a": "x", "b": {"c": 2}}) == {
        "must": [
            {"key": "metadata.a", "match": {"value": "x"}},
            {"key": "metadata.b.c", "match": {"value": 2}},
        ]
    }
    mixed = to_filter({"a": ["x", 1]})
    assert mixed == {
        "must": [
            {
                "should": [
                    {"key": "metadata.a", "match": {"value": "x"}},
                    {"key": "metadata.a", "match": {"value": 1}},
                ]
            }
        ]
    }
    # A models.Filter given by a user is dumped at the public edge; it parses back the same.
    given = models.Filter(
        must=[models.FieldCondition(key="metadata.a", match=models.MatchValue(value="x"))],
        must_not=[models.HasIdCondition(has_id=[1])],
    )
    dumped = to_filter(given)
    assert dumped == {
        "must": [{"key": "metadata.a", "match": {"value": "x"}}],
        "must_not": [{"has_id": [1]}],
    }
    assert models.Filter.model_validate(dumped) == given


@pytest.mark.parametrize(
    ("filter_", "message"),
    [
        ("source", "filter: expected KEY=VALUE"),  # strings are the CLI's KEY=VALUE form
        (3.5, "expected a dict of metadata values, KEY=VALUE strings or a qdrant models.Filter"),
        ({"when": object()}, r"filter\['when'\]: expected a str"),
        ({"n": {"$gt": "x"}}, r"filter\['n'\]: expected a number after \$gt"),
        ({"n": {"$regex": "x"}}, r"filter\['n'\]: expected an operator among \$eq"),
        ({"n": {"$in": []}}, r"expected a non-empty list after \$in"),
        ({"n": {"$gt": 1, "k": 2}}, "either operators"),
        ({'a"b': 1}, "without '\"'"),
        ({"$or": {"a": 1}}, "a non-empty list of filter dicts"),
        ({"tags": []}, "at least one value"),
        ({"author": {}}, "non-empty dict"),
        ({1: "x"}, "non-empty str keys"),
    ],
)
def test_bad_filters_raise(library, filter_, message):
    with pytest.raises(InvalidInputError, match=message):
        library.search("alpha", filter=filter_)


def test_score_threshold_and_k(library):
    everything = library.search("alpha", k=5)
    cut = everything[2][1] - 1e-6
    kept = library.search("alpha", k=5, score_threshold=cut)
    assert [doc for doc, _ in kept] == [doc for doc, score in everything if score >= cut]
    assert len(kept) == 3
    assert len(library.search("alpha", k=2)) == 2
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidInputError, match="k: expected a positive int"):
            library.search("alpha", k=bad)
    with pytest.raises(InvalidInputError, match="score_threshold"):
        library.search("alpha", score_threshold="high")
    # Local mode is always exact: search parameters are left out (it warned on each query).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exact = library.search("alpha", k=2, search_params=models.SearchParams(exact=True))
        assert [doc for doc, _ in exact] == [doc for doc, _ in everything[:2]]
        assert library.search("alpha", k=2, hnsw_ef=64, exact=True) == exact
    for bad in ({"hnsw_ef": 0}, {"hnsw_ef": True}, {"exact": "yes"}):
        with pytest.raises(InvalidInputError, match=r"(hnsw_ef|exact): expected"):
            library.search("alpha", **bad)


@pytest.fixture
def near_duplicates(make_index, vector_table):
    table = vector_table(
        {
            "query": [1.0, 0.0, 0.0],
            "best": [1.0, 0.0, 0.0],
            "best again": [0.99, 0.14, 0.0],
            "different": [0.7, 0.0, 0.71],
        }
    )
    index = make_index(table, collection_name="mmr")
    index.add(["best", "best again", "different"], ids=["best", "dup", "diverse"])
    return index


def test_mmr_lambda_one_is_least_diverse(near_duplicates):
    assert [d.id for d, _ in near_duplicates.mmr("query", k=2, lambda_mult=1.0)] == ["best", "dup"]


def test_mmr_lambda_zero_is_most_diverse(near_duplicates):
    ids = [d.id for d, _ in near_duplicates.mmr("query", k=2, lambda_mult=0.0)]
    assert ids == ["best", "diverse"]


def test_mmr_keeps_qdrant_scores_and_respects_fetch_k_and_filter(near_duplicates):
    pairs = near_duplicates.mmr("query", k=3, fetch_k=3, lambda_mult=0.0)
    scores = {doc.id: score for doc, score in near_duplicates.search("query", k=3)}
    assert [score for _, score in pairs] == pytest.approx([scores[doc.id] for doc, _ in pairs])
    # With fetch_k=2 the diverse document is not even a candidate.
    assert {d.id for d, _ in near_duplicates.mmr("query", k=2, fetch_k=2, lambda_mult=0.0)} == {
        "best",
        "dup",
    }
    filtered = near_duplicates.mmr(
        "query",
        k=3,
        filter=models.Filter(
            must=[models.HasIdCondition(has_id=[point_id("dup"), point_id("diverse")])]
        ),
    )
    assert next(d.id for d, _ in filtered) == "dup"
    by_vector = near_duplicates.mmr([1.0, 0.0, 0.0], k=2, lambda_mult=0.0)
    assert [d.id for d, _ in by_vector] == ["best", "diverse"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lambda_mult": 1.5}, "lambda_mult: expected a number in"),
        ({"lambda_mult": -0.1}, "lambda_mult"),
        ({"fetch_k": 0}, "fetch_k: expected a positive int"),
    ],
)
def test_mmr_arguments_are_validated(near_duplicates, options, message):
    with pytest.raises(InvalidInputError, match=message):
        near_duplicates.mmr("query", **options)


def test_mmr_on_an_empty_collection(make_index):
    assert make_index().mmr("anything") == []


def test_named_vectors_and_other_distances(make_index, vector_table):
    table = vector_table({"q": [1.0, 0.0], "near": [0.9, 0.1], "far": [-1.0, 0.0]})
    for distance in ("dot", "euclid", "manhattan"):
        index = make_index(table, vector_name="dense", distance=distance)
        index.add(["near", "far"], ids=["n", "f"])
        assert [d.id for d, _ in index.search("q", k=2)] == ["n", "f"]
        assert [d.id for d, _ in index.mmr("q", k=2, lambda_mult=1)] == ["n", "f"]
        assert index.get(["f"])[0].page_content == "far"


def test_get_returns_documents_in_the_order_asked(library):
    assert [d.id for d in library.get(["3", "1", "missing", "3", 2])] == ["3", "1", "2"]
    assert library.get([]) == []
    with pytest.raises(InvalidInputError, match="expected a list of ids"):
        library.get("1")
    with pytest.raises(InvalidInputError, match=r"ids\[1\]"):
        library.get(["1", None])


def test_delete_by_id_ignores_missing_and_none_deletes_all(library):
    library.delete(["1", "missing", 4])
    assert sorted(d.id for d, _ in library.search("alpha", k=10)) == ["2", "3", "5"]
    library.delete([])
    assert library.count() == 3
    library.delete()
    assert library.count() == 0


async def test_delete_by_filter(library):
    library.delete(filter={"source": "a.md"})
    assert sorted(d.id for d, _ in library.search("alpha", k=10)) == ["3", "4", "5"]
    await library.adelete(filter={"page": {"$gte": 1}})
    assert sorted(d.id for d, _ in library.search("alpha", k=10)) == ["5"]
    with pytest.raises(InvalidInputError, match="expected ids or a filter, found both"):
        library.delete(["5"], filter={"draft": True})
    library.delete(filter={"draft": True})
    assert library.count() == 0


def test_ids_written_by_other_tools_are_reachable(make_index, client):
    index = make_index(collection_name="mixed")
    index.add(["ours"], ids=["5"])
    foreign_uuid = "6f1d3c52-8b0e-5d43-9a57-2e6c0b4f7a19"
    vector = [0.1] * index.dim
    client.upsert(
        "mixed",
        [
            models.PointStruct(
                id=5, vector=vector, payload={"page_content": "int", "metadata": None}
            ),
            models.PointStruct(id=foreign_uuid, vector=vector, payload={"page_content": "uuid"}),
        ],
    )
    # "5" addresses our uuid5 point and the foreign integer point 5 (it carries no t5-vectors
    # id); get() returns one document per id, ours first.
    assert [d.page_content for d in index.get(["5"])] == ["ours"]
    uuid_doc = index.get([foreign_uuid.upper()])
    assert uuid_doc == [Document(id=foreign_uuid, page_content="uuid", metadata={})]
    index.delete(["5"])  # both points the id addresses
    assert index.get(["5"]) == []
    assert index.count() == 1
    index.delete([foreign_uuid])
    assert index.count() == 0


def test_our_point_ids_do_not_reach_our_points_verbatim(make_index):
    index = make_index()
    index.add(["ours"], ids=["a"])
    assert index.get([point_id("a")]) == []
    index.delete([point_id("a")])
    assert index.count() == 1
