"""The model a ``QdrantIndex`` embeds with, checked against the record of a collection.

The record itself and the pure comparisons are :mod:`t5_vectors.plan.model_record`; this class
holds the embedder, embeds the probe texts and remembers what it adopted.
"""

from __future__ import annotations

import numpy as np

from t5_vectors.errors import ModelMismatchError
from t5_vectors.index.embedder import Embedder
from t5_vectors.plan.model_record import (
    PROBE_MIN_COSINE,
    PROBE_TEXTS,
    ModelRecord,
    read_record,
    renamed_only,
    row_cosines,
)
from t5_vectors.storage.base import Schema

__all__ = ["ModelIdentity"]


class ModelIdentity:
    """The model a ``QdrantIndex`` embeds with, as recorded and checked against collections.

    Args:
        embedder: the index's embedder.
        model: the name to record; defaults to the encoder's ``name_or_path`` (or the
            embeddings' model name).
    """

    def __init__(self, embedder: Embedder, model: str | None = None) -> None:
        self._embedder = embedder
        if model is None:
            encoder = embedder.encoder
            model = encoder.name_or_path if encoder is not None else embedder.name
        self.model = model
        self._adopted: str | None = None
        self.recognised: str | None = None
        """The recorded model name this model was recognised as, when the names differ."""

    @property
    def fingerprint(self) -> str:
        """The fingerprint content hashes use: the model's own, or the one it adopted."""
        return self._adopted or self._embedder.fingerprint

    def record(self, distance: str) -> ModelRecord:
        """The record of a new collection (T5 encoders embed the probe texts once)."""
        encoder = self._embedder.encoder
        probe = self._probe() if encoder is not None else None
        return ModelRecord(
            model=self.model,
            fingerprint=self._embedder.fingerprint,
            dim=self._embedder.dim,
            distance=distance,
            probe=probe,
        )

    def check(self, schema: Schema, collection_name: str) -> None:
        """Raise :class:`ModelMismatchError` unless the collection's record is this model.

        Collections without a record pass (their size and distance are checked elsewhere).
        """
        recorded = read_record(schema)
        self._adopted = None
        self.recognised = recorded.model if recorded and recorded.model != self.model else None
        if recorded is None or recorded.fingerprint == self._embedder.fingerprint:
            return
        if recorded.probe is not None and recorded.dim == self._embedder.dim:
            cosines = row_cosines(recorded.probe, self._probe())
            if float(cosines.min()) >= PROBE_MIN_COSINE:
                if renamed_only(recorded.fingerprint, self._embedder.fingerprint):
                    self._adopted = recorded.fingerprint
                return
            why = f"its vectors of probe texts differ: cosine {float(cosines.min()):.3f}"
        else:
            why = "a different model fingerprint"
        raise ModelMismatchError(
            f"Qdrant collection {collection_name!r} was built with another embedding model.\n"
            f"  expected: the model the collection records, {recorded.model}\n"
            f"  found:    {self.model} ({why})\n"
            f"  fix:      embed with {recorded.model} (t5-vectors: --model {recorded.model}; "
            "Python: T5Encoder.from_pretrained(...) of it), use another collection name, or "
            "recreate the collection (recreate=True; deletes its points)",
            recorded=recorded.model,
            given=self.model,
        )

    def _probe(self) -> np.ndarray:
        return np.asarray(self._embedder.documents(list(PROBE_TEXTS)), dtype=np.float32)
