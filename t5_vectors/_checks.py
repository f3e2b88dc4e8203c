"""Checks shared by every layer: user-given values (:class:`InvalidInputError`, the message
naming the value in the caller's words, what was expected and what was found), and the
invariants code relies on (:func:`ensured`, :func:`of_type`: real checks, where an ``assert``
would vanish under ``python -O``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from t5_vectors.errors import InvalidInputError


def check_positive_int(name: str, value: object) -> None:
    """Raise unless *value* is an ``int`` (not a ``bool``) of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name}: expected a positive int, found {value!r}.")


def check_distinct(named: Iterable[tuple[str, object]], *, noun: str = "name") -> None:
    """Raise when two of the ``(what, name)`` pairs share a name, naming both users of it."""
    seen: dict[object, str] = {}
    for what, name in named:
        if name in seen:
            raise InvalidInputError(
                f"{what}: expected a {noun} of its own, found {name!r}, already used by "
                f"{seen[name]}. Choose another {noun}."
            )
        seen[name] = what


_T = TypeVar("_T")


def ensured(value: _T | None, what: str) -> _T:
    """*value*, which the code before it made sure of, or a ``RuntimeError`` naming *what* (a
    real check: ``python -O`` strips an ``assert``)."""
    if value is None:
        raise RuntimeError(f"internal error: {what} is missing; please report it")
    return value


def of_type(value: object, kind: type[_T], what: str) -> _T:
    """*value* as a *kind*, which the code before it made sure of, or a ``RuntimeError``."""
    if not isinstance(value, kind):
        raise RuntimeError(
            f"internal error: {what} is a {type(value).__name__}, not a {kind.__name__}; "
            "please report it"
        )
    return value
