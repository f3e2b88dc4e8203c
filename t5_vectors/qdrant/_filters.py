"""Search filters: a qdrant ``models.Filter``, or a plain dict of metadata equality conditions.

A dict is the portable LangChain way (``as_retriever(search_kwargs={"filter": {...}})``)::

    {"source": "a.pdf"}                     metadata.source == "a.pdf"
    {"page": 3, "lang": "en"}               both must hold
    {"tag": ["news", "blog"]}               metadata.tag is any of these
    {"author": {"name": "Ada"}}             metadata.author.name == "Ada"
    {"score": 0.5}                          metadata.score == 0.5 (a range of one value)

Anything richer (ranges, ``should``, ``must_not``, geo) is written as a qdrant ``models.Filter``
with keys under ``metadata.``.

Either way :func:`to_filter` returns the filter in Qdrant's JSON (REST) form, the storage seam's
:data:`~t5_vectors.storage.base.Filter`: a ``models.Filter`` is dumped at this public edge and
each backend parses the JSON for its engine.

A dict filter is checked before the search: keys are non-empty text, values are the types above
(floats finite, no lone surrogates), lists non-empty. A key that no stored document has is not an
error: like Qdrant, the condition matches nothing (the key may simply not be ingested yet).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from qdrant_client import models

from t5_vectors.encoder.texts import check_text
from t5_vectors.errors import InvalidInputError
from t5_vectors.qdrant.payload import METADATA_KEY
from t5_vectors.storage.base import Filter

__all__ = ["FilterLike", "to_filter"]

FilterLike = models.Filter | Mapping[str, Any]
"""What ``filter=`` accepts."""

Condition = dict[str, Any]


def to_filter(value: FilterLike | None) -> Filter | None:
    """*value* as a filter in Qdrant's JSON form (``None`` and ``{}`` mean no filter)."""
    if value is None:
        return None
    if isinstance(value, models.Filter):
        dumped: dict[str, Any] = value.model_dump(exclude_none=True, mode="json")
        return dumped
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"filter: expected a qdrant models.Filter or a dict of metadata values, found "
            f"{type(value).__name__}."
        )
    conditions: list[Condition] = []
    _collect(value, METADATA_KEY, conditions)
    return {"must": conditions} if conditions else None


def _collect(value: Mapping[Any, Any], prefix: str, out: list[Condition]) -> None:
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise InvalidInputError(
                f"filter: expected non-empty str keys (metadata keys), found {key!r}. Write "
                "{'source': 'a.pdf'} or a qdrant models.Filter."
            )
        path = f"{prefix}.{key}"
        check_text(key, where=f"filter key {path!r}")
        if isinstance(item, Mapping):
            if not item:
                raise InvalidInputError(
                    f"filter[{path!r}]: expected a value or a non-empty dict, found {{}}."
                )
            _collect(item, path, out)
        else:
            out.append(_condition(path, item))


def _condition(path: str, value: object) -> Condition:
    if value is None:
        return {"is_null": {"key": path}}
    if isinstance(value, str):
        check_text(value, where=f"filter[{path!r}]")
    if isinstance(value, (bool, int, str)):
        return {"key": path, "match": {"value": value}}
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(
                f"filter[{path!r}]: expected a finite number, found {value}. Stored metadata "
                "is JSON and holds no NaN or infinity; use None to match missing values."
            )
        return {"key": path, "range": {"gte": value, "lte": value}}
    if isinstance(value, (list, tuple, set, frozenset)):
        options = list(value)
        if not options:
            raise InvalidInputError(
                f"filter[{path!r}]: expected at least one value to match, found an empty list."
            )
        if all(isinstance(v, str) for v in options) or all(
            isinstance(v, int) and not isinstance(v, bool) for v in options
        ):
            return {"key": path, "match": {"any": options}}
        return {"should": [_condition(path, option) for option in options]}
    raise InvalidInputError(
        f"filter[{path!r}]: expected a str, int, float, bool, None, list or dict, found "
        f"{type(value).__name__}. Write a qdrant models.Filter for other conditions."
    )
