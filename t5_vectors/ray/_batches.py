"""Ray Data's three batch formats, read and extended the same way.

``map_batches`` hands a callable a dict of numpy arrays (``batch_format="numpy"``, the default),
a pandas ``DataFrame`` or a pyarrow ``Table``. These helpers read a column as Python values and
return the batch with new columns added in the format it came in, every other column kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from t5_vectors.errors import InvalidInputError

Batch = Any
"""A dict of numpy arrays, a pandas ``DataFrame`` or a pyarrow ``Table``."""


def _kind(batch: Batch) -> str:
    if isinstance(batch, Mapping):
        return "numpy"
    module = type(batch).__module__
    if module.startswith("pandas"):
        return "pandas"
    if module.startswith("pyarrow"):
        return "pyarrow"
    raise InvalidInputError(
        f"batch: expected a dict of numpy arrays, a pandas DataFrame or a pyarrow Table (Ray "
        f"Data's batch formats), found {type(batch).__name__}. Call it through "
        "Dataset.map_batches, or pass one of those."
    )


def column_names(batch: Batch) -> list[str]:
    """The batch's column names."""
    kind = _kind(batch)
    if kind == "numpy":
        return list(batch)
    if kind == "pandas":
        return [str(name) for name in batch.columns]
    return list(batch.column_names)


def num_rows(batch: Batch) -> int:
    """Rows in the batch."""
    kind = _kind(batch)
    if kind == "numpy":
        return len(next(iter(batch.values()))) if batch else 0
    return len(batch)


def column_values(batch: Batch, name: str, *, what: str) -> list[Any]:
    """Column *name* as a list of plain Python values (numpy scalars become ``int``, ``str``...).

    Args:
        batch: the batch.
        name: the column.
        what: how the error names the option that chose the column (``"text_column"``).

    Raises:
        InvalidInputError: the batch has no such column.
    """
    _require(batch, name, what)
    kind = _kind(batch)
    if kind == "pyarrow":
        return list(batch.column(name).to_pylist())
    values = batch[name]
    array = values.to_numpy() if kind == "pandas" else values
    return [_plain(value) for value in np.asarray(array, dtype=object).tolist()]


def _require(batch: Batch, name: str, what: str) -> None:
    names = column_names(batch)
    if name not in names:
        raise InvalidInputError(
            f"{what}: expected a column {name!r} in the dataset, found columns {names}. "
            f"Pass {what}= with the name of the column that holds it."
        )


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return [_plain(item) for item in value.tolist()]
    return value


def column_arrays(batch: Batch, name: str, *, what: str) -> list[np.ndarray]:
    """Column *name* as one numpy array per row (vector columns: fixed or ragged tensors)."""
    _require(batch, name, what)
    kind = _kind(batch)
    if kind == "pyarrow":
        column = batch.column(name)
        if hasattr(column.type, "to_pandas_dtype") and "Tensor" in type(column.type).__name__:
            values = column.combine_chunks().to_numpy()
            return [np.asarray(row) for row in values]
        return [np.asarray(row) for row in column.to_pylist()]
    values = batch[name]
    if kind == "pandas":
        values = values.to_numpy()
    if isinstance(values, np.ndarray) and values.dtype != object:
        return list(values)
    return [np.asarray(row) for row in values]


def add_columns(batch: Batch, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> Batch:
    """*batch* with *columns* added (or replaced), in the format it came in.

    Each new column holds one value per row: a 2-D float array for fixed-size vectors, or a list
    of 1-D / 2-D arrays for ragged ones (token vectors, sparse indices and values).
    """
    kind = _kind(batch)
    if kind == "numpy":
        out = dict(batch)
        for name, values in columns.items():
            out[name] = values if isinstance(values, np.ndarray) else _object_array(values)
        return out
    if kind == "pandas":
        out = batch.copy(deep=False)
        for name, values in columns.items():
            out[name] = list(values)
        return out
    from ray.data.extensions import ArrowTensorArray, ArrowVariableShapedTensorArray

    table = batch
    for name, values in columns.items():
        if isinstance(values, np.ndarray) and values.dtype != object:
            array = ArrowTensorArray.from_numpy(values)
        else:
            array = ArrowVariableShapedTensorArray.from_numpy(_object_array(list(values)))
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, array)
        else:
            table = table.append_column(name, array)
    return table


def _object_array(values: Sequence[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        array[i] = value
    return array
