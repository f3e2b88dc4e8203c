"""The stored payload is langchain-qdrant's layout plus top-level bookkeeping."""

from __future__ import annotations

import datetime
import math

import pytest
from langchain_core.documents import Document

from t5_vectors.errors import InvalidInputError
from t5_vectors.plan.ids import generated_id, point_id
from t5_vectors.plan.payload import (
    CONTENT_KEY,
    HASH_KEY,
    ID_KEY,
    METADATA_KEY,
    as_document,
    document_from_payload,
    prepare_document,
    prepare_list,
    prepare_stream,
)


def test_payload_layout_is_exact():
    doc = Document(page_content="text", metadata={"source": "a.md", "page": 2, "tags": ["x"]})
    prepared = prepare_document(doc, "doc-1", "fp", where="documents[0]")
    assert prepared.payload == {
        CONTENT_KEY: "text",
        METADATA_KEY: {"source": "a.md", "page": 2, "tags": ["x"]},
        ID_KEY: "doc-1",
        HASH_KEY: prepared.content_hash,
    }
    assert (CONTENT_KEY, METADATA_KEY) == ("page_content", "metadata")  # langchain-qdrant's keys
    assert prepared.point_id == point_id("doc-1")
    assert prepared.text == "text"
    assert list(prepared.payload[METADATA_KEY]) == ["source", "page", "tags"]  # order kept


def test_payload_is_a_copy_and_the_document_is_not_touched():
    metadata = {"nested": {"a": [1, 2]}}
    doc = Document(page_content="t", metadata=metadata)
    prepared = prepare_document(doc, None, "fp", where="d")
    metadata["nested"]["a"].append(3)
    assert prepared.payload[METADATA_KEY] == {"nested": {"a": [1, 2]}}
    assert doc.id is None


def test_id_precedence_explicit_then_document_then_generated():
    doc = Document(page_content="t", metadata={"source": "s"}, id="from-doc")
    assert prepare_document(doc, "given", "fp", where="d").document_id == "given"
    assert prepare_document(doc, None, "fp", where="d").document_id == "from-doc"
    bare = Document(page_content="t", metadata={"source": "s"})
    assert prepare_document(bare, None, "fp", where="d").document_id == generated_id("t", "s")
    assert prepare_document(bare, 7, "fp", where="d").document_id == 7


def test_hash_changes_with_text_metadata_and_model_only():
    def digest(text, metadata, fingerprint="fp", doc_id="x"):
        doc = Document(page_content=text, metadata=metadata)
        return prepare_document(doc, doc_id, fingerprint, where="d").content_hash

    assert digest("a", {"k": 1}) == digest("a", {"k": 1}, doc_id="other")
    assert digest("a", {"k": 1, "j": 2}) == digest("a", {"j": 2, "k": 1})  # key order
    assert digest("a", {"k": 1}) != digest("b", {"k": 1})
    assert digest("a", {"k": 1}) != digest("a", {"k": 2})
    assert digest("a", {"k": 1}) != digest("a", {"k": 1}, fingerprint="other")


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"when": datetime.date(2024, 1, 1)}, r"metadata\['when'\]: expected a JSON .* date"),
        ({"score": math.nan}, r"metadata\['score'\]: expected a finite float"),
        ({"blob": b"\x00"}, r"metadata\['blob'\]: expected a JSON .* bytes"),
        ({1: "x"}, r"metadata: expected str keys"),
    ],
)
def test_metadata_that_qdrant_cannot_store_is_rejected(metadata, message):
    doc = Document(page_content="t")
    doc.metadata = metadata
    with pytest.raises(InvalidInputError, match=message):
        prepare_document(doc, None, "fp", where="documents[4]")


@pytest.mark.parametrize("bad", [None, 3, b"bytes", {"page_content": "x"}])
def test_only_documents_and_strings_are_documents(bad):
    with pytest.raises(InvalidInputError, match=r"documents\[0\]: expected a langchain_core"):
        as_document(bad, where="documents[0]")
    assert as_document("plain", where="x") == Document(page_content="plain")


def test_prepare_list_checks_every_document_and_the_ids():
    with pytest.raises(InvalidInputError, match=r"documents\[2\]"):
        prepare_list(["a", "b", 3], None, "fp")  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match=r"expected one id per document \(2\), found 1"):
        prepare_list(["a", "b"], ["x"], "fp")
    with pytest.raises(InvalidInputError, match="found a str"):
        prepare_list(["a", "b"], "xy", "fp")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="expected a list"):
        prepare_list("ab", None, "fp")  # type: ignore[arg-type]


def test_prepare_stream_validates_lists_up_front_and_generators_lazily():
    with pytest.raises(InvalidInputError, match=r"documents\[1\]"):
        prepare_stream(["ok", 5], "fp")  # type: ignore[list-item]
    lazy = prepare_stream(iter(["ok", 5]), "fp")  # type: ignore[list-item]
    assert next(lazy).text == "ok"
    with pytest.raises(InvalidInputError, match=r"documents\[1\]"):
        next(lazy)
    with pytest.raises(InvalidInputError, match="Wrap it in a list"):
        prepare_stream("one text", "fp")


def test_documents_come_back_exactly():
    payload = {CONTENT_KEY: "t", METADATA_KEY: {"id": 1}, ID_KEY: "1", HASH_KEY: "h"}
    assert document_from_payload(point_id("1"), payload) == Document(
        id="1", page_content="t", metadata={"id": 1}
    )
    # An int id comes back as LangChain's Document.id has it: a string.
    assert document_from_payload(point_id(5), {**payload, ID_KEY: 5}).id == "5"


def test_foreign_payloads_read_like_langchain_qdrant_writes_them():
    foreign = {CONTENT_KEY: "t", METADATA_KEY: None}
    assert document_from_payload(7, foreign) == Document(id="7", page_content="t", metadata={})
    assert document_from_payload("a-uuid", None) == Document(id="a-uuid", page_content="")
