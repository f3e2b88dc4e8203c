"""The sidecar file of an Edge collection: its :class:`Schema` as JSON, written atomically.

Qdrant Edge stores vectors, payloads and its own configuration (``edge_config.json``) but not
what a collection means to t5-vectors: the metadata (the model record), the payload indexes as
asked for, and the schema exactly as created (Edge fills in defaults). The sidecar holds the
whole :class:`Schema`; :func:`write` replaces it atomically (temp file, fsync, rename, fsync of
the folder), so a crash leaves the old file or the new one, never a torn one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from t5_vectors.errors import CollectionConfigError
from t5_vectors.storage.base import DenseVectorSpec, Hnsw, Quantization, Schema, SparseVectorSpec

FORMAT = 1
"""The sidecar's format version; a newer one is refused with a typed error."""


def _fields(value: Quantization | Hnsw | None) -> dict[str, Any] | None:
    return None if value is None else asdict(value)


def schema_to_json(schema: Schema) -> dict[str, Any]:
    """The schema as plain JSON values."""
    return {
        "dense": {
            name: {
                "size": spec.size,
                "distance": spec.distance,
                "multivector": spec.multivector,
                "datatype": spec.datatype,
                "on_disk": spec.on_disk,
                "quantization": _fields(spec.quantization),
                "hnsw": _fields(spec.hnsw),
            }
            for name, spec in schema.dense.items()
        },
        "sparse": {
            name: {"idf": spec.idf, "on_disk": spec.on_disk} for name, spec in schema.sparse.items()
        },
        "quantization": _fields(schema.quantization),
        "hnsw": _fields(schema.hnsw),
        "payload_indexes": dict(schema.payload_indexes),
        "metadata": dict(schema.metadata),
        "on_disk_payload": schema.on_disk_payload,
        "shard_number": schema.shard_number,
        "replication_factor": schema.replication_factor,
        "write_consistency_factor": schema.write_consistency_factor,
    }


def _quantization_from(data: Mapping[str, Any] | None) -> Quantization | None:
    return None if data is None else Quantization(**data)


def _hnsw_from(data: Mapping[str, Any] | None) -> Hnsw | None:
    return None if data is None else Hnsw(**data)


def schema_from_json(data: Mapping[str, Any]) -> Schema:
    """The schema :func:`schema_to_json` wrote."""
    dense = {
        name: DenseVectorSpec(
            size=spec["size"],
            distance=spec["distance"],
            multivector=spec["multivector"],
            datatype=spec["datatype"],
            on_disk=spec["on_disk"],
            quantization=_quantization_from(spec["quantization"]),
            hnsw=_hnsw_from(spec["hnsw"]),
        )
        for name, spec in data["dense"].items()
    }
    sparse = {name: SparseVectorSpec(**spec) for name, spec in data["sparse"].items()}
    return Schema(
        dense=dense,
        sparse=sparse,
        quantization=_quantization_from(data["quantization"]),
        hnsw=_hnsw_from(data["hnsw"]),
        payload_indexes=dict(data["payload_indexes"]),
        metadata=dict(data["metadata"]),
        on_disk_payload=data["on_disk_payload"],
        shard_number=data["shard_number"],
        replication_factor=data["replication_factor"],
        write_consistency_factor=data["write_consistency_factor"],
    )


def read(path: Path) -> Schema:
    """Read a sidecar file.

    Raises:
        CollectionConfigError: the file is not a sidecar this version of t5-vectors can read.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        found = data.get("format")
        if found == FORMAT:
            return schema_from_json(data["schema"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise CollectionConfigError(
            f"{path}: expected a t5-vectors collection file (JSON), found one that cannot be "
            f"read ({type(err).__name__}: {err}); fix: restore it from a backup, or drop the "
            "collection and ingest again"
        ) from err
    raise CollectionConfigError(
        f"{path}: expected a t5-vectors collection file of format {FORMAT}, found format "
        f"{found!r}; fix: open the folder with the t5-vectors version that wrote it"
    )


def write(path: Path, schema: Schema) -> None:
    """Replace the sidecar file at ``path`` atomically (temp file, fsync, rename)."""
    text = json.dumps({"format": FORMAT, "schema": schema_to_json(schema)}, indent=1)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open a folder; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
