"""`t5-vectors search`, `info` and `delete` end to end."""

from __future__ import annotations

import pytest

from t5_vectors import QdrantIndex, T5Encoder
from t5_vectors.plan.filters import parse_key_values as parse_filters


@pytest.fixture
def ingested(cli, docs):
    run = cli("ingest", str(docs), "--collection", "docs", "--json")
    assert run.status == 0, run.err
    return run.json()


def test_search_json_ranks_like_the_library(cli, ingested, st5_path, store):
    run = cli("search", "when to water", "--collection", "docs", "-k", "3", "--json", model=None)
    assert run.status == 0, run.err
    result = run.json()
    assert result["model"] == str(st5_path)  # the recorded model, without --model
    rows = result["results"]
    assert [row["rank"] for row in rows] == [1, 2, 3]
    scores = [row["score"] for row in rows]
    assert scores == sorted(scores, reverse=True)
    encoder = T5Encoder.from_pretrained(st5_path, device="cpu", dtype="float32")
    with QdrantIndex(encoder, collection_name="docs", storage=store) as index:
        expected = index.search("when to water", k=3)
    encoder.close()
    assert [row["id"] for row in rows] == [doc.id for doc, _ in expected]
    assert scores == pytest.approx([score for _, score in expected], abs=1e-5)
    for row in rows:
        assert row["source"] == row["metadata"]["source"]
        assert row["id"] == f"{row['source']}#{row['chunk']}"


def test_search_text_output_filter_and_mmr(cli, ingested, docs, monkeypatch):
    monkeypatch.chdir(docs.parent)
    run = cli("search", "spider mites", "--collection", "docs", "-k", "2")
    assert run.status == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].startswith("1. ")
    assert "(chunk " in lines[0]
    assert lines[1].startswith("   ")
    assert len(lines) == 4
    only = cli(
        "search",
        "spider mites",
        "--collection",
        "docs",
        "--json",
        "-k",
        "10",
        "--filter",
        "source=docs/light.txt",  # relative to the current folder
    ).json()["results"]
    assert only
    assert {row["source"] for row in only} == {str(docs / "light.txt")}
    first_chunks = cli(
        "search", "plants", "--collection", "docs", "--json", "-k", "10", "--filter", "chunk=0"
    ).json()["results"]
    assert len(first_chunks) == 3
    assert {row["chunk"] for row in first_chunks} == {0}
    mmr = cli("search", "plants", "--collection", "docs", "--mmr", "--json", "-k", "3").json()
    assert mmr["mode"] == "mmr"
    assert len(mmr["results"]) == 3


def test_parse_filters():
    assert parse_filters([]) is None
    assert parse_filters(["chunk=0", "lang=en", "draft=false", "n=1.5"]) == {
        "chunk": 0,
        "lang": "en",
        "draft": False,
        "n": 1.5,
    }
    assert parse_filters(["tag=a", "tag=b"]) == {"tag": ["a", "b"]}
    assert parse_filters(["source=/abs/a.md"]) == {"source": "/abs/a.md"}
    assert parse_filters(["k=[1]"]) == {"k": "[1]"}  # only scalars are read as JSON


def test_info_lists_collections_points_and_model(cli, ingested, st5_path):
    text = cli("info")
    assert text.status == 0, text.err
    assert f"docs: {ingested['chunks']} points, vectors 24 cosine, model {st5_path}" in text.out
    data = cli("info", "--collection", "docs", "--json").json()
    (item,) = data["collections"]
    assert item["points"] == ingested["chunks"]
    assert item["vectors"] == {"": {"size": 24, "distance": "cosine"}}
    assert item["model"] == str(st5_path)


def test_delete_a_source_then_the_collection(cli, ingested, docs):
    folder = cli("search", "x", "--collection", "docs", "--json", "-k", "100").json()["results"]
    pests = [row for row in folder if row["source"] == str(docs / "sub" / "pests.md")]
    run = cli("delete", "--collection", "docs", "--source", str(docs / "sub"))
    assert run.status == 0, run.err
    assert f"Deleted {len(pests)} chunks" in run.out
    left = cli("info", "--collection", "docs", "--json").json()["collections"][0]["points"]
    assert left == ingested["chunks"] - len(pests)
    again = cli("delete", "--collection", "docs", "--source", str(docs / "sub"))
    assert again.status == 2
    assert "found none" in again.err
    gone = cli("delete", "--collection", "docs", "--yes")
    assert gone.status == 0
    assert f"({left} points)" in gone.out
    assert cli("info", "--json").json()["collections"] == []
