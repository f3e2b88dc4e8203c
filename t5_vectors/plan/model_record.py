"""The embedding model recorded with a collection, and the check that refuses another one.

A collection t5-vectors creates carries, in its schema's ``metadata`` (a Qdrant server and
qdrant-client's local mode store it with the collection's configuration, Qdrant Edge in the
shard's sidecar file), a record of the model that embedded its points::

    {"t5_vectors": {
        "model": "sentence-transformers/sentence-t5-base",   # as the user gave it
        "fingerprint": "t5|sentence-transformers/...|768|mean|True|256|...",
        "dim": 768,
        "distance": "cosine",
        "probe": "<base64 float16>",       # T5 encoders only: vectors of PROBE_TEXTS
        "version": 1,
        "sparse": {"k1": 1.2, "b": 0.75, "avg_length": 256.0, "lowercase": True},
    }}

``"sparse"`` is there only with sparse vectors: their BM25 weighting, which Qdrant's
configuration cannot hold (:mod:`t5_vectors.plan.layout` reads it back).

When an existing collection is opened, the model given is compared with the record:

* the same fingerprint is the same model. A T5 checkpoint's fingerprint names it by content
  (``sha256:...``, :attr:`~t5_vectors.T5Encoder.fingerprint`), so the same checkpoint
  from the hub, from a downloaded folder or from a copy in any other folder is the same model, and
  its stored points are kept as they are (their content hashes hold the fingerprint);
* a fingerprint recorded before checkpoints were named by content names the folder or hub id
  instead. When it differs from the given model's only in that name, and the probe vectors
  agree (below), the given model is that same checkpoint in another place: the index adopts the
  recorded fingerprint (:attr:`t5_vectors.index.identity.ModelIdentity.fingerprint`), so
  nothing stored is encoded or written again, and ``ModelIdentity.recognised`` says which
  recorded model it was;
* a different fingerprint with a recorded probe: the given model embeds :data:`PROBE_TEXTS` and
  is the same model when every vector has cosine >= :data:`PROBE_MIN_COSINE` with the recorded
  one (the same checkpoint re-saved in another layout, or with settings that change no vector).
  Its content hashes hold its own fingerprint, so what it writes again is encoded again
  (``ModelIdentity.reencodes``), and its first write records its fingerprint;
* anything else raises :class:`~t5_vectors.errors.ModelMismatchError` before anything is
  written, naming both models.

Collections without a record (written by langchain-qdrant, or by older versions) are used as
they are; only their vector size and distance are checked.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from t5_vectors.storage.base import Schema

RECORD_KEY = "t5_vectors"
"""The key of the record in the collection's ``metadata``."""

PROBE_TEXTS: tuple[str, ...] = (
    "A probe sentence that identifies the embedding model.",
    "Qdrant stores vectors; T5 turns text into them.",
    "1 2 3 4 5, the quick brown fox.",
)
"""Texts whose vectors identify a model across names and precisions."""

PROBE_MIN_COSINE = 0.99
"""The least cosine between recorded and new probe vectors of the same model (bf16 vs float32
agree to about 0.9999; different models are far below)."""

_VERSION = 1


@dataclass(frozen=True)
class ModelRecord:
    """What a collection records about its embedding model.

    Attributes:
        model: the model's name or path as the user gave it.
        fingerprint: ``Embedder.fingerprint`` (``T5Encoder.fingerprint`` for T5 models).
        dim: size of the vectors.
        distance: the collection's distance (lower case).
        probe: vectors of :data:`PROBE_TEXTS` (T5 encoders), or ``None``.
        max_length: the most tokens the model reads of a text (T5 encoders), or ``None``.
        chunking: the chunk size and overlap file ingestion last used
            (``{"chunk_tokens": ..., "chunk_overlap": ...}``), or ``None``.
    """

    model: str
    fingerprint: str
    dim: int
    distance: str
    probe: np.ndarray | None = None
    max_length: int | None = None
    chunking: Mapping[str, int] | None = None

    def to_metadata(self) -> dict[str, Any]:
        """The collection ``metadata`` holding this record."""
        record: dict[str, Any] = {
            "model": self.model,
            "fingerprint": self.fingerprint,
            "dim": self.dim,
            "distance": self.distance,
            "version": _VERSION,
        }
        if self.probe is not None:
            data = np.asarray(self.probe, dtype="<f2").tobytes()
            record["probe"] = base64.b64encode(data).decode("ascii")
        if self.max_length is not None:
            record["max_length"] = self.max_length
        if self.chunking is not None:
            record["chunking"] = dict(self.chunking)
        return {RECORD_KEY: record}


def read_record(schema: Schema | Any) -> ModelRecord | None:
    """The record stored with a collection, or ``None`` when it has none (or an unreadable one).

    Args:
        schema: the collection's :class:`~t5_vectors.storage.base.Schema` (a qdrant-client
            ``CollectionInfo`` is still read, for callers written before the storage seam).
    """
    if isinstance(schema, Schema):
        metadata: object = schema.metadata
    else:
        metadata = getattr(getattr(schema, "config", None), "metadata", None)
    record = metadata.get(RECORD_KEY) if isinstance(metadata, Mapping) else None
    if not isinstance(record, Mapping):
        return None
    model, fingerprint, dim = record.get("model"), record.get("fingerprint"), record.get("dim")
    if not isinstance(model, str) or not isinstance(fingerprint, str) or not isinstance(dim, int):
        return None
    distance, max_length, chunking = (record.get(k) for k in ("distance", "max_length", "chunking"))
    return ModelRecord(
        model=model,
        fingerprint=fingerprint,
        dim=dim,
        distance=distance if isinstance(distance, str) else "",
        probe=_decode_probe(record.get("probe"), dim),
        max_length=max_length if isinstance(max_length, int) else None,
        chunking=chunking if isinstance(chunking, Mapping) else None,
    )


def updated(metadata: Mapping[str, Any], **changes: Any) -> dict[str, Any] | None:
    """Collection *metadata* whose model record holds *changes* (``model=``, ``chunking=``),
    or ``None`` when it has no record or already holds them (nothing to write)."""
    record = metadata.get(RECORD_KEY)
    if not isinstance(record, Mapping) or all(record.get(k) == v for k, v in changes.items()):
        return None
    return {**metadata, RECORD_KEY: {**record, **changes}}


def _decode_probe(value: object, dim: int) -> np.ndarray | None:
    if not isinstance(value, str):
        return None
    try:
        data = base64.b64decode(value.encode("ascii"), validate=True)
    except ValueError:
        return None
    if len(data) != 2 * dim * len(PROBE_TEXTS):
        return None
    return np.frombuffer(data, dtype="<f2").astype(np.float32).reshape(len(PROBE_TEXTS), dim)


def renamed_only(recorded: str, given: str) -> bool:
    """Whether *recorded* is a fingerprint that names the checkpoint by place (from before
    checkpoints were named by content) and differs from *given* in that name only."""
    old, new = recorded.split("|"), given.split("|")
    return (
        len(old) == len(new) >= 2
        and old[0] == new[0] == "t5"
        and not old[1].startswith("sha256:")
        and new[1].startswith("sha256:")
        and old[2:] == new[2:]
    )


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dot = (a * b).sum(axis=1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.asarray(dot / np.maximum(norms, 1e-12), dtype=np.float64)
