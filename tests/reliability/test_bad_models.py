"""Bad models and collections: damaged checkpoints and a collection of the wrong size.

Part of the bad-input matrix (``test_bad_input.py``): each case must raise the named
``T5VectorsError`` saying what was expected, what was found and how to fix it, before an encoder
is created or anything is written.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from qdrant_client import QdrantClient, models

from t5_vectors import (
    CollectionConfigError,
    ModelLoadError,
    ModelNotFoundError,
    NotT5CheckpointError,
    QdrantIndex,
    T5Embeddings,
    T5Encoder,
    T5QdrantVectorStore,
    T5VectorsError,
)
from tests.reliability.test_bad_input import AREA, Call, describe, run


# ------------------------------------------------------------------------------- collection
def test_collection_of_the_wrong_size_is_refused(tiny_encoder, reliability):
    client = QdrantClient(":memory:")
    wrong = tiny_encoder.dim + 8
    client.create_collection(
        "wrong", vectors_config=models.VectorParams(size=wrong, distance=models.Distance.COSINE)
    )
    client.upsert("wrong", points=[models.PointStruct(id=1, vector=[0.5] * wrong, payload={})])
    errors = {
        "QdrantIndex(...)": run(
            lambda: QdrantIndex(tiny_encoder, collection_name="wrong", storage=client)
        ),
        "T5QdrantVectorStore.from_existing_collection": run(
            lambda: T5QdrantVectorStore.from_existing_collection(
                "wrong", tiny_encoder, client=client
            )
        ),
        "T5QdrantVectorStore.from_texts": run(
            lambda: T5QdrantVectorStore.from_texts(
                ["x"], tiny_encoder, collection_name="wrong", client=client
            )
        ),
    }
    count = client.count("wrong").count
    size = client.get_collection("wrong").config.params.vectors.size  # type: ignore[union-attr]
    client.close()
    sample = next(iter(errors.values()))
    reliability(
        area=AREA,
        case=f"existing collection of size {wrong}, model of size {tiny_encoder.dim}",
        expected="CollectionConfigError naming both sizes, collection untouched",
        outcome=f"{sum(isinstance(e, CollectionConfigError) for e in errors.values())}/"
        f"{len(errors)} raised CollectionConfigError; e.g. {describe(sample)}",
        lost="nothing" if (count, size) == (1, wrong) else f"collection now {count} pts, {size}",
    )
    for error in errors.values():
        assert isinstance(error, CollectionConfigError), describe(error)
        assert str(wrong) in str(error)
        assert str(tiny_encoder.dim) in str(error)
    assert (count, size) == (1, wrong)


# ------------------------------------------------------------------------------ checkpoints
def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def _cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CHECKPOINT_DAMAGE: dict[str, tuple[Callable[[Path], None], type[T5VectorsError]]] = {
    "model.safetensors cut in half": (
        lambda p: _cut_in_half(p / "model.safetensors"),
        ModelLoadError,
    ),
    "model.safetensors missing": (lambda p: (p / "model.safetensors").unlink(), ModelLoadError),
    "config.json missing": (lambda p: (p / "config.json").unlink(), NotT5CheckpointError),
    "config.json truncated": (lambda p: _cut_in_half(p / "config.json"), ModelLoadError),
    "2_Dense weights missing": (
        lambda p: (p / "2_Dense" / "model.safetensors").unlink(),
        ModelLoadError,
    ),
    "2_Dense weights cut in half": (
        lambda p: _cut_in_half(p / "2_Dense" / "model.safetensors"),
        ModelLoadError,
    ),
    "no tokenizer (spiece.model, tokenizer.json removed)": (
        lambda p: (
            [(p / n).unlink(missing_ok=True) for n in ("spiece.model", "tokenizer.json")] and None
        ),
        ModelLoadError,
    ),
    "modules.json truncated": (lambda p: _cut_in_half(p / "modules.json"), ModelLoadError),
}


@pytest.mark.parametrize("case", list(CHECKPOINT_DAMAGE))
def test_damaged_checkpoints_are_refused(case, st5_path, tmp_path, reliability):
    damage, expected = CHECKPOINT_DAMAGE[case]
    folder = _copy(st5_path, tmp_path / "damaged")
    damage(folder)
    calls: dict[str, Call] = {
        "T5Encoder.from_pretrained": lambda: T5Encoder.from_pretrained(folder, device="cpu"),
        "T5Embeddings(model_name)": lambda: T5Embeddings(str(folder), device="cpu"),
    }
    errors = {name: run(call) for name, call in calls.items()}
    sample = next(iter(errors.values()))
    reliability(
        area=AREA,
        case=f"checkpoint: {case}",
        expected=f"{expected.__name__} naming the file, with how to fix it",
        outcome=f"{sum(isinstance(e, expected) for e in errors.values())}/{len(errors)} raised "
        f"{expected.__name__}; e.g. {describe(sample)}",
        lost="nothing (no encoder created)",
    )
    for error in errors.values():
        assert isinstance(error, expected), describe(error)
        message = str(error).lower()
        assert "expected" in message, message
        assert any(fix in message for fix in ("again", "save", "pass the folder")), message


def test_missing_checkpoint_folder_is_refused(tmp_path, reliability):
    error = run(lambda: T5Encoder.from_pretrained(tmp_path / "nowhere", local_files_only=True))
    reliability(
        area=AREA,
        case="checkpoint folder that does not exist",
        expected="ModelNotFoundError (offline: no hub lookup)",
        outcome=describe(error),
        lost="nothing",
    )
    assert isinstance(error, ModelNotFoundError), describe(error)


def _edit_json(path: Path, edit: Callable[[dict[str, object]], None]) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


SAVED_DAMAGE: dict[str, Callable[[Path], None]] = {
    "t5_vectors_head.safetensors cut in half": lambda p: _cut_in_half(
        p / "t5_vectors_head.safetensors"
    ),
    "t5_vectors.json from a later format": lambda p: _edit_json(
        p / "t5_vectors.json", lambda d: d.update(format=2)
    ),
    "t5_vectors.json with a dense entry lacking out_features": lambda p: _edit_json(
        p / "t5_vectors.json",
        lambda d: [dense.pop("out_features") for dense in d["dense"]],  # type: ignore[attr-defined]
    ),
}


@pytest.mark.parametrize("case", list(SAVED_DAMAGE))
def test_damaged_saved_encoders_are_refused(case, tiny_encoder, tmp_path, reliability):
    """A folder written by ``T5Encoder.save_pretrained`` (the t5-vectors layout), damaged."""
    folder = tiny_encoder.save_pretrained(tmp_path / "saved")
    assert (folder / "t5_vectors_head.safetensors").is_file()
    T5Encoder.from_pretrained(folder, device="cpu").close()  # loads before the damage
    SAVED_DAMAGE[case](folder)
    error = run(lambda: T5Encoder.from_pretrained(folder, device="cpu"))
    reliability(
        area=AREA,
        case=f"saved encoder: {case}",
        expected="ModelLoadError naming the file, with how to fix it",
        outcome=describe(error),
        lost="nothing (no encoder created)",
    )
    assert isinstance(error, ModelLoadError), describe(error)
    message = str(error)
    assert "Expected" in message, message
    assert str(folder) in message, message
    assert "again" in message or "Upgrade" in message, message
