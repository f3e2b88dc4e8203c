"""Point ids, generated ids and content hashes are deterministic and unambiguous."""

from __future__ import annotations

import uuid

import pytest

from t5_vectors.errors import InvalidInputError
from t5_vectors.plan.ids import (
    POINT_NAMESPACE,
    check_document_id,
    content_hash,
    foreign_point_id,
    generated_id,
    point_id,
)


def test_point_ids_are_pinned_uuid5():
    # Pinned: changing the namespace or the derivation would orphan every stored point.
    assert point_id("doc-1") == "ef9b75ad-5f65-5d2e-a2e4-c5153518ca7c"
    assert point_id("doc-1") == str(uuid.uuid5(POINT_NAMESPACE, "doc-1"))
    assert uuid.UUID(point_id("doc-1")).version == 5


def test_int_and_str_forms_of_an_id_are_one_point():
    assert point_id(42) == point_id("42") == "27346791-4614-593d-9b81-8fc0af4f6ded"
    assert point_id("a") != point_id("A")


def test_any_string_maps_to_a_valid_uuid():
    for value in ("", "x" * 10_000, "ü∂ƒ 🙂", "a" * 64, "../etc/passwd", "0"):
        assert uuid.UUID(point_id(value))


def test_point_ids_are_the_standard_uuid5_for_any_text():
    # point_id derives the UUID without uuid.uuid5 (speed); it must stay bit for bit the same.
    import random

    rng = random.Random(0)
    alphabet = "ab0-_ /ü∂ƒ漢字🙂\t\n"
    values = [
        "",
        "x" * 10_000,
        *("".join(rng.choices(alphabet, k=rng.randint(1, 40))) for _ in range(500)),
    ]
    for value in values:
        assert point_id(value) == str(uuid.uuid5(POINT_NAMESPACE, value)), value
    for text, source in [("some text", "a.md"), ("", None), ("ü", 3)]:
        generated = generated_id(text, source)
        assert uuid.UUID(generated).version == 5
        assert uuid.UUID(generated).variant == uuid.RFC_4122


@pytest.mark.parametrize("value", ["doc", "0", 0, 7, -3, 2**80, "a b"])
def test_valid_ids_pass_through(value):
    assert check_document_id(value) == value


@pytest.mark.parametrize("value", [True, False, 1.5, None, b"x", ["a"], ("a",), ""])
def test_invalid_ids_are_rejected_with_the_position(value):
    with pytest.raises(InvalidInputError, match=r"ids\[3\]"):
        check_document_id(value, where="ids[3]")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, 5),
        ("5", 5),
        ("05", None),
        ("-1", None),
        (-1, None),
        (2**64 - 1, 2**64 - 1),
        (2**64, None),
        ("٣", None),  # a non-ASCII digit is not a Qdrant integer id
        ("6F1D3C52-8B0E-5D43-9A57-2E6C0B4F7A19", "6f1d3c52-8b0e-5d43-9a57-2e6c0b4f7a19"),
        ("6f1d3c528b0e5d439a572e6c0b4f7a19", "6f1d3c52-8b0e-5d43-9a57-2e6c0b4f7a19"),
        ("doc-1", None),
    ],
)
def test_foreign_point_id(value, expected):
    assert foreign_point_id(value) == expected


def test_generated_ids_depend_on_source_and_text_only():
    assert generated_id("hello", "a.txt") == "aa352f49-4f2c-505f-929e-fea09a3f2c6a"
    assert generated_id("hello", "a.txt") == generated_id("hello", "a.txt")
    assert generated_id("hello", "b.txt") != generated_id("hello", "a.txt")
    assert generated_id("hello!", "a.txt") != generated_id("hello", "a.txt")
    assert generated_id("hello", None) != generated_id("hello", "None")
    # The generated id is itself an id: it never collides with the point id of the text.
    assert generated_id("hello", None) != point_id("hello")


def test_content_hash_covers_text_metadata_and_model_without_ambiguity():
    base = content_hash("ab", "{}", "model")
    assert base == content_hash("ab", "{}", "model")
    assert len(base) == 64
    assert content_hash("ab", '{"k": 1}', "model") != base
    assert content_hash("ab", "{}", "other") != base
    # Parts are length-prefixed: moving a boundary changes the hash.
    assert content_hash("a", "b{}", "model") != content_hash("ab", "{}", "model")
    assert content_hash("x", "{}", "ab") != content_hash("bx", "{}", "a")
