"""The ``serve`` extra: the message when one of its packages is missing."""

from __future__ import annotations


def missing(what: str) -> ImportError:
    """An ``ImportError`` naming *what* is missing and the ``pip install`` that brings it."""
    return ImportError(
        f"t5-vectors serve and mcp need {what}, which is not installed. Install the extra: "
        'pip install "t5-vectors[serve]"'
    )
