"""A Qdrant server that cannot be reached, from Python: one typed error whose message is said
once, in the words of the Python interface (``storage=``), and retry warnings that name only
the cause."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from t5_vectors import QdrantIndex, RetryPolicy
from t5_vectors.errors import StorageUnavailableError


@pytest.fixture
def closed_url() -> Iterator[str]:
    """A URL on 127.0.0.1 that refuses connections: the port is bound, never listening."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{holder.getsockname()[1]}"
    finally:
        holder.close()


def test_the_error_speaks_python(tiny_encoder: Any, closed_url: str) -> None:
    with pytest.raises(StorageUnavailableError) as raised:
        QdrantIndex(tiny_encoder, collection_name="docs", storage=closed_url)
    message = str(raised.value)
    assert message.startswith(f"Expected a Qdrant server answering at {closed_url}, found none")
    assert message.count("Expected a Qdrant server") == 1
    assert "storage=" in message
    assert "path=" not in message
    assert "--qdrant-url" not in message
    assert raised.value.location == closed_url


def test_retry_warnings_name_the_cause_not_the_fixes(
    tiny_encoder: Any, closed_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    quick = RetryPolicy(attempts=3, initial_wait=0, max_wait=0, jitter=0)
    with (
        caplog.at_level(logging.WARNING, logger="t5_vectors"),
        pytest.raises(StorageUnavailableError) as raised,
    ):
        QdrantIndex(tiny_encoder, collection_name="docs", storage=closed_url, retry=quick)
    warnings = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(warnings) == 2  # tries 1 and 2 of 3; the third raises
    for warning in warnings:
        assert warning.endswith(f"({closed_url})"), warning
        assert "Expected" not in warning
        assert "storage=" not in warning
    assert "storage=" in str(raised.value)  # the fixes are said once, by the error
