"""Checks of user-given values shared by every interface, raising :class:`InvalidInputError`.

Each message names the value in the words of the caller (a parameter, a column, a field), says
what was expected and what was found.
"""

from __future__ import annotations

from collections.abc import Iterable

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
