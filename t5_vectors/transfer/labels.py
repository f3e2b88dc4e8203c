"""Labels for the classifier: validation, class indices, class weights and the validation split.

Labels may be ``str``, ``int`` or ``bool`` (numpy scalars of those kinds too), all of one kind:
they are saved as JSON next to the head, so nothing needs pickle to load. ``classes_`` is sorted
as scikit-learn sorts it (``np.unique``), and predictions map back to those original labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch

from t5_vectors.encoder.texts import check_texts
from t5_vectors.errors import InvalidInputError, LabelError

LabelKind = Literal["str", "int", "bool"]
ClassWeight = Literal["balanced"] | Mapping[Any, float] | None


def _label_kind(label: object, where: str) -> LabelKind:
    if isinstance(label, bool | np.bool_):
        return "bool"
    if isinstance(label, int | np.integer):
        return "int"
    if isinstance(label, str):
        return "str"
    found = "None" if label is None else f"{type(label).__name__} {label!r:.40}"
    hint = (
        " Floats are refused (1.0 and 1 would be one class); use int or str labels."
        if isinstance(label, float | np.floating)
        else " Convert labels to str, int or bool."
    )
    raise LabelError(f"{where}: expected a str, int or bool label, found {found}.{hint}")


def _as_python(label: Any, kind: LabelKind) -> str | int | bool:
    if kind == "bool":
        return bool(label)
    if kind == "int":
        return int(label)
    return str(label)


def check_labels(labels: Sequence[Any], where: str) -> tuple[list[str | int | bool], LabelKind]:
    if isinstance(labels, str | bytes) or not isinstance(labels, Sequence | np.ndarray):
        raise LabelError(
            f"{where}: expected a list of labels (one per text), found "
            f"{type(labels).__name__}. Pass a list or a 1-D numpy array."
        )
    items = list(labels)
    if not items:
        raise LabelError(f"{where}: expected at least one label, found none.")
    kinds = {_label_kind(item, f"{where}[{index}]") for index, item in enumerate(items)}
    if len(kinds) > 1:
        raise LabelError(
            f"{where}: expected labels of one kind, found a mix of {', '.join(sorted(kinds))}. "
            "Convert them all to str (or all to int)."
        )
    kind = kinds.pop()
    return [_as_python(item, kind) for item in items], kind


def check_fit_inputs(
    texts: Sequence[str], labels: Sequence[Any], where: str
) -> tuple[list[str], list[str | int | bool], LabelKind]:
    """Validate *texts* and their *labels* (same length, at least one, one label kind)."""
    items = check_texts(texts)
    if not items:
        raise InvalidInputError(f"{where}: expected at least one text, found an empty list.")
    values, kind = check_labels(labels, f"{where} labels")
    if len(values) != len(items):
        raise LabelError(
            f"{where}: expected one label per text ({len(items)} texts), found {len(values)} "
            "labels. Pass texts and labels of the same length."
        )
    return items, values, kind


def encode_labels(values: list[str | int | bool], kind: LabelKind) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, y)``: the sorted distinct labels and each label's class index (int64)."""
    classes = np.unique(np.asarray(values, dtype=_numpy_dtype(kind)))
    if len(classes) < 2:
        raise LabelError(
            f"labels: expected at least 2 classes, found only {classes[0]!r}. A classifier "
            "needs examples of every class it should predict."
        )
    return classes, label_indices(values, classes, "labels")


def label_indices(values: Sequence[Any], classes: np.ndarray, where: str) -> np.ndarray:
    """Class index of each label in *values*; a label not in *classes* raises ``LabelError``."""
    kind = _kind_of(classes)
    lookup = {_as_python(c, kind): i for i, c in enumerate(classes.tolist())}
    out = np.empty(len(values), dtype=np.int64)
    for index, value in enumerate(values):
        if _label_kind(value, f"{where}[{index}]") != kind or (
            _as_python(value, kind) not in lookup
        ):
            raise LabelError(
                f"{where}[{index}]: expected one of the training classes "
                f"{_preview(classes)}, found {value!r}. Validation labels must be classes the "
                "training labels contain; add examples of it to the training data or drop it."
            )
        out[index] = lookup[_as_python(value, kind)]
    return out


