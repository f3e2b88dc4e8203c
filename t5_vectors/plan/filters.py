"""Search filters: a qdrant ``models.Filter``, or a plain dict of metadata conditions.

A dict is the portable LangChain way (``as_retriever(search_kwargs={"filter": {...}})``)::

    {"source": "a.pdf"}                     metadata.source == "a.pdf"
    {"page": 3, "lang": "en"}               both must hold
    {"tag": ["news", "blog"]}               metadata.tag is any of these
    {"author": {"name": "Ada"}}             metadata.author.name == "Ada"
    {"score": 0.5}                          metadata.score == 0.5 (a range of one value)
    {"page": {"$gte": 2, "$lt": 9}}         2 <= metadata.page < 9
    {"lang": {"$ne": "fr"}}                 metadata.lang is not "fr"
    {"tag": {"$in": ["a", "b"]}}            any of these ($nin: none of these)
    {"$or": [{"lang": "en"}, {"page": 1}]}  either holds ($and: all hold)

The operators are Chroma's and MongoDB's (``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``,
``$in``, ``$nin``, ``$and``, ``$or``), so filters written for a Chroma store work here. Keys are
metadata keys; a dot nests (``{"author.name": "Ada"}`` is ``{"author": {"name": "Ada"}}``), and a
key with other characters (a space, ``$``, ``-`` ...) is quoted for Qdrant, so it matches the key
as written. Anything richer (``must_not`` groups, geo, full-text) is written as a qdrant
``models.Filter`` with keys under ``metadata.``.

The command line's ``KEY=VALUE`` strings are the same language in another spelling
(:func:`parse_key_values`): ``"chunk=0"`` is ``{"chunk": 0}``, and ``filter=`` takes them too
(one string or a list), so the CLI, Python, the HTTP API and the MCP tools read one filter
language. A ``source`` given as a relative path also matches it made absolute against ``base``
(the caller's working folder: the CLI's, the script's, the server's), as files are stored under
their absolute path; ``~`` is expanded.

Either way :func:`to_filter` returns the filter in Qdrant's JSON (REST) form, the storage seam's
:data:`~t5_vectors.storage.base.Filter`: a ``models.Filter`` is dumped at this public edge and
each backend parses the JSON for its engine.

A dict filter is checked before the search: keys are non-empty text without ``"``, values are the
types above (floats finite, no lone surrogates), lists non-empty, operators known. Errors name
the interface the filter came through (``where``: the ``filter`` parameter, or the command
line's ``--filter``). A key that no stored document has is not an error: like Qdrant, the
condition matches nothing (the key may simply not be ingested yet). It is not silent either:
:func:`filter_conditions`, :func:`metadata_kinds` and :func:`hints` find the keys a filter names
that the stored documents do not hold, and the values of a kind a key never holds, and
``QdrantIndex`` says so (``QdrantIndex.filter_hints``; a ``FilterWarning`` from ``search``).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Union

from t5_vectors.encoder.texts import check_text
from t5_vectors.errors import InvalidInputError
from t5_vectors.plan.payload import METADATA_KEY
from t5_vectors.storage.base import Filter, Record
from t5_vectors.storage.inputs import engine_filter

if TYPE_CHECKING:
    from qdrant_client import models


FilterLike = Union["models.Filter", Mapping[str, Any], str, Sequence[str]]
"""What ``filter=`` accepts: a dict of metadata values, ``KEY=VALUE`` strings, a qdrant
``models.Filter``."""

Kind = Literal["text", "number", "bool"]
"""What a metadata value is, as filters compare it."""

_SOURCE = f"{METADATA_KEY}.source"

Condition = dict[str, Any]

_COMPARISONS = {"$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}
OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$and", "$or")
"""The operators a dict filter accepts (Chroma's and MongoDB's names)."""

_PLAIN = re.compile(r"^[A-Za-z0-9_]+$")
_FORMS = (
    "accepted forms: {'key': value}, {'key': [any, of]}, {'key': {'$gte': 1, '$lt': 9}}, "
    "{'key': {'$ne' | '$in' | '$nin': ...}}, {'$or': [{...}, {...}]}, or a qdrant models.Filter"
)


def to_filter(
    value: FilterLike | None, *, where: str = "filter", base: str | None = None
) -> Filter | None:
    """*value* as a filter in Qdrant's JSON form (``None`` and ``{}`` mean no filter).

    Args:
        value: a dict of metadata conditions, ``KEY=VALUE`` strings or a qdrant
            ``models.Filter``.
        where: how the caller's interface names the filter, for messages (``"filter"``,
            ``"--filter"``, an HTTP field).
        base: the folder a relative ``source`` is resolved against (``None``: not resolved).

    Raises:
        InvalidInputError: the value cannot be a filter; the message names *where* and the
            accepted forms.
    """
    if value is None:
        return None
    dumped = engine_filter(value)
    if dumped is not None:
        return dumped
    if isinstance(value, str) or (
        isinstance(value, Sequence) and value and all(isinstance(v, str) for v in value)
    ):
        value = parse_key_values([value] if isinstance(value, str) else value, where=where)
        if value is None:
            return None
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"{where}: expected a dict of metadata values, KEY=VALUE strings or a qdrant "
            f"models.Filter, found {type(value).__name__}; {_FORMS}."
        )
    conditions = _Collector(where, base).group(value, METADATA_KEY)
    return {"must": conditions} if conditions else None


class _Collector:
    """Turns a dict filter into Qdrant conditions, naming *where* in every message."""

    def __init__(self, where: str, base: str | None = None) -> None:
        self.where = where
        self.base = base

    def fail(self, at: str, expected: str, found: str) -> InvalidInputError:
        place = f"{self.where}[{at!r}]" if at else self.where
        return InvalidInputError(f"{place}: expected {expected}, found {found}; {_FORMS}.")

    def group(self, value: Mapping[Any, Any], prefix: str) -> list[Condition]:
        """The conditions of one dict level (all must hold)."""
        out: list[Condition] = []
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise self.fail("", "non-empty str keys (metadata keys)", repr(key))
            if key.startswith("$"):
                out.append(self.logical(key, item, prefix))
                continue
            path = f"{prefix}.{self.key_path(key, prefix)}"
            if isinstance(item, Mapping):
                if not item:
                    raise self.fail(self.shown(path), "a value or a non-empty dict", "{}")
                if all(isinstance(k, str) and k.startswith("$") for k in item):
                    out.extend(self.operators(path, item))
                elif any(isinstance(k, str) and k.startswith("$") for k in item):
                    raise self.fail(
                        self.shown(path),
                        "either operators ($gt, $in, ...) or nested keys",
                        f"both: {sorted(map(str, item))}",
                    )
                else:
                    out.extend(self.group(item, path))
            else:
                out.append(self.match(path, item))
        return out

    def key_path(self, key: str, prefix: str) -> str:
        check_text(key, where=f"{self.where} key {key!r}")
        segments = key.split(".")
        quoted = []
        for segment in segments:
            if not segment or '"' in segment:
                raise self.fail(
                    self.shown(f"{prefix}.{key}"),
                    "metadata keys without '\"' and without empty parts between dots",
                    repr(key),
                )
            quoted.append(segment if _PLAIN.match(segment) else f'"{segment}"')
        return ".".join(quoted)

    def shown(self, path: str) -> str:
        """A key path as the user wrote it (without ``metadata.`` and quotes)."""
        return path.removeprefix(f"{METADATA_KEY}.").replace('"', "")

    def logical(self, key: str, item: object, prefix: str) -> Condition:
        if key not in ("$and", "$or"):
            raise self.fail(key, "$and or $or at this level (comparisons go under a key)", key)
        if not isinstance(item, (list, tuple)) or not item:
            raise self.fail(key, "a non-empty list of filter dicts", repr(item))
        groups = []
        for part in item:
            if not isinstance(part, Mapping) or not part:
                raise self.fail(key, "a list of non-empty filter dicts", repr(part))
            groups.append(self.group(part, prefix))
        if key == "$and":
            return {"must": [c for conditions in groups for c in conditions]}
        return {"should": [c[0] if len(c) == 1 else {"must": c} for c in groups]}

    def operators(self, path: str, item: Mapping[str, Any]) -> list[Condition]:
        out: list[Condition] = []
        bounds: dict[str, float] = {}
        for op, operand in item.items():
            if op in _COMPARISONS:
                if isinstance(operand, bool) or not isinstance(operand, (int, float)):
                    raise self.fail(
                        self.shown(path), f"a number after {op}", type(operand).__name__
                    )
                bounds[_COMPARISONS[op]] = self.finite(path, operand)
            elif op == "$eq":
                out.append(self.match(path, operand))
            elif op == "$ne":
                out.append({"must_not": [self.match(path, operand)]})
            elif op in ("$in", "$nin"):
                if not isinstance(operand, (list, tuple)) or not operand:
                    raise self.fail(self.shown(path), f"a non-empty list after {op}", repr(operand))
                condition = self.match(path, list(operand))
                out.append(condition if op == "$in" else {"must_not": [condition]})
            else:
                raise self.fail(self.shown(path), f"an operator among {', '.join(OPERATORS)}", op)
        if bounds:
            out.append({"key": path, "range": bounds})
        return out

    def finite(self, path: str, value: float) -> float:
        if not math.isfinite(value):
            raise self.fail(
                self.shown(path),
                "a finite number (stored metadata is JSON and holds no NaN or infinity; use "
                "None to match missing values)",
                str(value),
            )
        return value

    def match(self, path: str, value: object) -> Condition:
        if path == _SOURCE and self.base is not None:
            value = self.sources(value)
        if value is None:
            return {"is_null": {"key": path}}
        if isinstance(value, str):
            check_text(value, where=f"{self.where}[{self.shown(path)!r}]")
        if isinstance(value, (bool, int, str)):
            return {"key": path, "match": {"value": value}}
        if isinstance(value, float):
            number = self.finite(path, value)
            return {"key": path, "range": {"gte": number, "lte": number}}
        if isinstance(value, (list, tuple, set, frozenset)):
            options = list(value)
            if not options:
                raise self.fail(self.shown(path), "at least one value to match", "an empty list")
            if all(isinstance(v, str) for v in options) or all(
                isinstance(v, int) and not isinstance(v, bool) for v in options
            ):
                for option in options:
                    if isinstance(option, str):
                        check_text(option, where=f"{self.where}[{self.shown(path)!r}]")
                return {"key": path, "match": {"any": options}}
            return {"should": [self.match(path, option) for option in options]}
        raise self.fail(
            self.shown(path),
            "a str, int, float, bool, None, list or dict",
            type(value).__name__,
        )

    def sources(self, value: object) -> object:
        """*value* with each relative source path also made absolute against the base."""
        given = value if isinstance(value, (list, tuple)) else [value]
        texts = [v for v in given if isinstance(v, str)]
        if len(texts) < len(given):
            return value
        spelled = list(dict.fromkeys([*texts, *(self.absolute(v) for v in texts)]))
        return spelled[0] if len(spelled) == 1 else spelled

    def absolute(self, source: str) -> str:
        path = os.path.expanduser(source)
        if os.path.isabs(path) or "://" in source or self.base is None:
            return path
        return os.path.normpath(os.path.join(self.base, path))


def parse_key_values(items: Sequence[str], *, where: str = "--filter") -> dict[str, Any] | None:
    """``["key=value", ...]`` (the command line's ``--filter``) as a metadata filter dict.

    Values are read as JSON when they parse (``3``, ``true``, ``null``), else as text. A key given
    more than once matches any of its values.
    """
    values: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInputError(
                f"{where}: expected KEY=VALUE (for example source=docs/a.md or chunk=0), found "
                f"{item!r}."
            )
        values.setdefault(key, []).append(_scalar(raw))
    if not values:
        return None
    filters = {key: found[0] if len(found) == 1 else found for key, found in values.items()}
    for key, value in filters.items():  # refused here, in the flag's words, before any work
        try:
            to_filter({key: value}, where=where)
        except InvalidInputError as error:
            raise InvalidInputError(
                f"{where}: expected KEY=VALUE with a metadata key (for example "
                f"source=docs/a.md or chunk=0; a key may hold spaces and dots nest, but it may "
                f"not start with '$' or hold '\"'), found {key!r}."
            ) from error
    return filters


def _scalar(raw: str) -> Any:
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, (int, float, bool)) or value is None else raw


def filter_conditions(where: Filter) -> list[tuple[str, Kind | None, object]]:
    """``(metadata key, kind of value, value)`` of each field condition in *where* (JSON form).

    Keys are as a user writes them (``source``, ``author.name``); conditions on anything but
    metadata (ids, vectors) are left out; ``None`` is the kind of a null test.
    """
    found: list[tuple[str, Kind | None, object]] = []

    def visit(part: object) -> None:
        if isinstance(part, Mapping):
            key = part.get("key")
            if isinstance(key, str) and key.startswith(f"{METADATA_KEY}."):
                name = key.removeprefix(f"{METADATA_KEY}.").replace('"', "")
                found.append((name, *_kind_of(part)))
            for nested in ("must", "should", "must_not", "is_null", "is_empty"):
                visit(part.get(nested))
            min_should = part.get("min_should")
            if isinstance(min_should, Mapping):
                visit(min_should.get("conditions"))
        elif isinstance(part, list):
            for item in part:
                visit(item)

    visit(where)
    return found


def _kind_of(condition: Mapping[str, Any]) -> tuple[Kind | None, object]:
    match = condition.get("match")
    if isinstance(match, Mapping):
        value = match.get("value", match.get("any", match.get("except")))
        first = value[0] if isinstance(value, list) and value else value
        return _kind(first), value
    if "range" in condition:
        return "number", condition["range"]
    return None, None


def _kind(value: object) -> Kind | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    return None


def holding(key: str) -> Filter:
    """The points that hold metadata *key* (a user's key: ``author.name``)."""
    path = ".".join(part if _PLAIN.match(part) else f'"{part}"' for part in key.split("."))
    return {"must_not": [{"is_empty": {"key": f"{METADATA_KEY}.{path}"}}]}


def metadata_kinds(records: Iterable[Record]) -> dict[str, set[Kind]]:
    """The metadata keys *records* hold (nested ones dotted) and the kinds of their values."""
    kinds: dict[str, set[Kind]] = {}

    def visit(prefix: str, value: object) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                visit(f"{prefix}.{key}" if prefix else str(key), item)
            return
        values = value if isinstance(value, list) else [value]
        found = kinds.setdefault(prefix, set())
        for item in values:
            kind = _kind(item)
            if kind is not None:
                found.add(kind)

    for record in records:
        metadata = (record.payload or {}).get(METADATA_KEY)
        if isinstance(metadata, Mapping):
            visit("", metadata)
    return kinds


def hints(
    conditions: Sequence[tuple[str, Kind | None, object]],
    kinds: Mapping[str, set[Kind]],
    absent: set[str],
) -> list[str]:
    """What to tell about a filter whose *conditions* meet stored documents of these *kinds*.

    Args:
        conditions: from :func:`filter_conditions`.
        kinds: the keys stored documents hold and their kinds (:func:`metadata_kinds` of a
            sample of them).
        absent: the keys no stored document holds (checked beyond the sample).
    """
    held = ", ".join(sorted(kinds)) or "none"
    said: list[str] = []
    for key, kind, value in conditions:
        if key in absent:
            text = (
                f"the filter names the metadata key {key!r}, which no stored document has, so it "
                f"matches nothing; the stored keys are: {held}. Check the key's spelling."
            )
        elif kind is not None and kinds.get(key) and kind not in kinds[key]:
            stored = " or ".join(sorted(kinds[key]))
            text = (
                f"the filter compares the metadata key {key!r}, which holds {stored} values, "
                f"with {kind} {value!r}, so it matches nothing. Give a {stored} value."
            )
        else:
            continue
        if text not in said:
            said.append(text)
    return said
