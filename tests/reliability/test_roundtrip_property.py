"""Property: whatever goes in comes back out unchanged (hypothesis over unicode and metadata).

Random texts (emoji, combining marks, right-to-left scripts, NUL, newlines; lone surrogates are
refused by policy, so they are left out here and covered in ``test_bad_input.py``) and random
JSON metadata (nested dicts and lists, 64-bit ints, finite floats, bools, None, unicode keys) go
through ``QdrantIndex.add`` or ``ingest``; ``get`` and ``search`` must return ``page_content``,
``metadata`` (types included: ``1`` stays an int, ``1.0`` a float) and ``Document.id`` exactly as
given. The settings are derandomized so the run is the same every time.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from qdrant_client import QdrantClient

from t5_vectors import QdrantIndex, T5Encoder

EXAMPLES = 30

# Every code point except lone surrogates (category Cs): the policy refuses those.
TEXT_CHARACTERS = st.characters(codec="utf-8")
texts = st.one_of(
    st.text(TEXT_CHARACTERS, max_size=60),
    st.sampled_from(
        [
            "",
            " ",
            "emoji 👩‍👩‍👧‍👦 🏳️‍🌈 ✓",
            "combining: e\u0301 a\u0308 \u0915\u094d\u0937",
            "עברית ومرحبا mixed RTL",
            "NUL \x00 inside",
            "line one\nline two\r\n\ttabbed",
            "\ufeffBOM and \u200b zero width",
        ]
    ),
)
keys = st.text(TEXT_CHARACTERS, min_size=1, max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(TEXT_CHARACTERS, max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)
metadata = st.dictionaries(keys, json_values, max_size=5)
ids = st.one_of(
    st.text(TEXT_CHARACTERS, min_size=1, max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70),
)
documents = st.lists(st.tuples(texts, metadata, ids), min_size=1, max_size=4).filter(
    lambda docs: len({str(i) for _, _, i in docs}) == len(docs)
)

PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_names = itertools.count()


def typed(value: Any) -> Any:
    """*value* with every scalar tagged by its type, so ``1 == 1.0 == True`` cannot pass."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


@pytest.fixture(scope="module")
def client() -> Iterator[QdrantClient]:
    qdrant = QdrantClient(":memory:")
    yield qdrant
    qdrant.close()


@dataclass
class Tally:
    """How many examples and documents the property saw (for the report row)."""

    examples: int = 0
    documents: int = 0
    failures: list[str] = field(default_factory=list)


@pytest.mark.parametrize("path", ["add", "ingest"])
def test_ingest_then_get_and_search_return_exactly_what_went_in(
    path: str, tiny_encoder: T5Encoder, client: QdrantClient, reliability: Any
) -> None:
    tally = Tally()

    @PROPERTY
    @given(documents)
    def check(batch: list[tuple[str, dict[str, Any], str | int]]) -> None:
        index = QdrantIndex(tiny_encoder, collection_name=f"p{next(_names)}", storage=client)
        given_docs = [Document(page_content=t, metadata=m, id=i) for t, m, i in batch]  # type: ignore[arg-type]
        if path == "add":
            returned = index.add(given_docs)
            assert returned == [str(i) for _, _, i in batch]
        else:
            report = index.ingest(iter(given_docs), batch_size=3)
            assert report.written == len(batch)
        got = index.get([i for _, _, i in batch])
        found = {doc.id: doc for doc, _ in index.search(batch[0][0], k=len(batch))}
        tally.examples += 1
        tally.documents += len(batch)
        for text, meta, doc_id in batch:
            for where, doc in (
                ("get", got[[d.id for d in got].index(str(doc_id))]),
                ("search", found[str(doc_id)]),
            ):
                if (doc.page_content, typed(doc.metadata)) != (text, typed(meta)):
                    tally.failures.append(f"{where}: {text!r} {json.dumps(meta)[:60]}")
                assert doc.page_content == text
                assert typed(doc.metadata) == typed(meta)
                assert list(doc.metadata) == list(meta)  # key order kept too
        assert len(got) == len(batch)
        index.drop()

    try:
        check()
    finally:
        reliability(
            area="round trip",
            case=f"hypothesis: random unicode text, JSON metadata and ids via {path} -> get/search",
            expected="page_content, metadata (types and key order) and Document.id unchanged",
            outcome=f"{tally.examples} examples, {tally.documents} documents checked; "
            f"{len(tally.failures)} mismatches"
            + (f" (first: {tally.failures[0]})" if tally.failures else ""),
            lost=f"{len(tally.failures)} documents altered",
        )