def _numpy_dtype(kind: LabelKind) -> Any:
    return {"str": np.str_, "int": np.int64, "bool": np.bool_}[kind]


def _kind_of(classes: np.ndarray) -> LabelKind:
    if classes.dtype == np.bool_:
        return "bool"
    if np.issubdtype(classes.dtype, np.integer):
        return "int"
    return "str"


def _preview(classes: np.ndarray) -> str:
    shown = ", ".join(repr(c) for c in classes.tolist()[:10])
    return f"[{shown}{', ...' if len(classes) > 10 else ''}]"


def classes_to_json(classes: np.ndarray) -> dict[str, Any]:
    """``{"kind": ..., "values": [...]}``, exact for str, int and bool labels."""
    return {"kind": _kind_of(classes), "values": classes.tolist()}


def classes_from_json(data: Any) -> np.ndarray:
    """Inverse of :func:`classes_to_json`; raises ``ValueError`` on a malformed record."""
    kind = data["kind"]
    values = data["values"]
    if kind not in ("str", "int", "bool") or not isinstance(values, list) or len(values) < 2:
        raise ValueError(f"bad classes record {data!r:.200}")
    expected = {"str": str, "int": int, "bool": bool}[kind]
    if any(type(v) is not expected for v in values):
        raise ValueError(f"classes of kind {kind} hold other values: {values!r:.200}")
    return np.asarray(values, dtype=_numpy_dtype(kind))


def class_weights(spec: ClassWeight, classes: np.ndarray, y: np.ndarray) -> torch.Tensor | None:
    """Per-class loss weights: ``None``, ``"balanced"`` (as scikit-learn) or ``{label: weight}``.

    ``"balanced"`` gives class *c* the weight ``n_samples / (n_classes * count(c))``; a mapping
    gives its classes their weights and every other class 1.0.
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        if spec != "balanced":
            raise InvalidInputError(
                f"class_weight: expected None, 'balanced' or a {{label: weight}} dict, found "
                f"{spec!r}."
            )
        counts = np.bincount(y, minlength=len(classes)).astype(np.float64)
        weights = len(y) / (len(classes) * np.maximum(counts, 1.0))
        return torch.tensor(weights, dtype=torch.float32)
    if not isinstance(spec, Mapping):
        raise InvalidInputError(
            f"class_weight: expected None, 'balanced' or a {{label: weight}} dict, found "
            f"{type(spec).__name__}."
        )
    index = label_indices(list(spec.keys()), classes, "class_weight keys")
    weights = np.ones(len(classes), dtype=np.float64)
    for position, value in zip(index, spec.values(), strict=True):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise InvalidInputError(
                f"class_weight[{classes[position]!r}]: expected a positive number, found {value!r}."
            )
        weights[position] = float(value)
    return torch.tensor(weights, dtype=torch.float32)


def stratified_split(
    y: np.ndarray, fraction: float, generator: torch.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, validation)`` indices: *fraction* of each class, at least one left to train on.

    Deterministic for a given generator state; both index arrays are sorted.
    """
    validation: list[np.ndarray] = []
    for label in range(int(y.max()) + 1):
        members = np.flatnonzero(y == label)
        take = min(round(len(members) * fraction), len(members) - 1)
        if take > 0:
            order = torch.randperm(len(members), generator=generator).numpy()
            validation.append(members[order[:take]])
    if not validation:
        raise LabelError(
            f"validation_split={fraction}: expected it to leave at least one validation example, "
            f"found none for {len(y)} texts. Pass more texts, a larger validation_split, "
            "validation_data=(texts, labels), or validation_split=0 to train without early "
            "stopping."
        )
    val = np.sort(np.concatenate(validation))
    train = np.setdiff1d(np.arange(len(y)), val)
    return train, val
