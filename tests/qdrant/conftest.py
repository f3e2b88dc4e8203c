"""Fixtures for the Qdrant layer: embedded clients, spies and embeddings with chosen vectors."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from qdrant_client import QdrantClient

from t5_vectors import CollectionSpec, QdrantIndex, open_storage

_names = itertools.count()


class VectorTable(Embeddings):
    """Embeddings with chosen vectors: exact texts map to given vectors, others to a hash."""

    def __init__(self, table: dict[str, list[float]], dim: int | None = None) -> None:
        self.table = table
        self.dim = dim or len(next(iter(table.values())))
        self.calls: list[list[str]] = []

    def _vector(self, text: str) -> list[float]:
        if text in self.table:
            return list(self.table[text])
        seed = int.from_bytes(text.encode()[:8].ljust(8, b"\0"), "little") ^ len(text)
        return np.random.default_rng(seed).normal(size=self.dim).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


class EncodeSpy:
    """Counts the texts a T5Encoder is asked to encode (sync and async)."""

    def __init__(self, encoder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.texts: list[str] = []
        encode, aencode = encoder.encode, encoder.aencode

        def spy_encode(texts: Any, **kwargs: Any) -> Any:
            self.texts.extend(texts)
            return encode(texts, **kwargs)

        async def spy_aencode(texts: Any, **kwargs: Any) -> Any:
            self.texts.extend(texts)
            return await aencode(texts, **kwargs)

        monkeypatch.setattr(encoder, "encode", spy_encode)
        monkeypatch.setattr(encoder, "aencode", spy_aencode)


LAYOUT = frozenset(CollectionSpec.__dataclass_fields__)
"""``make_index`` takes the collection layout as flat keywords, made into its spec."""

ENGINES = ("edge", "memory")
"""Where ``make_index`` stores: Qdrant Edge (the default engine, in a temporary folder) first,
then qdrant-client's ``:memory:`` engine. A test that also asks for ``client`` reads
qdrant-client's own view of the collection, so it runs on ``:memory:`` only."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" in metafunc.fixturenames:
        engines = ["memory"] if "client" in metafunc.fixturenames else list(ENGINES)
        metafunc.parametrize("engine", engines)


@pytest.fixture
def client() -> Iterator[QdrantClient]:
    client = QdrantClient(":memory:")
    yield client
    client.close()


@pytest.fixture
def store(engine: str, request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    """The storage every ``make_index`` of a test shares (a client, or Qdrant Edge's storage)."""
    if engine == "memory":
        yield request.getfixturevalue("client")
        return
    storage = open_storage(tmp_path / "edge-store")
    yield storage
    storage.close()


@pytest.fixture
def make_index(tiny_encoder: Any, engine: str, store: Any) -> Callable[..., QdrantIndex]:
    """``make_index(**options)``: a QdrantIndex over the test's shared store (see ENGINES)."""

    def make(embedding: Any = None, **options: Any) -> QdrantIndex:
        options.setdefault("collection_name", f"c{next(_names)}")
        options.setdefault("storage", store)
        layout = {key: options.pop(key) for key in LAYOUT if key in options}
        if layout:
            options["spec"] = CollectionSpec(**layout)
        return QdrantIndex(tiny_encoder if embedding is None else embedding, **options)

    return make


@pytest.fixture
def encode_spy(tiny_encoder: Any, monkeypatch: pytest.MonkeyPatch) -> EncodeSpy:
    return EncodeSpy(tiny_encoder, monkeypatch)


@pytest.fixture
def vector_table() -> type[VectorTable]:
    """The :class:`VectorTable` class: ``vector_table({"text": [1.0, 0.0]})``."""
    return VectorTable
