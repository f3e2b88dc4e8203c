"""`t5-vectors ingest --sparse --token-vectors` and `search --mode ...` end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from qdrant_client import QdrantClient, models

from t5_vectors.plan.modes import MODES
from t5_vectors.storage.base import Record
from tests.cli.conftest import open_store

NEEDLE_WORD = "zqxjv"  # made up; its pieces appear in no other file


@pytest.fixture
def corpus(docs: Path) -> Path:
    (docs / "shipping.txt").write_text(
        f"Ship the ferns on Monday in the crate marked {NEEDLE_WORD}, packed with damp moss."
    )
    return docs


@pytest.fixture
def rich(cli, corpus):
    run = cli(
        "ingest", str(corpus), "--collection", "rich", "--sparse", "--token-vectors", "--json"
    )
    assert run.status == 0, run.err
    return run.json()


@pytest.fixture
def plain(cli, corpus):
    run = cli("ingest", str(corpus), "--collection", "plain", "--json")
    assert run.status == 0, run.err
    return run.json()


def _stored(store: Path, collection: str) -> list[Record]:
    connection = open_store(store)
    try:
        records, _ = connection.backend.scroll(collection, limit=10_000, with_vectors=True)
    finally:
        connection.close()
    return records


def _error(run) -> str:
    assert run.status == 2, (run.out, run.err)
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("t5-vectors: error: ")
    return lines[0]


def test_ingest_stores_every_vector_asked_for(rich, store):
    assert rich["vectors"] == "dense 24 cosine + tokens float32 + sparse"
    assert rich["modes"] == list(MODES)
    records = _stored(store, "rich")
    assert len(records) == rich["chunks"]
    for record in records:
        assert set(record.vectors) == {"", "tokens", "langchain-sparse"}
        assert len(record.vectors["tokens"])
        assert record.vectors["langchain-sparse"].indices


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_returns_results(cli, rich, mode):
    run = cli(
        "search", "when to water", "--collection", "rich", "--mode", mode, "-k", "3", "--json"
    )
    assert run.status == 0, run.err
    result = run.json()
    assert result["mode"] == mode
    assert ("fusion" in result) == (mode == "hybrid")
    assert len(result["results"]) == 3
    scores = [row["score"] for row in result["results"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    "options",
    [
        ("--mode", "sparse"),
        ("--mode", "hybrid"),
        ("--mode", "hybrid", "--fusion", "dbsf", "--prefetch", "8"),
    ],
)
def test_a_rare_exact_term_is_first_in_sparse_and_hybrid(cli, rich, corpus, options):
    run = cli("search", NEEDLE_WORD, "--collection", "rich", *options, "-k", "2", "--json")
    assert run.status == 0, run.err
    result = run.json()
    assert result["results"][0]["source"] == str(corpus / "shipping.txt")
    if "--fusion" in options:
        assert (result["fusion"], result["prefetch"]) == ("dbsf", 8)


def test_text_output_of_a_mode(cli, rich, corpus, monkeypatch):
    monkeypatch.chdir(corpus)
    run = cli("search", NEEDLE_WORD, "--collection", "rich", "--mode", "sparse", "-k", "1")
    assert run.status == 0, run.err
    assert run.out.splitlines()[0].endswith("shipping.txt  (chunk 0)")


def test_a_plain_reingest_keeps_the_extra_vectors_filled(cli, rich, corpus, store):
    changed = corpus / "light.txt"
    changed.write_text(changed.read_text() + " A south window gives the most light in winter.")
    run = cli("ingest", str(corpus), "--collection", "rich", "--json")  # no --sparse, no tokens
    assert run.status == 0, run.err
    again = run.json()
    assert again["vectors"] == rich["vectors"]
    assert again["written"] >= 1
    assert again["skipped"] == again["chunks"] - again["written"] > 0  # same hashes: skipped
    records = _stored(store, "rich")
    rewritten = [r for r in records if r.payload["metadata"]["source"] == str(changed)]
    assert rewritten
    for record in records:
        assert set(record.vectors) == {"", "tokens", "langchain-sparse"}
        assert len(record.vectors["tokens"])
        assert record.vectors["langchain-sparse"].indices
    found = cli("search", "south window", "--collection", "rich", "--mode", "hybrid", "--json")
    assert found.status == 0, found.err


def test_info_shows_the_layout_and_bytes_per_chunk(cli, rich, plain):
    run = cli("info", "--json")
    assert run.status == 0, run.err
    described = {item["name"]: item for item in run.json()["collections"]}
    layout = described["rich"]["layout"]
    assert layout["tokens"]["datatype"] == "float32"
    assert layout["sparse"]["name"] == "langchain-sparse"
    assert layout["modes"] == list(MODES)
    storage = described["rich"]["storage"]
    assert storage["sampled_points"] == rich["chunks"]
    assert storage["token_count"] > 0
    assert storage["token_bytes"] == pytest.approx(storage["token_count"] * 32 * 4, abs=0.2)
    assert storage["sparse_nnz"] > 0
    assert described["plain"]["layout"]["tokens"] is None
    assert described["plain"]["layout"]["modes"] == ["dense"]
    assert described["plain"]["storage"]["token_bytes"] == 0
    text = cli("info", "--collection", "rich").out
    assert "layout: dense 24 cosine + tokens float32 + sparse; modes: dense, sparse" in text
    assert "per chunk (" in text
    assert "per chunk" not in cli("info", "--collection", "rich", "--sample", "0").out


def test_float16_token_vectors(cli, corpus):
    run = cli(
        "ingest",
        str(corpus),
        "--collection",
        "half",
        "--token-vectors",
        "--token-dtype",
        "float16",
        "--json",
    )
    assert run.status == 0, run.err
    assert run.json()["vectors"] == "dense 24 cosine + tokens float16"
    assert run.json()["modes"] == ["dense", "maxsim", "rerank"]
    conflict = cli(
        "ingest", str(corpus), "--collection", "half", "--token-vectors", "--token-dtype", "float32"
    )
    line = _error(conflict)
    assert "expected collection 'half' to store float32 token vectors, found float16" in line
    assert "drop --token-dtype" in line
    same = cli("ingest", str(corpus), "--collection", "half", "--token-vectors", "--json")
    assert same.status == 0, same.err  # no --token-dtype: the stored one
    assert same.json()["written"] == 0


def test_modes_a_collection_cannot_serve(cli, plain):
    for mode, flag in (
        ("sparse", "--sparse"),
        ("hybrid", "--sparse"),
        ("maxsim", "--token-vectors"),
        ("rerank", "--token-vectors"),
    ):
        line = _error(cli("search", "q", "--collection", "plain", "--mode", mode))
        assert f"--mode {mode}: expected collection 'plain' to store" in line
        assert f"--collection OTHER {flag})" in line
        assert "search this one with --mode dense" in line


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--mode", "bm25"), "--mode: expected one of dense, sparse, hybrid, maxsim, rerank"),
        (("--mode", "hybrid", "--fusion", "max"), "--fusion: expected rrf or dbsf, found 'max'"),
        (("--fusion", "rrf"), "--fusion: expected together with --mode hybrid"),
        (("--mode", "sparse", "--fusion", "dbsf"), "found --mode sparse"),
        (("--mmr", "--mode", "hybrid"), "--mmr: expected with --mode dense"),
        (("--prefetch", "10"), "--prefetch: expected together with --mode hybrid or rerank"),
        (("--mode", "rerank", "--prefetch", "2"), "--prefetch: expected at least -k (4)"),
    ],
)
def test_bad_retrieval_flags(cli, options, message):
    # Refused before the store is opened: no store exists at all here.
    line = _error(cli("search", "q", "--collection", "rich", *options))
    assert message in line


def test_a_layout_the_collection_lacks_is_refused_before_writing(cli, plain, corpus, store):
    (corpus / "new.md").write_text("A new file that must not be written.")
    for flag in ("--sparse", "--token-vectors"):
        line = _error(cli("ingest", str(corpus), "--collection", "plain", flag))
        assert f"{flag}: expected collection 'plain' to store" in line
        assert "found dense 24 cosine" in line
        assert "t5-vectors delete --collection plain" in line
    assert len(_stored(store, "plain")) == plain["chunks"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--token-dtype", "float16"), "--token-dtype: expected together with --token-vectors"),
        (("--token-vectors", "--token-dtype", "int8"), "expected float32 or float16, found 'int8'"),
    ],
)
def test_bad_token_flags(cli, corpus, store, options, message):
    line = _error(cli("ingest", str(corpus), "--collection", "new", *options))
    assert message in line
    assert not store.exists()


def test_vectors_another_tool_wrote_are_neither_searched_nor_left_empty(cli, corpus, store):
    # langchain-qdrant's hybrid layout: its FastEmbed BM25 ids under t5-vectors' sparse name,
    # written by qdrant-client's local mode (a folder the CLI opens as it is).
    client = QdrantClient(path=str(store))
    client.create_collection(
        "lc",
        vectors_config={"": models.VectorParams(size=24, distance=models.Distance.COSINE)},
        sparse_vectors_config={
            "langchain-sparse": models.SparseVectorParams(modifier=models.Modifier.IDF)
        },
    )
    client.close()
    line = _error(cli("ingest", str(corpus), "--collection", "lc"))
    assert "found dense 24 cosine + 'langchain-sparse' (not t5-vectors' own)" in line
    assert "chunks written now would lack them" in line
    line = _error(cli("search", "q", "--collection", "lc", "--mode", "sparse"))
    assert "expected collection 'lc' to store sparse vectors" in line
    dense = cli("search", "q", "--collection", "lc", "--json")
    assert dense.status == 0, dense.err
    assert dense.json()["results"] == []
    layout = cli("info", "--collection", "lc", "--json").json()["collections"][0]["layout"]
    assert (layout["sparse"], layout["foreign"], layout["modes"]) == (
        None,
        ["langchain-sparse"],
        ["dense"],
    )
