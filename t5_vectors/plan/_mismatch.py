"""The one message of a collection that does not match what is asked (expected, found, fix)."""

from __future__ import annotations

from t5_vectors.errors import CollectionConfigError


def mismatch(collection: str, expected: str, found: str, fix: str) -> CollectionConfigError:
    """A :class:`CollectionConfigError` for *collection*; *fix* starts with a space."""
    return CollectionConfigError(
        f"Qdrant collection {collection!r} does not match the requested configuration.\n"
        f"  expected: {expected}\n"
        f"  found:    {found}\n"
        f"  fix:     {fix}."
    )
