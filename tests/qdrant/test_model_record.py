"""The model recorded with a collection: stored on creation, checked on opening, never blocking
collections without a record."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from t5_vectors import QdrantIndex, T5Encoder
from t5_vectors.errors import CollectionConfigError, ModelMismatchError
from t5_vectors.plan.model_record import PROBE_TEXTS, RECORD_KEY, read_record
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
    await QdrantIndex(tiny_encoder, collection_name="c", storage=aclient).aensure_collection()
    other = QdrantIndex(other_model, collection_name="c", storage=aclient)
    with pytest.raises(ModelMismatchError):
        await other.aensure_collection()
    await aclient.close()


def test_the_same_checkpoint_under_another_path_or_precision_is_accepted(
    st5_path, tmp_path, tiny_encoder
):
    copy = shutil.copytree(st5_path, tmp_path / "copy-of-st5")
    client = QdrantClient(":memory:")
    QdrantIndex(tiny_encoder, collection_name="c", storage=client).add(["a text"])
    with T5Encoder.from_pretrained(copy, device="cpu", dtype="bfloat16") as moved:
        assert moved.fingerprint == tiny_encoder.fingerprint  # named by content, not by place
        index = QdrantIndex(moved, collection_name="c", storage=client)
        assert index.count() == 1
    client.close()


def test_the_same_checkpoint_copied_elsewhere_writes_nothing_again(st5_path, tmp_path):
    copy = shutil.copytree(st5_path, tmp_path / "copy-of-st5")
    texts = [f"text {i}" for i in range(12)]
    first = T5Encoder.from_pretrained(st5_path, device="cpu", dtype="float32")
    with first, QdrantIndex(first, collection_name="c", storage=tmp_path / "db") as index:
        assert index.ingest(texts).written == 12
    moved = T5Encoder.from_pretrained(copy, device="cpu", dtype="float32")
    with moved, QdrantIndex(moved, collection_name="c", storage=tmp_path / "db") as index:
        assert index.identity.recognised == str(st5_path)
        report = index.ingest(texts)
        assert (report.written, report.skipped) == (0, 12)
        record = read_record(index.backend.describe("c"))
        assert record is not None
        assert record.model == str(copy)  # the record names where the model now is
        assert record.fingerprint == moved.fingerprint


def test_a_resaved_model_is_accepted_rewrites_once_and_records_its_fingerprint(st5_path, tmp_path):
    texts = [f"text {i}" for i in range(6)]
    first = T5Encoder.from_pretrained(st5_path, device="cpu", dtype="float32")
    with first, QdrantIndex(first, collection_name="c", storage=tmp_path / "db") as index:
        assert index.ingest(texts).written == 6
        saved = first.save_pretrained(tmp_path / "saved")
    resaved = T5Encoder.from_pretrained(saved, device="cpu", dtype="float32")
    assert resaved.fingerprint != first.fingerprint  # other files, another digest
    with resaved, QdrantIndex(resaved, collection_name="c", storage=tmp_path / "db") as index:
        assert index.identity.reencodes
        assert index.ingest(texts).written == 6  # its hashes hold its own fingerprint
        record = read_record(index.backend.describe("c"))
        assert record is not None
        assert (record.model, record.fingerprint) == (str(saved), resaved.fingerprint)
    again = T5Encoder.from_pretrained(saved, device="cpu", dtype="float32")
    with again, QdrantIndex(again, collection_name="c", storage=tmp_path / "db") as index:
        assert not index.identity.reencodes
        assert index.ingest(texts).written == 0


def test_weights_that_differ_are_another_fingerprint(st5_path, tmp_path):
    from safetensors.torch import load_file, save_file

    changed = shutil.copytree(st5_path, tmp_path / "changed")
    weights = next(changed.glob("*.safetensors"))
    tensors = load_file(weights)
    name = sorted(tensors)[-1]
    tensors[name] = tensors[name] + 0.01
    save_file(tensors, weights)
    a = T5Encoder.from_pretrained(st5_path, device="cpu")
    b = T5Encoder.from_pretrained(changed, device="cpu")
    with a, b:
        assert a.fingerprint != b.fingerprint


def test_a_collection_recorded_by_folder_name_adopts_its_fingerprint(st5_path, tmp_path):
    """Collections written before checkpoints were named by content recorded the folder: the
    same checkpoint from another folder writes nothing again (the recorded hashes are kept)."""
    copy = shutil.copytree(st5_path, tmp_path / "copy-of-st5")
    texts = [f"text {i}" for i in range(12)]
    with T5Encoder.from_pretrained(st5_path, device="cpu", dtype="float32") as old:
        old.checkpoint_digest = None  # the fingerprint of earlier versions: the place
        legacy = old.fingerprint
        assert f"|{st5_path}|" in legacy
        with QdrantIndex(old, collection_name="c", storage=tmp_path / "db") as index:
            assert index.ingest(texts).written == 12
    moved = T5Encoder.from_pretrained(copy, device="cpu", dtype="float32")
    with moved, QdrantIndex(moved, collection_name="c", storage=tmp_path / "db") as index:
        assert index.identity.fingerprint == legacy
        assert index.ingest(texts).written == 0
        assert index.add(texts[:2]) == index.add(texts[:2])
        assert index.count() == 12


def test_collections_without_a_record_keep_working(client, tiny_encoder, vector_table):
    client.create_collection(
        "foreign", vectors_config=models.VectorParams(size=24, distance=models.Distance.COSINE)
    )
    index = QdrantIndex(tiny_encoder, collection_name="foreign", storage=client)
    index.add(["from t5-vectors"])
    assert read_record(client.get_collection("foreign")) is None  # not claimed
    other = QdrantIndex(vector_table({"x": [1.0] * 24}), collection_name="foreign", storage=client)
    assert other.count() == 1


def test_unreadable_records_are_ignored(client, tiny_encoder):
    for metadata in ({RECORD_KEY: "junk"}, {RECORD_KEY: {"model": 1}}, {"other": {}}):
        client.create_collection(
            "odd",
            vectors_config=models.VectorParams(size=24, distance=models.Distance.COSINE),
            metadata=metadata,
        )
        assert read_record(client.get_collection("odd")) is None
        QdrantIndex(tiny_encoder, collection_name="odd", storage=client)
        client.delete_collection("odd")


def test_the_record_survives_reopening_embedded_storage(tiny_encoder, tmp_path, other_model):
    with QdrantIndex(tiny_encoder, collection_name="c", storage=tmp_path / "db") as index:
        index.add(["a"])
    with pytest.raises(ModelMismatchError):
        QdrantIndex(other_model, collection_name="c", storage=tmp_path / "db")
