"""How one ingestion runs: its batch size, what to do on failure, what to compare.

:class:`IngestRun` is decided before anything is read (``QdrantIndex.ingest`` and ``add`` make
one, the pipeline in :mod:`t5_vectors.index.ingest` follows it). :data:`DEFAULT_BATCH_SIZE` is
the one default of every batch-size knob that counts documents (chunks, for files): the index,
the vector store, file ingestion, Ray and the command line's ``--batch-size``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from t5_vectors._checks import check_positive_int
from t5_vectors.errors import InvalidInputError

DEFAULT_BATCH_SIZE = 256
"""Documents (chunks, for files) per ingestion batch: looked up, encoded and written together."""

OnFailure = Literal["raise", "continue"]


@dataclass(frozen=True)
class IngestRun:
    """How one ingestion runs; validated on creation.

    Attributes:
        batch_size: documents per batch.
        on_failure: ``"raise"`` stops at the first batch that fails for good, ``"continue"``
            records it and goes on.
        force: encode and write even documents stored unchanged.
        lookup: compare with stored content hashes (``False`` into a collection that was
            empty when the run began: only versions on their way are compared).
        show_progress: show a progress bar.
        total: how many documents the source holds, when known (for the bar).
    """

    batch_size: int = DEFAULT_BATCH_SIZE
    on_failure: OnFailure = "raise"
    force: bool = False
    lookup: bool = True
    show_progress: bool = False
    total: int | None = None

    def __post_init__(self) -> None:
        check_positive_int("batch_size", self.batch_size)
        if self.on_failure not in ("raise", "continue"):
            raise InvalidInputError(
                f"on_failure: expected 'raise' or 'continue', found {self.on_failure!r}."
            )
