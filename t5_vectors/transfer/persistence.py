"""Saving a trained classifier next to its encoder, and loading it back. Never pickle.

A saved folder holds::

    classifier.json          format, classes (JSON: str, int or bool), head config, training
                             history, and the encoder it was trained on: name_or_path, its
                             fingerprint, the settings to rebuild it, and where a copy is saved
    head.safetensors         the head's weights (and its trained attention pooling), float32
    encoder/                 only with include_encoder=True: the encoder (save_pretrained)

Loading checks the encoder: one passed in must have the recorded fingerprint; one loaded from the
recorded location must have the recorded settings and head weights (its name may differ: the
saved copy lives at another path than the original).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from t5_vectors.errors import (
    EncoderMismatchError,
    InvalidInputError,
    ModelLoadError,
    ModelNotFoundError,
)
from t5_vectors.transfer.heads import ClassificationHead, HeadConfig
from t5_vectors.transfer.labels import classes_from_json, classes_to_json
from t5_vectors.transfer.training import TrainingHistory

CONFIG_NAME = "classifier.json"
WEIGHTS_NAME = "head.safetensors"
ENCODER_DIR = "encoder"
FORMAT = 1


@dataclass(frozen=True)
class SavedClassifier:
    """What a saved folder holds, read and checked."""

    root: Path
    classes: np.ndarray
    head_config: HeadConfig
    input_dim: int
    kind: str
    encoder: dict[str, Any]
    state: dict[str, torch.Tensor]


def write(
    path: Path,
    *,
    head: ClassificationHead,
    classes: np.ndarray,
    kind: str,
    encoder: Any,
    history: TrainingHistory | None,
    include_encoder: bool,
) -> Path:
    """Write the folder (see the module docstring); returns it."""
    from safetensors.torch import save_file

    if path.exists() and not path.is_dir():
        raise InvalidInputError(
            f"save: expected a folder path, found a file at {path}. Pick another path."
        )
    path.mkdir(parents=True, exist_ok=True)
    name = encoder.name_or_path
    local = Path(name).expanduser()
    record = {
        "format": FORMAT,
        "classes": classes_to_json(classes),
        "head": head.config.to_json(),
        "input_dim": head.input_dim,
        "kind": kind,
        "encoder": {
            "name_or_path": name,
            "resolved_path": str(local.resolve()) if name and local.is_dir() else None,
            "saved_copy": ENCODER_DIR if include_encoder else None,
            "fingerprint": encoder.fingerprint,
            "dtype": str(encoder.dtype).removeprefix("torch."),
            "settings": {
                "pooling": list(encoder.config.pooling),
                "normalize": encoder.config.normalize,
                "max_length": encoder.config.max_length,
                "query_prefix": encoder.config.query_prefix,
                "document_prefix": encoder.config.document_prefix,
            },
        },
        "training": None if history is None else asdict(history),
    }
    state = {k: v.detach().float().cpu().contiguous() for k, v in head.state_dict().items()}
    save_file(state, str(path / WEIGHTS_NAME), metadata={"format": "pt"})
    (path / CONFIG_NAME).write_text(json.dumps(record, indent=2) + "\n")
    if include_encoder:
        encoder.save_pretrained(path / ENCODER_DIR)
    return path


def read(path: str | os.PathLike[str]) -> SavedClassifier:
    """Read and check a saved folder; raises ``ModelNotFoundError`` or ``ModelLoadError``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    root = Path(path)
    config_path, weights_path = root / CONFIG_NAME, root / WEIGHTS_NAME
    if not config_path.is_file() or not weights_path.is_file():
        raise ModelNotFoundError(
            f"Expected a saved T5Classifier at {root} ({CONFIG_NAME} and {WEIGHTS_NAME}), found "
            f"{'no such folder' if not root.is_dir() else 'a folder without them'}. Pass the "
            "folder given to T5Classifier.save()."
        )
    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, this version reads {FORMAT}")
        saved = SavedClassifier(
            root=root,
            classes=classes_from_json(data["classes"]),
            head_config=HeadConfig.from_json(data["head"]),
            input_dim=int(data["input_dim"]),
            kind=str(data["kind"]),
            encoder=dict(data["encoder"]),
            state=load_file(str(weights_path)),
        )
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        InvalidInputError,
        SafetensorError,
    ) as err:
        raise ModelLoadError(
            f"Expected a readable T5Classifier in {root}, found an error: "
            f"{type(err).__name__}: {err}. The folder is incomplete, corrupt or from another "
            "version: save the classifier again."
        ) from err
    return saved


def build_head(saved: SavedClassifier, device: torch.device) -> ClassificationHead:
    """The saved head with its weights, on *device*."""
    head = ClassificationHead(saved.head_config, saved.input_dim, len(saved.classes))
    try:
        head.load_state_dict(saved.state, strict=True)
    except RuntimeError as err:
        raise ModelLoadError(
            f"Expected {saved.root / WEIGHTS_NAME} to match {CONFIG_NAME}, found a mismatch: "
            f"{err}. Save the classifier again."
        ) from err
    return head.to(device).eval()


def check_encoder(saved: SavedClassifier, encoder: Any) -> None:
    """Refuse an encoder whose fingerprint is not the recorded one."""
    recorded = saved.encoder["fingerprint"]
    if encoder.fingerprint != recorded:
        raise EncoderMismatchError(
            f"Expected the encoder this classifier was trained on (fingerprint {recorded!r}), "
            f"found {encoder.fingerprint!r}. Its checkpoint, settings or head weights differ, "
            "so its features would not fit the head. Pass the same encoder "
            f"({saved.encoder['name_or_path']!r} with the recorded settings), load without an "
            "encoder to rebuild it from the record, or train the classifier again.",
            recorded=recorded,
            given=encoder.fingerprint,
        )


def load_encoder(
    saved: SavedClassifier, device: str | torch.device, dtype: str | torch.dtype | None
) -> Any:
    """Rebuild the recorded encoder: the saved copy, else its recorded path or hub id.

    It runs in the recorded dtype unless *dtype* says otherwise.
    """
    from t5_vectors.encoder.core import T5Encoder

    info = saved.encoder
    if info.get("saved_copy"):
        location = str(saved.root / info["saved_copy"])
    elif info.get("resolved_path") and not Path(info["name_or_path"]).is_dir():
        location = info["resolved_path"]
    else:
        location = info["name_or_path"]
    settings = info["settings"]
    encoder = T5Encoder.from_pretrained(
        location,
        device=device,
        dtype=info.get("dtype", "auto") if dtype is None else dtype,
        pooling=settings["pooling"],
        normalize=settings["normalize"],
        max_length=settings["max_length"],
        query_prefix=settings["query_prefix"],
        document_prefix=settings["document_prefix"],
    )
    # The checkpoint's identity (its content digest, or a name) comes first in the fingerprint;
    # the copy save_pretrained wrote holds other files. Everything after it (settings, head
    # weights) must match.
    if _without_name(encoder.fingerprint) != _without_name(info["fingerprint"]):
        encoder.close()
        raise EncoderMismatchError(
            f"Expected the encoder at {location} to be the one this classifier was trained on "
            f"(fingerprint {info['fingerprint']!r}), found {encoder.fingerprint!r}: its settings "
            "or head weights changed since. Pass the trained-on encoder to load(), or save the "
            "classifier with include_encoder=True.",
            recorded=info["fingerprint"],
            given=encoder.fingerprint,
        )
    return encoder


def _without_name(fingerprint: str) -> str:
    return "|".join(fingerprint.split("|")[2:])
