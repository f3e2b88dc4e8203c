"""Search filters: a qdrant ``models.Filter``, or a plain dict of metadata equality conditions.

A dict is the portable LangChain way (``as_retriever(search_kwargs={"filter": {...}})``)::

    {"source": "a.pdf"}                     metadata.source == "a.pdf"
    {"page": 3, "lang": "en"}               both must hold
    {"tag": ["news", "blog"]}               metadata.tag is any of these
    {"author": {"name": "Ada"}}             metadata.author.name == "Ada"
    {"score": 0.5}                          metadata.score == 0.5 (a range of one value)

Anything richer (ranges, ``should``, ``must_not``, geo) is written as a qdrant ``models.Filter``
with keys under ``metadata.``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qdrant_client import models

from t5_vectors.errors import InvalidInputError
from t5_vectors.qdrant.payload import METADATA_KEY

__all__ = ["FilterLike", "to_filter"]

FilterLike = models.Filter | Mapping[str, Any]
"""What ``filter=`` accepts."""


def to_filter(value: FilterLike | None) -> models.Filter | None:
    """Turn *value* into a qdrant ``Filter`` (``None`` and ``{}`` mean no filter)."""
    if value is None or isinstance(value, models.Filter):
        return value
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"filter: expected a qdrant models.Filter or a dict of metadata values, found "
            f"{type(value).__name__}."
        )
    conditions: list[models.Condition] = []
    _collect(value, METADATA_KEY, conditions)
    return models.Filter(must=conditions) if conditions else None


def _collect(value: Mapping[Any, Any], prefix: str, out: list[models.Condition]) -> None:
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise InvalidInputError(f"filter: expected non-empty str keys, found {key!r}.")
        path = f"{prefix}.{key}"
        if isinstance(item, Mapping):
            if not item:
                raise InvalidInputError(
                    f"filter[{path!r}]: expected a value or a non-empty dict, found {{}}."
                )
            _collect(item, path, out)
        else:
            out.append(_condition(path, item))


def _condition(path: str, value: object) -> models.Condition:
    if value is None:
        return models.IsNullCondition(is_null=models.PayloadField(key=path))
    if isinstance(value, (bool, int, str)):
        return models.FieldCondition(key=path, match=models.MatchValue(value=value))
    if isinstance(value, float):
        return models.FieldCondition(key=path, range=models.Range(gte=value, lte=value))
    if isinstance(value, (list, tuple, set, frozenset)):
        options = list(value)
        if not options:
            raise InvalidInputError(
                f"filter[{path!r}]: expected at least one value to match, found an empty list."
            )
        if all(isinstance(v, str) for v in options) or all(
            isinstance(v, int) and not isinstance(v, bool) for v in options
        ):
            return models.FieldCondition(key=path, match=models.MatchAny(any=options))
        return models.Filter(should=[_condition(path, option) for option in options])
    raise InvalidInputError(
        f"filter[{path!r}]: expected a str, int, float, bool, None, list or dict, found "
        f"{type(value).__name__}. Write a qdrant models.Filter for other conditions."
    )
