"""The payload contract: what a point stores, and how documents come back out.

A point's payload is laid out as langchain-qdrant lays it out, so either library reads the
other's collections::

    {
        "page_content": "the text",              # CONTENT_KEY
        "metadata": {...},                       # METADATA_KEY, exactly the document's metadata
        "document_id": "the id as given",        # ID_KEY       (t5-vectors bookkeeping)
        "content_hash": "sha256 hex",            # HASH_KEY     (t5-vectors bookkeeping)
    }

Bookkeeping lives in its own top-level keys and never inside ``metadata``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.documents import Document

from t5_vectors.errors import InvalidInputError
from t5_vectors.qdrant.ids import (
    DocumentId,
    check_document_id,
    content_hash,
    generated_id,
    point_id,
)

__all__ = [
    "CONTENT_KEY",
    "HASH_KEY",
    "ID_KEY",
    "METADATA_KEY",
    "PreparedDocument",
    "aprepare_stream",
    "as_document",
    "document_from_payload",
    "prepare_document",
    "prepare_list",
    "prepare_stream",
]

CONTENT_KEY = "page_content"
METADATA_KEY = "metadata"
ID_KEY = "document_id"
HASH_KEY = "content_hash"


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """A validated document, ready to be compared with what is stored, encoded and written.

    Attributes:
        document_id: the id as the caller gave it, or the generated one.
        point_id: the Qdrant point id derived from ``document_id``.
        text: the text to embed (``page_content``).
        payload: the full payload to store.
        content_hash: the hash stored under ``HASH_KEY``.
    """

    document_id: DocumentId
    point_id: str
    text: str
    payload: dict[str, Any]
    content_hash: str


def as_document(item: object, *, where: str) -> Document:
    """Accept a LangChain ``Document`` or a plain ``str``; anything else is an input error."""
    if isinstance(item, Document):
        if not isinstance(item.page_content, str):
            raise InvalidInputError(
                f"{where}: expected page_content to be a str, found "
                f"{type(item.page_content).__name__}."
            )
        return item
    if isinstance(item, str):
        return Document(page_content=item)
    raise InvalidInputError(
        f"{where}: expected a langchain_core Document or a str, found {type(item).__name__}. "
        "Wrap raw texts with Document(page_content=...) or pass them as strings."
    )


def prepare_document(
    document: Document,
    document_id: DocumentId | None,
    fingerprint: str,
    *,
    where: str,
) -> PreparedDocument:
    """Validate *document* and build its point id, payload and content hash.

    Args:
        document: the document to store (never modified).
        document_id: the id to store it under; ``None`` uses ``document.id``, and when that is
            also ``None`` an id is derived from ``metadata["source"]`` and the text.
        fingerprint: the embedding model's fingerprint, part of the content hash.
        where: how error messages name this document (for example ``"documents[3]"``).
    """
    metadata = document.metadata
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(
            f"{where}: expected metadata to be a dict, found {type(metadata).__name__}."
        )
    metadata_json = _metadata_json(metadata, where)
    if document_id is None:
        document_id = document.id
    if document_id is None:
        document_id = generated_id(document.page_content, metadata.get("source"))
    else:
        document_id = check_document_id(document_id, where=f"{where} id")
    digest = content_hash(document.page_content, metadata_json, fingerprint)
    payload = {
        CONTENT_KEY: document.page_content,
        METADATA_KEY: json.loads(metadata_json),
        ID_KEY: document_id,
        HASH_KEY: digest,
    }
    # Keep the caller's key order (json.loads of the sorted dump would reorder it).
    payload[METADATA_KEY] = {key: payload[METADATA_KEY][key] for key in metadata}
    return PreparedDocument(
        document_id=document_id,
        point_id=point_id(document_id),
        text=document.page_content,
        payload=payload,
        content_hash=digest,
    )


def prepare_list(
    documents: Sequence[Document | str],
    ids: Sequence[DocumentId | None] | None,
    fingerprint: str,
) -> list[PreparedDocument]:
    """Validate and prepare a whole list (before anything is written).

    Args:
        documents: the documents or texts.
        ids: one id (or ``None``) per document; takes precedence over ``Document.id``.
        fingerprint: the embedding model's fingerprint.
    """
    if isinstance(documents, (str, Document)) or not isinstance(documents, Sequence):
        raise InvalidInputError(
            f"documents: expected a list of Document or str, found {type(documents).__name__}."
        )
    if ids is not None and (isinstance(ids, str) or len(ids) != len(documents)):
        found = "a str" if isinstance(ids, str) else f"{len(ids)} ids"
        raise InvalidInputError(
            f"ids: expected one id per document ({len(documents)}), found {found}. "
            "Use None for documents whose id should be derived."
        )
    return [
        prepare_document(
            as_document(item, where=f"documents[{i}]"),
            ids[i] if ids is not None else None,
            fingerprint,
            where=f"documents[{i}]",
        )
        for i, item in enumerate(documents)
    ]


def prepare_stream(
    documents: Iterable[Document | str], fingerprint: str
) -> Iterator[PreparedDocument]:
    """Prepare documents lazily, one at a time; lists and tuples are validated in full first."""
    if isinstance(documents, (str, Document)):
        raise InvalidInputError(
            f"documents: expected an iterable of Document or str, found one "
            f"{type(documents).__name__}. Wrap it in a list."
        )
    if isinstance(documents, Sequence):
        prepare_list(documents, None, fingerprint)  # raise before anything is written
    return (
        prepare_document(
            as_document(item, where=f"documents[{i}]"), None, fingerprint, where=f"documents[{i}]"
        )
        for i, item in enumerate(documents)
    )


async def aprepare_stream(
    documents: AsyncIterable[Document | str], fingerprint: str
) -> AsyncIterator[PreparedDocument]:
    """Async :func:`prepare_stream` over an async iterable (``loader.alazy_load()``)."""
    i = 0
    async for item in documents:
        where = f"documents[{i}]"
        yield prepare_document(as_document(item, where=where), None, fingerprint, where=where)
        i += 1


def document_from_payload(point_id: str | int, payload: Mapping[str, Any] | None) -> Document:
    """The LangChain ``Document`` a stored point represents.

    ``Document.id`` is the original id when t5-vectors wrote the point, else the point id.
    ``metadata`` is returned exactly as stored (langchain-qdrant's ``None`` becomes ``{}``).
    """
    payload = payload or {}
    original = payload.get(ID_KEY)
    content = payload.get(CONTENT_KEY)
    metadata = payload.get(METADATA_KEY)
    return Document(
        id=str(original if original is not None else point_id),
        page_content=content if isinstance(content, str) else "",
        metadata=dict(metadata) if isinstance(metadata, Mapping) else {},
    )


def _metadata_json(metadata: Mapping[Any, Any], where: str) -> str:
    for key in metadata:
        if not isinstance(key, str):
            raise InvalidInputError(
                f"{where}: expected metadata keys to be str, found {type(key).__name__} ({key!r})."
            )
    try:
        return json.dumps(metadata, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        bad = _first_bad_key(metadata)
        raise InvalidInputError(
            f"{where}: expected JSON-serialisable metadata (Qdrant stores it as JSON), found "
            f"{bad} ({err}). Convert such values to str, int, float, bool, None, lists or dicts "
            "before adding the document."
        ) from err


def _first_bad_key(metadata: Mapping[str, Any]) -> str:
    for key, value in metadata.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            return f"{type(value).__name__} under key {key!r}"
    return "a value that cannot be serialised"
