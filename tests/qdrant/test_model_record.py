"""The model recorded with a collection: stored on creation, checked on opening, never blocking
collections without a record."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from t5_vectors import QdrantIndex, T5Encoder
from t5_vectors.errors import CollectionConfigError, ModelMismatchError
from t5_vectors.qdrant._model_record import PROBE_TEXTS, RECORD_KEY, read_record
from t5_vectors.testing import build_sentence_transformers_checkpoint


@pytest.fixture(scope="module")
def other_model(tmp_path_factory):
    """Same architecture and size as st5_path, other weights."""
    path = build_sentence_transformers_checkpoint(tmp_path_factory.mktemp("m") / "other", seed=7)
    encoder = T5Encoder.from_pretrained(path, device="cpu", dtype="float32")
    yield encoder
    encoder.close()


def test_a_new_collection_records_the_model(make_index, client, tiny_encoder):
    make_index(collection_name="c", distance="dot")
    record = read_record(client.get_collection("c"))
    assert record is not None
    assert record.model == tiny_encoder.name_or_path
    assert record.fingerprint == tiny_encoder.fingerprint
    assert (record.dim, record.distance) == (24, "dot")
    np.testing.assert_allclose(
        record.probe,
        tiny_encoder.encode(list(PROBE_TEXTS)),
        atol=2e-3,  # stored as float16
    )


def test_another_model_is_refused_before_anything_is_written(
    make_index, client, tiny_encoder, other_model
):
    index = make_index(collection_name="c")
    index.add(["kept"])
    with pytest.raises(ModelMismatchError) as caught:
        make_index(other_model, collection_name="c")
    error = caught.value
    assert isinstance(error, CollectionConfigError)
    assert (error.recorded, error.given) == (tiny_encoder.name_or_path, other_model.name_or_path)
    message = str(error)
    assert "another embedding model" in message
    assert tiny_encoder.name_or_path in message
    assert other_model.name_or_path in message
    assert "fix:" in message
    assert client.count("c").count == 1


async def test_async_open_is_checked_too(client, tiny_encoder, other_model, tmp_path):
    from qdrant_client import AsyncQdrantClient

    aclient = AsyncQdrantClient(":memory:")
    await QdrantIndex(tiny_encoder, collection_name="c", async_client=aclient).aensure_collection()
    other = QdrantIndex(other_model, collection_name="c", async_client=aclient)
    with pytest.raises(ModelMismatchError):
        await other.aensure_collection()
    await aclient.close()


def test_the_same_checkpoint_under_another_path_or_precision_is_accepted(
    st5_path, tmp_path, tiny_encoder
):
    copy = shutil.copytree(st5_path, tmp_path / "copy-of-st5")
    client = QdrantClient(":memory:")
    QdrantIndex(tiny_encoder, collection_name="c", client=client).add(["a text"])
    with T5Encoder.from_pretrained(copy, device="cpu", dtype="bfloat16") as moved:
        assert moved.fingerprint != tiny_encoder.fingerprint
        index = QdrantIndex(moved, collection_name="c", client=client)
        assert index.count() == 1
    client.close()


def test_collections_without_a_record_keep_working(client, tiny_encoder, vector_table):
    client.create_collection(
        "foreign", vectors_config=models.VectorParams(size=24, distance=models.Distance.COSINE)
    )
    index = QdrantIndex(tiny_encoder, collection_name="foreign", client=client)
    index.add(["from t5-vectors"])
    assert read_record(client.get_collection("foreign")) is None  # not claimed
    other = QdrantIndex(vector_table({"x": [1.0] * 24}), collection_name="foreign", client=client)
    assert other.count() == 1


def test_unreadable_records_are_ignored(client, tiny_encoder):
    for metadata in ({RECORD_KEY: "junk"}, {RECORD_KEY: {"model": 1}}, {"other": {}}):
        client.create_collection(
            "odd",
            vectors_config=models.VectorParams(size=24, distance=models.Distance.COSINE),
            metadata=metadata,
        )
        assert read_record(client.get_collection("odd")) is None
        QdrantIndex(tiny_encoder, collection_name="odd", client=client)
        client.delete_collection("odd")


def test_the_record_survives_reopening_embedded_storage(tiny_encoder, tmp_path, other_model):
    with QdrantIndex(tiny_encoder, collection_name="c", path=tmp_path / "db") as index:
        index.add(["a"])
    with pytest.raises(ModelMismatchError):
        QdrantIndex(other_model, collection_name="c", path=tmp_path / "db")
