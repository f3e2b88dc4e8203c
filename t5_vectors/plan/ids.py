"""Point ids: deterministic UUIDs for any user id, and ids for documents that have none.

Qdrant accepts only unsigned integers and UUIDs as point ids. t5-vectors maps every document id a
user gives (any ``str`` or ``int``) to ``uuid5(POINT_NAMESPACE, str(id))`` and keeps the original
in the payload, so ``"chapter-1"``, ``42`` or a 64-character SHA-256 key all work and come back
exactly as given. ``42`` and ``"42"`` are the same id (LangChain's ``Document.id`` turns numbers
into strings, so a caller who reads ``"42"`` back can delete it again).

A document without an id gets one from its ``metadata["source"]`` and its text
(:func:`generated_id`): ingesting the same corpus twice addresses the same points, so nothing is
written twice.

Points written by other tools (for example langchain-qdrant, which uses the raw UUID or integer
as the point id) have no stored original id; their ``Document.id`` is the point id itself, and
:func:`foreign_point_id` lets lookups and deletes reach them by that id.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from t5_vectors.encoder.texts import check_text
from t5_vectors.errors import InvalidInputError

DocumentId = str | int
"""What a caller may use as a document id."""

POINT_NAMESPACE = uuid.UUID("6f1d3c52-8b0e-5d43-9a57-2e6c0b4f7a19")
"""Fixed namespace of every point id t5-vectors derives. Never change it: ids would move."""

_NAMESPACE_BYTES = POINT_NAMESPACE.bytes
_GENERATED_PREFIX = "t5-vectors:auto-id:"
_MAX_UINT64 = 2**64 - 1


def check_document_id(value: object, *, where: str = "id") -> DocumentId:
    """Return *value* if it can be a document id, else raise :class:`InvalidInputError`.

    Args:
        value: the candidate id.
        where: how the error message names the value (for example ``"ids[3]"``).
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInputError(
            f"{where}: expected a str or int document id, found {type(value).__name__} "
            f"({value!r}). Use strings (any text) or integers as ids."
        )
    if isinstance(value, str) and not value:
        raise InvalidInputError(
            f"{where}: expected a non-empty id, found ''. Pass None to let t5-vectors derive "
            "an id from the document's source and content."
        )
    if isinstance(value, str):
        check_text(value, where=where)  # lone surrogates cannot become a UUID or JSON
    return value


def _uuid5(name: str) -> str:
    """``str(uuid.uuid5(POINT_NAMESPACE, name))`` without building ``UUID`` objects.

    The same SHA-1 bits, version and variant; ingestion derives one or two ids per document,
    and the ``UUID`` objects cost more than the hash (about 11 against 4 µs).
    """
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def point_id(document_id: DocumentId) -> str:
    """The Qdrant point id (a UUID string) of a user's document id."""
    return _uuid5(str(document_id))


def foreign_point_id(document_id: DocumentId) -> str | int | None:
    """The point id *document_id* would be if a foreign tool used it verbatim, else ``None``.

    Integers in Qdrant's unsigned 64-bit range (or strings of digits) and UUID strings qualify.
    """
    if isinstance(document_id, int):
        return document_id if 0 <= document_id <= _MAX_UINT64 else None
    if document_id.isascii() and document_id.isdigit():
        number = int(document_id)
        return number if number <= _MAX_UINT64 and str(number) == document_id else None
    try:
        return str(uuid.UUID(document_id))
    except ValueError:
        return None


def generated_id(page_content: str, source: object) -> str:
    """Deterministic id for a document without one: a UUID from its source and its text.

    Args:
        page_content: the document text.
        source: ``metadata.get("source")`` (any JSON value; ``None`` when absent).
    """
    key = json.dumps([source, page_content], ensure_ascii=False, sort_keys=True, default=str)
    return _uuid5(_GENERATED_PREFIX + key)


def content_hash(page_content: str, metadata_json: str, fingerprint: str) -> str:
    """SHA-256 over what determines a stored point: text, metadata and the embedding model.

    Args:
        page_content: the document text.
        metadata_json: the metadata serialised with sorted keys.
        fingerprint: identifies the embedding model and its options (see ``Embedder``).
    """
    digest = hashlib.sha256()
    for part in (fingerprint, page_content, metadata_json):
        data = part.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()
