"""The payload contract: what a point stores, and how documents come back out.

A point's payload is laid out as langchain-qdrant lays it out, so either library reads the
other's collections::

    {
        "page_content": "the text",              # CONTENT_KEY
        "metadata": {...},                       # METADATA_KEY, exactly the document's metadata
        "document_id": "the id as given",        # ID_KEY       (t5-vectors bookkeeping)
        "content_hash": "sha256 hex",            # HASH_KEY     (t5-vectors bookkeeping)
        "file": {"digest": "...", "chunks": 12}, # FILE_KEY     (file ingest, first chunk only)
    }

Bookkeeping lives in its own top-level keys and never inside ``metadata``. ``FILE_KEY`` is set
by the file ingest (:mod:`t5_vectors.files.ingest`) on chunk 0 of a file once all its chunks are
stored, so an unchanged file is not split again on the next run; it is not part of the content
hash, and a rewrite of chunk 0 drops it (the next run then splits that file and sets it again).

Metadata must be JSON as Qdrant stores it, so that it comes back exactly as given: dicts with
``str`` keys, lists, ``str``, ``int`` within 64 bits, finite ``float``, ``bool`` and ``None``
(tuples are stored as lists). Anything else (``datetime``, ``set``, numpy scalars other than
``float64``, ``bytes``, objects, NaN, lone surrogates) is refused before anything is written,
with the key path of the first bad value.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.documents import Document

from t5_vectors.encoder.texts import check_text
from t5_vectors.errors import InvalidInputError
from t5_vectors.plan.ids import (
    DocumentId,
    check_document_id,
    content_hash,
    generated_id,
    point_id,
)

CONTENT_KEY = "page_content"
METADATA_KEY = "metadata"
ID_KEY = "document_id"
HASH_KEY = "content_hash"
FILE_KEY = "file"


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
        check_text(item.page_content, where=f"{where}.page_content")
        return item
    if isinstance(item, str):
        return Document(page_content=check_text(item, where=where))
    fix = (
        "Decode it first: data.decode('utf-8', errors='replace')."
        if isinstance(item, bytes | bytearray)
        else "Wrap raw texts with Document(page_content=...) or pass them as strings."
    )
    raise InvalidInputError(
        f"{where}: expected a langchain_core Document or a str, found {type(item).__name__}. " + fix
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
    *,
    unique: bool = True,
) -> list[PreparedDocument]:
    """Validate and prepare a whole list (before anything is written).

    With *unique* (``add``), two different documents under one id (given, or derived from the
    same source and text) are refused, since one would silently replace the other; identical
    ones are stored once. Ingestion is a stream of updates instead: a later document with the
    same id replaces the earlier one, whether the stream is a list or a generator.

    Args:
        documents: the documents or texts.
        ids: one id (or ``None``) per document; takes precedence over ``Document.id``.
        fingerprint: the embedding model's fingerprint.
        unique: refuse two different documents under one id.
    """
    if isinstance(documents, (str, Document)) or not isinstance(documents, Sequence):
        raise InvalidInputError(
            f"documents: expected a list of Document or str, found {type(documents).__name__}."
        )
    if ids is not None and (
        isinstance(ids, str) or not isinstance(ids, Sequence) or len(ids) != len(documents)
    ):
        found = (
            f"{len(ids)} ids"
            if isinstance(ids, Sequence) and not isinstance(ids, str)
            else f"a {type(ids).__name__}"
        )
        raise InvalidInputError(
            f"ids: expected one id per document ({len(documents)}), found {found}. "
            "Use None for documents whose id should be derived."
        )
    prepared = [
        prepare_document(
            as_document(item, where=f"documents[{i}]"),
            ids[i] if ids is not None else None,
            fingerprint,
            where=f"documents[{i}]",
        )
        for i, item in enumerate(documents)
    ]
    if unique:
        _check_no_conflicts(prepared)
    return prepared


def _check_no_conflicts(prepared: Sequence[PreparedDocument]) -> None:
    """Refuse two different documents under one id in one call (one would silently be lost).

    Identical documents (same id, text and metadata) are allowed: they are stored once.
    """
    seen: dict[str, int] = {}
    for i, doc in enumerate(prepared):
        first = seen.setdefault(doc.point_id, i)
        if first != i and prepared[first].content_hash != doc.content_hash:
            raise InvalidInputError(
                f"documents[{first}] and documents[{i}]: expected one document per id in one "
                f"call, found two different documents under the id {doc.document_id!r} (given, "
                "or derived from the same source and text). The second would silently replace "
                "the first: give them distinct ids, or drop one."
            )


def prepare_stream(
    documents: Iterable[Document | str], fingerprint: str
) -> Iterator[PreparedDocument]:
    """Prepare documents lazily, one at a time; lists and tuples are validated in full first."""
    if isinstance(documents, (str, Document)):
        raise InvalidInputError(
            f"documents: expected an iterable of Document or str, found one "
            f"{type(documents).__name__}. Wrap it in a list."
        )
    if isinstance(documents, AsyncIterable):
        raise InvalidInputError(
            "documents: expected an iterable, found an async iterable. Pass it to aingest."
        )
    if isinstance(documents, Sequence):  # validated in full before any write, prepared once
        return iter(prepare_list(documents, None, fingerprint, unique=False))
    return (
        prepare_document(
            as_document(item, where=f"documents[{i}]"), None, fingerprint, where=f"documents[{i}]"
        )
        for i, item in enumerate(documents)
    )


def aprepare_stream(
    documents: AsyncIterable[Document | str] | Iterable[Document | str], fingerprint: str
) -> AsyncIterator[PreparedDocument] | Iterator[PreparedDocument]:
    """:func:`prepare_stream` for ``aingest``: an async iterable (``loader.alazy_load()``) is
    prepared as it streams, anything else as :func:`prepare_stream` does."""
    if not isinstance(documents, AsyncIterable):
        return prepare_stream(documents, fingerprint)
    return _aprepare(documents, fingerprint)


async def _aprepare(
    documents: AsyncIterable[Document | str], fingerprint: str
) -> AsyncIterator[PreparedDocument]:
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
    _check_json(dict(metadata), f"{where}: metadata")
    try:
        return json.dumps(metadata, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:  # a subclass with odd behaviour; never seen
        raise InvalidInputError(
            f"{where}: expected JSON-serialisable metadata (Qdrant stores it as JSON), found an "
            f"error ({err}). Convert values to str, int, float, bool, None, lists or dicts."
        ) from err


_INT64 = (-(2**63), 2**63 - 1)
_FIXES = {
    "datetime": "store value.isoformat()",
    "date": "store value.isoformat()",
    "set": "store sorted(value) (a list)",
    "frozenset": "store sorted(value) (a list)",
    "bytes": "decode it, or store base64 text",
    "Decimal": "store str(value) or float(value)",
}


def _check_json(value: object, path: str) -> None:
    """Raise :class:`InvalidInputError` at the first value under *path* that is not plain JSON."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        check_text(value, where=path)
    elif isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise InvalidInputError(
                f"{path}: expected an int within 64 bits (Qdrant's integer), found {value}. "
                "Store it as a str."
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(
                f"{path}: expected a finite float (JSON has no NaN or infinity), found {value}. "
                "Store None or a str instead."
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(
                    f"{path}: expected str keys (JSON object keys are text), found "
                    f"{type(key).__name__} key {key!r}. Convert the key with str(key)."
                )
            check_text(key, where=f"{path} key {key!r}")
            _check_json(item, f"{path}[{key!r}]")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json(item, f"{path}[{i}]")
    else:
        kind = type(value).__name__
        fix = _FIXES.get(kind)
        if fix is None:
            fix = "use value.item()" if type(value).__module__ == "numpy" else "convert it"
        raise InvalidInputError(
            f"{path}: expected a JSON value (str, int, float, bool, None, list or dict), found "
            f"{kind} {value!r:.60}. Qdrant stores metadata as JSON: {fix} before adding the "
            "document."
        )
