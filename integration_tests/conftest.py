"""Integration tests against a real Qdrant server; skipped unless ``QDRANT_URL`` is set.

Run them with the pinned server from ``docker-compose.yml``::

    docker compose up -d qdrant
    QDRANT_URL=http://localhost:6333 .venv/bin/pytest integration_tests -q

``QDRANT_API_KEY`` is passed when set; ``QDRANT_PREFER_GRPC=1`` talks gRPC (port 6334) instead
of REST. Tests use collections of their own, named ``t5v-it-<random>-...``, dropped at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from qdrant_client import QdrantClient

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

QDRANT_URL = os.environ.get("QDRANT_URL")
SKIP_REASON = (
    "QDRANT_URL is not set: these tests need a Qdrant server. Start the pinned one with "
    "`docker compose up -d qdrant` and run "
    "`QDRANT_URL=http://localhost:6333 pytest integration_tests`."
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if QDRANT_URL:
        return
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(skip)


def client_options() -> dict[str, Any]:
    """``QdrantClient`` keyword arguments for the server under test."""
    return {
        "url": QDRANT_URL,
        "api_key": os.environ.get("QDRANT_API_KEY") or None,
        "prefer_grpc": os.environ.get("QDRANT_PREFER_GRPC", "") not in ("", "0", "false"),
        "timeout": 30,
    }


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from t5_vectors import T5Encoder
    from t5_vectors.testing import build_sentence_transformers_checkpoint

    path = build_sentence_transformers_checkpoint(tmp_path_factory.mktemp("st5") / "st5", seed=3)
    encoder = T5Encoder.from_pretrained(str(path), device="cpu", dtype="float32")
    yield encoder
    encoder.close()


@pytest.fixture(scope="session")
def server() -> Iterator[QdrantClient]:
    """A sync client of the server; collections named by ``new_name`` are dropped at the end."""
    client = QdrantClient(**client_options())
    yield client
    for collection in client.get_collections().collections:
        if collection.name.startswith(_PREFIX):
            client.delete_collection(collection.name)
    client.close()


_PREFIX = f"t5v-it-{uuid.uuid4().hex[:8]}-"


@pytest.fixture(scope="session")
def new_name() -> Callable[[], str]:
    """``new_name()``: a fresh collection name this test run owns (dropped at the end)."""
    return lambda: f"{_PREFIX}{uuid.uuid4().hex[:12]}"
