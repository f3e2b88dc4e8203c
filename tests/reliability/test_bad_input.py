"""Bad input at every entry point: a typed error saying expected / found / fix, before any write.

Each case feeds one kind of bad input to every public entry point that takes it (encoder, LangChain
embeddings, ``QdrantIndex``, ``T5QdrantVectorStore``; sync and async), checks that each raises
``InvalidInputError`` (or the named ``T5VectorsError``) whose message says what was expected and
what was found, and that the collection holds exactly what it held before. The row recorded for
the report is computed from those calls. Damaged checkpoints and a collection of the wrong
size are in ``test_bad_models.py``.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import resource
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from qdrant_client import QdrantClient

from t5_vectors import (
    IngestError,
    InvalidInputError,
    QdrantIndex,
    T5Embeddings,
    T5Encoder,
    T5QdrantVectorStore,
    TruncationWarning,
)

AREA = "bad input"
SEED_TEXTS = ["Qdrant stores vectors.", "T5 reads text.", "Agents retrieve documents."]

Call = Callable[[], object]


def describe(error: BaseException | None) -> str:
    """``Type: first line`` of an exception (what a report row shows), or ``accepted``."""
    if error is None:
        return "accepted"
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:160]}" if lines else type(error).__name__


def run(call: Call) -> BaseException | None:
    """Run *call* (awaiting it when it returns a coroutine); the exception it raised, if any."""
    try:
        result = call()
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    except Exception as err:
        return err
    return None


@pytest.fixture
def store(tiny_encoder: T5Encoder) -> Iterator[T5QdrantVectorStore]:
    """A vector store over an in-memory collection already holding three documents."""
    client = QdrantClient(":memory:")
    vector_store = T5QdrantVectorStore(tiny_encoder, client=client, collection_name="bad_input")
    vector_store.add_texts(SEED_TEXTS, ids=["seed-0", "seed-1", "seed-2"])
    yield vector_store
    client.close()


def check_refused(
    reliability: Any,
    store: T5QdrantVectorStore,
    case: str,
    calls: dict[str, Call],
    *,
    error: type[BaseException] = InvalidInputError,
    mentions: str = "",
) -> None:
    """Run every call; each must raise *error* naming what was expected, with nothing written."""
    before = store.index.count()
    snapshot = store.index.get([f"seed-{i}" for i in range(len(SEED_TEXTS))])
    outcomes = {name: run(call) for name, call in calls.items()}
    after = store.index.count()
    refused = {name: err for name, err in outcomes.items() if _is(err, error)}
    kinds = sorted({type(err).__name__ if err else "accepted" for err in outcomes.values()})
    sample = next(iter(refused.values()), None)
    reliability(
        area=AREA,
        case=case,
        expected=f"{error.__name__} (expected/found/fix) at every entry point, nothing written",
        outcome=f"{len(refused)}/{len(calls)} entry points raised {', '.join(kinds)}; "
        f"e.g. {describe(sample)}",
        lost="nothing" if after == before else f"count {before} -> {after}",
    )
    wrong = {name: describe(err) for name, err in outcomes.items() if name not in refused}
    assert not wrong, wrong
    for name, err in refused.items():
        message = str(err).lower()
        assert "expected" in message, (name, message)
        assert "found" in message, (name, message)
        assert mentions.lower() in message, (name, message)
    assert after == before
    assert store.index.get([f"seed-{i}" for i in range(len(SEED_TEXTS))]) == snapshot


def _is(err: BaseException | None, error: type[BaseException]) -> bool:
    """*err* is *error*, or a streaming ingestion stopped by it (``IngestError`` from *error*)."""
    return isinstance(err, error) or (
        isinstance(err, IngestError) and isinstance(err.__cause__, error)
    )


# ------------------------------------------------------------------------------------ texts
def text_calls(store: T5QdrantVectorStore, bad: Any) -> dict[str, Call]:
    """Every entry point that takes a text, fed *bad* (after valid items where it takes a list)."""
    encoder = store.index.embedder.encoder
    assert encoder is not None
    embeddings = T5Embeddings(encoder=encoder)
    index = store.index
    good = ["a valid text", "another valid text"]

    def stream() -> Iterator[Any]:
        yield from [*good, bad]

    return {
        "T5Encoder.encode": lambda: encoder.encode([*good, bad]),
        "T5Encoder.aencode": lambda: encoder.aencode([*good, bad]),
        "T5Encoder.count_tokens": lambda: encoder.count_tokens([bad]),
        "T5Embeddings.embed_documents": lambda: embeddings.embed_documents([*good, bad]),
        "T5Embeddings.embed_query": lambda: embeddings.embed_query(bad),
        "T5Embeddings.aembed_documents": lambda: embeddings.aembed_documents([*good, bad]),
        "T5Embeddings.aembed_query": lambda: embeddings.aembed_query(bad),
        "QdrantIndex.add": lambda: index.add([*good, bad]),
        "QdrantIndex.aadd": lambda: index.aadd([*good, bad]),
        "QdrantIndex.ingest(list)": lambda: index.ingest([*good, bad]),
        "QdrantIndex.ingest(stream, bad first)": lambda: index.ingest(iter([bad, *good])),
        "QdrantIndex.search": lambda: index.search(bad),
        "QdrantIndex.asearch": lambda: index.asearch(bad),
        "QdrantIndex.mmr": lambda: index.mmr(bad),
        "T5QdrantVectorStore.add_texts": lambda: store.add_texts([*good, bad]),
        "T5QdrantVectorStore.aadd_texts": lambda: store.aadd_texts([*good, bad]),
        "T5QdrantVectorStore.similarity_search": lambda: store.similarity_search(bad),
        "T5QdrantVectorStore.asimilarity_search": lambda: store.asimilarity_search(bad),
        "T5QdrantVectorStore.max_marginal_relevance_search": (
            lambda: store.max_marginal_relevance_search(bad)
        ),
    }


BAD_TEXTS = {
    "None as a text": (None, "None"),
    "an int as a text": (42, "int"),
    "bytes as a text": (b"raw bytes", "decode"),
    "lone surrogate '\\ud800' in a text": ("before \ud800 after", "surrogate"),
    "invalid UTF-8 read with surrogateescape": (
        b"caf\xe9 \xff\xfe".decode("utf-8", "surrogateescape"),
        "surrogate",
    ),
}


@pytest.mark.parametrize("case", list(BAD_TEXTS))
def test_bad_texts_are_refused_everywhere(case, store, reliability):
    bad, mentions = BAD_TEXTS[case]
    check_refused(reliability, store, case, text_calls(store, bad), mentions=mentions)


def test_surrogate_in_document_page_content_is_refused(store, reliability):
    documents = [Document(page_content="fine"), Document(page_content="bad \udcff here")]
    calls: dict[str, Call] = {
        "QdrantIndex.add": lambda: store.index.add(documents),
        "QdrantIndex.ingest": lambda: store.index.ingest(documents),
        "QdrantIndex.aingest": lambda: store.index.aingest(documents),
        "T5QdrantVectorStore.add_documents": lambda: store.add_documents(documents),
        "T5QdrantVectorStore.aadd_documents": lambda: store.aadd_documents(documents),
    }
    check_refused(
        reliability,
        store,
        "lone surrogate in Document.page_content",
        calls,
        mentions="documents[1].page_content",
    )


def test_bad_document_in_a_stream_stops_at_it_and_a_rerun_completes(store, reliability):
    """A stream cannot be checked ahead: batches before the bad document are written."""
    documents: list[Any] = [f"streamed {i}" for i in range(8)]
    documents[5] = None
    before = store.index.count()
    error = run(lambda: store.index.ingest(iter(documents), batch_size=2))
    written = store.index.count() - before
    documents[5] = "streamed 5"
    report = store.index.ingest(iter(documents), batch_size=2)
    reliability(
        area=AREA,
        case="None at position 5 of a streamed ingest (generator, batch_size 2)",
        expected="IngestError from InvalidInputError naming document 5; earlier batches kept; "
        "the fixed re-run writes only the rest",
        outcome=f"{describe(error)}; {written} written before; re-run wrote {report.written}, "
        f"skipped {report.skipped}",
        lost="nothing" if store.index.count() - before == 8 else "documents missing",
    )
    assert isinstance(error, IngestError)
    assert isinstance(error.__cause__, InvalidInputError)
    assert "document 5" in str(error)
    assert written == 4
    assert (report.written, report.skipped) == (4, 4)
    assert store.index.count() - before == 8


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_and_whitespace_texts_are_embedded_everywhere(text, store, reliability):
    """The policy: empty and whitespace-only texts are valid; T5 reads each as ``</s>`` alone."""
    encoder = store.index.embedder.encoder
    assert encoder is not None
    embeddings = T5Embeddings(encoder=encoder)
    before = store.index.count()
    outcomes = {
        "encode": run(lambda: encoder.encode([text])),
        "embed_query": run(lambda: embeddings.embed_query(text)),
        "aembed_documents": run(lambda: embeddings.aembed_documents([text])),
        "add_texts": run(lambda: store.add_texts([text], ids=[f"blank-{len(text)}"])),
        "similarity_search": run(lambda: store.similarity_search(text, k=1)),
    }
    stored = store.get_by_ids([f"blank-{len(text)}"])
    same_as_empty = np.allclose(encoder.encode([text]), encoder.encode([""]), atol=1e-6)
    reliability(
        area=AREA,
        case=f"empty/whitespace text {text!r}",
        expected="embedded everywhere (policy: valid text, vector of </s>), stored unchanged",
        outcome=f"{sum(e is None for e in outcomes.values())}/{len(outcomes)} entry points "
        f"accepted; tokens {encoder.tokenize([text])[0]}; same vector as '': {same_as_empty}; "
        f"stored page_content {stored[0].page_content!r}"
        if stored
        else "not stored",
        lost="nothing" if store.index.count() == before + 1 else "count mismatch",
    )
    assert all(error is None for error in outcomes.values()), {
        name: describe(error) for name, error in outcomes.items()
    }
    assert stored[0].page_content == text
    assert same_as_empty
    assert store.index.count() == before + 1


def test_million_character_text_is_truncated_with_one_warning(st5_path, reliability):
    """One warning per encoder, the whole text stored, no runaway time or memory."""
    text = "word " * 200_000
    client = QdrantClient(":memory:")
    with T5Encoder.from_pretrained(st5_path, device="cpu", dtype="float32") as encoder:
        index = QdrantIndex(encoder, collection_name="long", storage=client)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = encoder.encode([text])
            second = encoder.encode([text, "short"])
            index.add([Document(page_content=text, id="long")])
        seconds = time.perf_counter() - started
        rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
        truncation = [w for w in caught if issubclass(w.category, TruncationWarning)]
        stored = index.get(["long"])
        ids = encoder.tokenize([text])[0]
    client.close()
    reliability(
        area=AREA,
        case="a 1,000,000-character text (encode x2, then QdrantIndex.add)",
        expected="truncated to max_length with exactly one TruncationWarning per encoder; "
        "full text stored",
        outcome=f"{len(truncation)} TruncationWarning(s); {len(ids)} tokens fed "
        f"(max_length {encoder.max_length}); stored {len(stored[0].page_content):,} characters; "
        f"3 tokenizations in {seconds:.1f} s; peak RSS +{rss_growth_mb:.0f} MB",
        lost="nothing (only the embedding sees the first max_length tokens)",
    )
    assert len(truncation) == 1
    assert len(ids) == encoder.max_length
    np.testing.assert_allclose(first[0], second[0], atol=1e-6)
    assert stored[0].page_content == text
    assert rss_growth_mb < 1024


# --------------------------------------------------------------------------------- metadata
class _Opaque:
    def __repr__(self) -> str:
        return "<Opaque>"


BAD_METADATA: dict[str, tuple[dict[Any, Any], str]] = {
    "metadata datetime": ({"when": datetime.datetime(2024, 5, 1, 12, 0)}, "metadata['when']"),
    "metadata set": ({"tags": {"a", "b"}}, "sorted(value)"),
    "metadata numpy int64": ({"n": np.int64(3)}, "value.item()"),
    "metadata numpy float32": ({"x": np.float32(0.5)}, "value.item()"),
    "metadata arbitrary object": ({"obj": _Opaque()}, "<Opaque>"),
    "metadata bytes": ({"raw": b"\x00\x01"}, "bytes"),
    "metadata NaN": ({"score": float("nan")}, "finite"),
    "metadata infinity": ({"score": float("-inf")}, "finite"),
    "metadata int beyond 64 bits": ({"big": 2**70}, "64 bits"),
    "metadata non-str key": ({1: "one"}, "int key"),
    "metadata nested bad value": (
        {"author": {"names": ["Ada", {"born": datetime.date(1815, 12, 10)}]}},
        "metadata['author']['names'][1]['born']",
    ),
    "metadata nested non-str key": ({"a": {("t", 1): 2}}, "metadata['a']"),
    "metadata lone surrogate value": ({"title": "caf\udce9"}, "surrogate"),
    "metadata lone surrogate key": ({"k\ud800": 1}, "surrogate"),
}


@pytest.mark.parametrize("case", list(BAD_METADATA))
def test_metadata_that_is_not_json_is_refused(case, store, reliability):
    metadata, mentions = BAD_METADATA[case]
    documents = [Document(page_content="ok"), Document(page_content="x", metadata=metadata)]
    calls: dict[str, Call] = {
        "QdrantIndex.add": lambda: store.index.add(documents),
        "QdrantIndex.ingest": lambda: store.index.ingest(documents),
        "QdrantIndex.aadd": lambda: store.index.aadd(documents),
        "T5QdrantVectorStore.add_documents": lambda: store.add_documents(documents),
        "T5QdrantVectorStore.add_texts": lambda: store.add_texts(["ok", "x"], [{}, metadata]),
        "T5QdrantVectorStore.aadd_texts": lambda: store.aadd_texts(["ok", "x"], [{}, metadata]),
    }
    check_refused(reliability, store, case, calls, mentions=mentions)


def test_metadata_conversions_are_documented_and_exact(store, reliability):
    """What is accepted though not plain JSON: tuples become lists, numpy float64 a float."""
    metadata = {"pair": (1, "a"), "score": np.float64(0.25), "nested": {"t": (True, None)}}
    store.add_documents([Document(page_content="converted", metadata=metadata, id="conv")])
    back = store.get_by_ids(["conv"])[0].metadata
    reliability(
        area=AREA,
        case="metadata tuple and numpy float64",
        expected="stored as JSON: tuple -> list, float64 -> float (documented)",
        outcome=f"came back as {json.dumps(back)} with types "
        f"{type(back['pair']).__name__}/{type(back['score']).__name__}",
        lost="nothing",
    )
    assert back == {"pair": [1, "a"], "score": 0.25, "nested": {"t": [True, None]}}
    assert type(back["score"]) is float


# -------------------------------------------------------------------------------------- ids
def test_duplicate_ids_with_different_documents_are_refused(store, reliability):
    docs = [Document(page_content="first", id="dup"), Document(page_content="second", id="dup")]
    same_source = [{"source": "a.pdf", "page": 1}, {"source": "a.pdf", "page": 2}]
    calls: dict[str, Call] = {
        "QdrantIndex.add(ids=)": lambda: store.index.add(["one", "two"], ids=["dup", "dup"]),
        "QdrantIndex.add(Document.id)": lambda: store.index.add(docs),
        "QdrantIndex.aadd(Document.id)": lambda: store.index.aadd(docs),
        "T5QdrantVectorStore.add_documents": lambda: store.add_documents(docs),
        "T5QdrantVectorStore.add_texts(int and str id)": (
            lambda: store.add_texts(["one", "two"], ids=[7, "7"])  # type: ignore[list-item]
        ),
        "add_texts, same text and source, no ids": (
            lambda: store.add_texts(["same chunk", "same chunk"], same_source)
        ),
    }
    check_refused(reliability, store, "duplicate ids with different documents in one call", calls)


def test_duplicate_ids_in_an_ingest_stream_are_updates(store, reliability):
    """Ingestion is a stream of updates: a later document with the same id replaces the earlier."""
    docs = [Document(page_content="old", id="upd"), Document(page_content="new", id="upd")]
    before = store.index.count()
    report = store.index.ingest(iter(docs))
    stored = store.get_by_ids(["upd"])
    reliability(
        area=AREA,
        case="the same id twice in one ingest stream",
        expected="documented: the later document updates the earlier (last wins), one point",
        outcome=f"written {report.written}, skipped {report.skipped}; stored "
        f"{[d.page_content for d in stored]}; count {before} -> {store.index.count()}",
        lost="the earlier version, by design (an update)",
    )
    assert [d.page_content for d in stored] == ["new"]
    assert store.index.count() == before + 1


def test_identical_duplicates_are_stored_once(store, reliability):
    before = store.index.count()
    ids = store.add_texts(["twice", "twice"], ids=["same", "same"])
    after = store.index.count()
    reliability(
        area=AREA,
        case="the same document twice in one call (same id, text, metadata)",
        expected="accepted, stored once (nothing can be lost)",
        outcome=f"returned ids {ids}; count {before} -> {after}",
        lost="nothing",
    )
    assert ids == ["same", "same"]
    assert after == before + 1


BAD_IDS: dict[str, object] = {
    "float id": 1.5,
    "bool id": True,
    "tuple id": ("a", 1),
    "bytes id": b"id",
    "empty str id": "",
    "lone surrogate in id": "id-\ud800",
}


@pytest.mark.parametrize("case", list(BAD_IDS))
def test_unsupported_ids_are_refused(case, store, reliability):
    bad = BAD_IDS[case]
    calls: dict[str, Call] = {
        "QdrantIndex.add": lambda: store.index.add(["a", "b"], ids=["ok", bad]),  # type: ignore[list-item]
        "T5QdrantVectorStore.add_texts": lambda: store.add_texts(["a", "b"], ids=["ok", bad]),  # type: ignore[list-item]
        "T5QdrantVectorStore.aadd_texts": lambda: store.aadd_texts(["a", "b"], ids=["ok", bad]),  # type: ignore[list-item]
        "QdrantIndex.get": lambda: store.index.get(["seed-0", bad]),  # type: ignore[list-item]
        "T5QdrantVectorStore.get_by_ids": lambda: store.get_by_ids(["seed-0", bad]),  # type: ignore[list-item]
        "T5QdrantVectorStore.delete": lambda: store.delete(["seed-0", bad]),  # type: ignore[list-item]
        "QdrantIndex.adelete": lambda: store.index.adelete(["seed-0", bad]),  # type: ignore[list-item]
    }
    check_refused(reliability, store, case, calls, mentions="[1]")


def test_none_inside_ids(store, reliability):
    """``None`` in ``ids=`` of an add means "derive this one"; in a lookup it is an error."""
    added = store.add_texts(["derived", "given"], ids=[None, "given"])  # type: ignore[list-item]
    error = run(lambda: store.get_by_ids(["given", None]))  # type: ignore[list-item]
    reliability(
        area=AREA,
        case="None inside ids",
        expected="add: None derives an id (documented); get/delete: InvalidInputError",
        outcome=f"add returned {added[0][:8]}.../{added[1]}; get: {describe(error)}",
        lost="nothing",
    )
    assert added[1] == "given"
    assert len(added[0]) == 36
    assert isinstance(error, InvalidInputError)


# ---------------------------------------------------------------------------------- filters
def test_filter_on_an_unknown_key_matches_nothing(store, reliability):
    results = store.similarity_search("vectors", k=3, filter={"no_such_key": "x"})
    unfiltered = store.similarity_search("vectors", k=3)
    reliability(
        area=AREA,
        case="filter on a metadata key no document has",
        expected="no error; matches nothing, as in Qdrant (documented: the key may come later)",
        outcome=f"{len(results)} results with the filter, {len(unfiltered)} without",
        lost="nothing",
    )
    assert results == []
    assert len(unfiltered) == 3


BAD_FILTERS: dict[str, tuple[object, str]] = {
    "filter given as a str that is not KEY=VALUE": ("a.pdf", "KEY=VALUE"),
    "filter with an empty key": ({"": "x"}, "non-empty"),
    "filter with a non-str key": ({3: "x"}, "non-empty"),
    "filter with a NaN value": ({"score": float("nan")}, "finite"),
    "filter with an empty list": ({"tag": []}, "at least one"),
    "filter with an empty dict": ({"author": {}}, "non-empty dict"),
    "filter with an object value": ({"when": datetime.date(2024, 1, 1)}, "date"),
    "filter with a lone surrogate": ({"title": "\udce9"}, "surrogate"),
}


@pytest.mark.parametrize("case", list(BAD_FILTERS))
def test_malformed_filters_are_refused(case, store, reliability):
    bad, mentions = BAD_FILTERS[case]
    calls: dict[str, Call] = {
        "QdrantIndex.search": lambda: store.index.search("q", filter=bad),  # type: ignore[arg-type]
        "QdrantIndex.count": lambda: store.index.count(filter=bad),  # type: ignore[arg-type]
        "T5QdrantVectorStore.similarity_search": lambda: store.similarity_search("q", filter=bad),  # type: ignore[arg-type]
        "T5QdrantVectorStore.asimilarity_search": lambda: store.asimilarity_search("q", filter=bad),  # type: ignore[arg-type]
        "T5QdrantVectorStore.max_marginal_relevance_search": (
            lambda: store.max_marginal_relevance_search("q", filter=bad)  # type: ignore[arg-type]
        ),
        "retriever.invoke": lambda: store.as_retriever(search_kwargs={"filter": bad}).invoke("q"),
    }
    check_refused(reliability, store, case, calls, mentions=mentions)


# ---------------------------------------------------------------------------------- vectors
def vector_calls(store: T5QdrantVectorStore, bad: Any) -> dict[str, Call]:
    return {
        "QdrantIndex.search(vector)": lambda: store.index.search(bad),
        "QdrantIndex.ammr(vector)": lambda: store.index.ammr(bad),
        "similarity_search_by_vector": lambda: store.similarity_search_by_vector(bad),
        "asimilarity_search_by_vector": lambda: store.asimilarity_search_by_vector(bad),
        "similarity_search_with_score_by_vector": (
            lambda: store.similarity_search_with_score_by_vector(bad)
        ),
        "max_marginal_relevance_search_by_vector": (
            lambda: store.max_marginal_relevance_search_by_vector(bad)
        ),
        "amax_marginal_relevance_search_by_vector": (
            lambda: store.amax_marginal_relevance_search_by_vector(bad)
        ),
    }


def _vector_with(dim: int, position: int, value: float) -> list[float]:
    vector = [0.1] * dim
    vector[position] = value
    return vector


BAD_VECTORS: dict[str, tuple[Callable[[int], object], str]] = {
    "query vector one too long": (lambda dim: [0.1] * (dim + 1), "shape"),
    "query vector one too short": (lambda dim: [0.1] * (dim - 1), "shape"),
    "query vector 2-D": (lambda dim: [[0.1] * dim], "shape"),
    "query vector with NaN": (lambda dim: _vector_with(dim, 3, float("nan")), "index 3"),
    "query vector with +inf": (lambda dim: _vector_with(dim, 0, float("inf")), "index 0"),
    "query vector None": (lambda dim: None, "NoneType"),
    "query vector of str items": (lambda dim: ["x"] * dim, "floats"),
}


@pytest.mark.parametrize("case", list(BAD_VECTORS))
def test_bad_query_vectors_are_refused(case, store, reliability):
    make, mentions = BAD_VECTORS[case]
    bad = make(store.index.dim)
    check_refused(reliability, store, case, vector_calls(store, bad), mentions=mentions)


# ------------------------------------------------------------------------------- containers
def test_containers_of_the_wrong_kind_are_refused(store, reliability):
    """A str where a list is expected (a classic: every character becomes a document)."""
    calls: dict[str, Call] = {
        "T5Encoder.encode(str)": lambda: store.index.embedder.encoder.encode("one text"),  # type: ignore[union-attr]
        "T5Embeddings.embed_documents(str)": (
            lambda: T5Embeddings(encoder=store.index.embedder.encoder).embed_documents("text")  # type: ignore[arg-type]
        ),
        "T5Embeddings.embed_query(list)": (
            lambda: T5Embeddings(encoder=store.index.embedder.encoder).embed_query(["a"])  # type: ignore[arg-type]
        ),
        "QdrantIndex.add(str)": lambda: store.index.add("one text"),  # type: ignore[arg-type]
        "QdrantIndex.add(None)": lambda: store.index.add(None),  # type: ignore[arg-type]
        "QdrantIndex.ingest(Document)": lambda: store.index.ingest(Document(page_content="x")),  # type: ignore[arg-type]
        "T5QdrantVectorStore.add_texts(str)": lambda: store.add_texts("one text"),
        "add_texts(metadatas too short)": lambda: store.add_texts(["a", "b"], [{}]),
        "add_texts(ids too short)": lambda: store.add_texts(["a", "b"], ids=["x"]),
        "add_texts(ids=str)": lambda: store.add_texts(["a"], ids="x"),  # type: ignore[arg-type]
        "similarity_search(k=0)": lambda: store.similarity_search("q", k=0),
        "similarity_search(k='3')": lambda: store.similarity_search("q", k="3"),  # type: ignore[arg-type]
    }
    check_refused(reliability, store, "wrong containers and arguments (str for list, k=0)", calls)
