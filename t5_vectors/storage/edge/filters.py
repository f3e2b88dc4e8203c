"""Qdrant filters in their JSON (REST) form, translated to Qdrant Edge's filter types.

The seam carries a filter as the REST API writes it (``models.Filter.model_dump(mode="json",
exclude_none=True)``); Qdrant Edge takes its own ``Filter`` / ``FieldCondition`` / ``Match*``
objects. :func:`to_edge_filter` translates every condition the REST API has; anything else is a
typed :class:`~t5_vectors.errors.InvalidInputError` naming the part it could not read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import qdrant_edge as qe

from t5_vectors.errors import InvalidInputError

_FILTER_KEYS = frozenset({"must", "should", "must_not", "min_should"})
_FIELD_KEYS = frozenset(
    {
        "key",
        "match",
        "range",
        "geo_bounding_box",
        "geo_radius",
        "geo_polygon",
        "values_count",
        "is_empty",
        "is_null",
    }
)


def _bad(part: object, expected: str) -> InvalidInputError:
    return InvalidInputError(
        f"filter: expected {expected}, found {part!r}; fix: write the filter as a "
        "qdrant_client.models.Filter or in the Qdrant REST API's JSON form"
    )


def to_edge_filter(filter: Mapping[str, Any]) -> qe.Filter:
    """Translate a filter in Qdrant's JSON form to a Qdrant Edge ``Filter``.

    Args:
        filter: for example ``{"must": [{"key": "metadata.source", "match": {"value": "a"}}]}``.

    Returns:
        The same filter as Qdrant Edge objects.

    Raises:
        InvalidInputError: a part of the filter is not Qdrant's filter form.
    """
    if not isinstance(filter, Mapping) or not set(filter) <= _FILTER_KEYS:
        raise _bad(filter, "a mapping with must / should / must_not / min_should")
    min_should = filter.get("min_should")
    return qe.Filter(
        must=_conditions(filter.get("must")),
        should=_conditions(filter.get("should")),
        must_not=_conditions(filter.get("must_not")),
        min_should=None if min_should is None else _min_should(min_should),
    )


def _min_should(part: Any) -> qe.MinShould:
    if not isinstance(part, Mapping) or "conditions" not in part or "min_count" not in part:
        raise _bad(part, 'min_should as {"conditions": [...], "min_count": n}')
    conditions = _conditions(part["conditions"]) or []
    return qe.MinShould(conditions=conditions, min_count=int(part["min_count"]))


def _conditions(part: Any) -> list[Any] | None:
    if part is None:
        return None
    if isinstance(part, Mapping):  # the REST API accepts one condition in place of a list
        part = [part]
    if not isinstance(part, Sequence) or isinstance(part, str):
        raise _bad(part, "a list of conditions")
    return [_condition(item) for item in part]


def _condition(part: Any) -> Any:
    if not isinstance(part, Mapping) or not part:
        raise _bad(part, "a condition (a mapping)")
    keys = set(part)
    if "key" in part:
        if not keys <= _FIELD_KEYS:
            raise _bad(part, f"a field condition with keys among {sorted(_FIELD_KEYS)}")
        return _field(part)
    if keys <= _FILTER_KEYS:
        return to_edge_filter(part)
    if len(keys) != 1:
        raise _bad(part, "one condition per mapping")
    (name,) = keys
    value = part[name]
    if name in ("is_empty", "is_null") and isinstance(value, Mapping) and "key" in value:
        kind = qe.IsEmptyCondition if name == "is_empty" else qe.IsNullCondition
        return kind(str(value["key"]))
    if name == "has_id" and isinstance(value, Sequence) and not isinstance(value, str):
        return qe.HasIdCondition(set(value))
    if name == "has_vector" and isinstance(value, str):
        return qe.HasVectorCondition(value)
    if name == "nested" and isinstance(value, Mapping) and {"key", "filter"} <= set(value):
        return qe.NestedCondition(str(value["key"]), to_edge_filter(value["filter"]))
    raise _bad(part, "a field, is_empty, is_null, has_id, has_vector or nested condition")


def _field(part: Mapping[str, Any]) -> qe.FieldCondition:
    key = part["key"]
    if not isinstance(key, str):
        raise _bad(key, "a payload key (a string)")
    match, range_ = part.get("match"), part.get("range")
    box, radius, polygon = (part.get(k) for k in ("geo_bounding_box", "geo_radius", "geo_polygon"))
    count = part.get("values_count")
    return qe.FieldCondition(
        key=key,
        match=None if match is None else _match(match),
        range=None if range_ is None else _range(range_),
        geo_bounding_box=None if box is None else _box(box),
        geo_radius=None if radius is None else _radius(radius),
        geo_polygon=None if polygon is None else _polygon(polygon),
        values_count=None if count is None else _values_count(count),
        is_empty=part.get("is_empty"),
        is_null=part.get("is_null"),
    )


def _match(part: Any) -> Any:
    if not isinstance(part, Mapping) or len(part) != 1:
        raise _bad(part, "a match with one of value / text / text_any / phrase / any / except")
    ((name, value),) = part.items()
    if name == "value" and isinstance(value, str | int | bool):
        # qdrant-edge-py 0.9 reads a Python bool as the integer it subclasses (True -> 1), so
        # a bool condition matched nothing stored as JSON true; numpy's bool is no int.
        return qe.MatchValue(np.bool_(value) if isinstance(value, bool) else value)  # type: ignore[arg-type]
    if name in ("text", "text_any", "phrase", "prefix", "substring") and isinstance(value, str):
        kinds = {
            "text": qe.MatchText,
            "text_any": qe.MatchTextAny,
            "phrase": qe.MatchPhrase,
            "prefix": qe.MatchPrefix,
            "substring": qe.MatchSubstring,
        }
        return kinds[name](value)
    if name in ("any", "except", "except_") and isinstance(value, list):  # pydantic: except_
        return qe.MatchAny(value) if name == "any" else qe.MatchExcept(value)
    raise _bad(part, "a match with one of value / text / text_any / phrase / any / except")


def _range(part: Any) -> Any:
    bounds = ("gt", "gte", "lt", "lte")
    if not isinstance(part, Mapping) or not set(part) <= set(bounds):
        raise _bad(part, "a range with gt / gte / lt / lte")
    values = {k: part.get(k) for k in bounds}
    try:
        if any(isinstance(v, str) for v in values.values()):
            return qe.RangeDateTime(**{k: None if v is None else str(v) for k, v in values.items()})
        return qe.RangeFloat(**{k: None if v is None else float(v) for k, v in values.items()})
    except (TypeError, ValueError) as err:
        raise _bad(part, "range bounds as numbers or ISO 8601 datetimes") from err


def _values_count(part: Any) -> qe.ValuesCount:
    bounds = ("gt", "gte", "lt", "lte")
    if not isinstance(part, Mapping) or not set(part) <= set(bounds):
        raise _bad(part, "values_count with gt / gte / lt / lte")
    return qe.ValuesCount(**{k: None if part.get(k) is None else int(part[k]) for k in bounds})


def _point(part: Any) -> qe.GeoPoint:
    if not isinstance(part, Mapping) or {"lon", "lat"} != set(part):
        raise _bad(part, 'a geo point {"lon": x, "lat": y}')
    return qe.GeoPoint(lon=float(part["lon"]), lat=float(part["lat"]))


def _box(part: Any) -> qe.GeoBoundingBox:
    if not isinstance(part, Mapping) or {"top_left", "bottom_right"} != set(part):
        raise _bad(part, "geo_bounding_box with top_left and bottom_right")
    return qe.GeoBoundingBox(_point(part["top_left"]), _point(part["bottom_right"]))


def _radius(part: Any) -> qe.GeoRadius:
    if not isinstance(part, Mapping) or {"center", "radius"} != set(part):
        raise _bad(part, "geo_radius with center and radius")
    return qe.GeoRadius(_point(part["center"]), float(part["radius"]))


def _line(part: Any) -> list[qe.GeoPoint]:
    if not isinstance(part, Mapping) or not isinstance(part.get("points"), list):
        raise _bad(part, 'a geo line string {"points": [...]}')
    return [_point(p) for p in part["points"]]


def _polygon(part: Any) -> qe.GeoPolygon:
    if not isinstance(part, Mapping) or "exterior" not in part:
        raise _bad(part, "geo_polygon with exterior (and optional interiors)")
    interiors = part.get("interiors")
    return qe.GeoPolygon(
        _line(part["exterior"]),
        None if interiors is None else [_line(ring) for ring in interiors],
    )
