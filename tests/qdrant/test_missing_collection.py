"""A collection that does not exist, opened with ``create_if_missing=False``: the error lists the
collections the storage holds (as the command line does), sync and async, and creates nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from qdrant_client import AsyncQdrantClient

from t5_vectors import QdrantIndex, T5QdrantVectorStore
from t5_vectors.errors import CollectionConfigError
from t5_vectors.storage.open import open_storage


def test_the_error_lists_the_collections_there(tiny_encoder: Any, tmp_path: Path) -> None:
    folder = tmp_path / "store"
    for name in ("notes", "docs"):
        QdrantIndex(tiny_encoder, collection_name=name, storage=folder).close()
    with pytest.raises(CollectionConfigError) as raised:
        QdrantIndex(tiny_encoder, collection_name="doc", storage=folder, create_if_missing=False)
    message = str(raised.value)
    assert "Qdrant collection 'doc' does not exist" in message
    assert "which holds only 'docs', 'notes'" in message
    assert str(folder) in message
    assert "create_if_missing=True" in message
    storage = open_storage(folder)
    try:
        assert sorted(storage.backend.list_collections()) == ["docs", "notes"]
    finally:
        storage.close()


def test_an_empty_storage_is_said_to_hold_none(tiny_encoder: Any, tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    with pytest.raises(CollectionConfigError, match="which holds no collections"):
        QdrantIndex(tiny_encoder, collection_name="docs", storage=folder, create_if_missing=False)
    assert not folder.exists()  # nothing was created to say so


def test_a_long_list_is_cut(tiny_encoder: Any) -> None:
    storage = open_storage(":memory:")
    try:
        for number in range(23):
            QdrantIndex(tiny_encoder, collection_name=f"c{number:02d}", storage=storage)
        with pytest.raises(CollectionConfigError) as raised:
            QdrantIndex(
                tiny_encoder, collection_name="c99", storage=storage, create_if_missing=False
            )
    finally:
        storage.close()
    message = str(raised.value)
    assert "'c00'" in message
    assert "'c19' and 3 more" in message
    assert "'c20'" not in message


async def test_the_async_twin_lists_them_too(tiny_encoder: Any) -> None:
    client = AsyncQdrantClient(":memory:")  # async only: the collection is checked on first await
    try:
        await QdrantIndex(tiny_encoder, collection_name="docs", storage=client).aensure_collection()
        index = QdrantIndex(
            tiny_encoder, collection_name="doc", storage=client, create_if_missing=False
        )
        with pytest.raises(CollectionConfigError, match="which holds only 'docs'"):
            await index.aensure_collection()
        assert [c.name for c in (await client.get_collections()).collections] == ["docs"]
    finally:
        await client.close()


def test_the_vector_store_lists_them(tiny_encoder: Any, tmp_path: Path) -> None:
    folder = tmp_path / "store"
    QdrantIndex(tiny_encoder, collection_name="docs", storage=folder).close()
    with pytest.raises(CollectionConfigError, match="which holds only 'docs'"):
        T5QdrantVectorStore.from_existing_collection("doc", tiny_encoder, path=str(folder))
