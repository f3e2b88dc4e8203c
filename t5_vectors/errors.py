"""Typed exceptions raised by t5-vectors.

Every error a caller can cause derives from :class:`T5VectorsError`, so one ``except`` clause
catches them all. Messages say what was expected, what was found and how to fix it.

::

    T5VectorsError
    ├── ModelLoadError                 a checkpoint could not be resolved or loaded
    │   ├── ModelNotFoundError         no such local folder, or a hub id unavailable (e.g. offline)
    │   ├── NotT5CheckpointError       the checkpoint is not a T5 model
    │   ├── UnsafeCheckpointError      the weights would need pickle to load
    │   └── EncoderMismatchError       a saved classifier meets an encoder it was not trained on
    ├── InvalidInputError              bad arguments: wrong types, values or items (a ValueError)
    │   ├── SourceFileError            a file or folder to ingest is missing or unreadable
    │   └── LabelError                 labels unusable for training (one class, unseen, bad type)
    ├── EncodingError                  a forward pass failed; only the calls in that batch get it
    ├── EncoderClosedError             the encoder was closed
    ├── NotFittedError                 a classifier was used before fit() or load()
    ├── CollectionConfigError          an existing Qdrant collection does not match what is asked
    │   └── ModelMismatchError         it was built with another embedding model
    ├── StorageError                   the storage engine could not do what was asked
    │   ├── StorageLockedError         an embedded store is open in another process
    │   ├── StorageUnavailableError    a Qdrant server cannot be reached (transient)
    │   ├── StorageTimeoutError        a Qdrant server did not answer in time (transient)
    │   └── StorageFullError           the disk under an embedded store has no room for a write
    └── IngestError                    ingestion stopped at a batch that failed for good

    UserWarning
    ├── InsecureConnectionWarning      an API key is sent over plain http to another machine
    └── FilterWarning                  a filter names a key no stored document has, or a value of
                                       a kind its key never holds: it runs, and matches nothing

:class:`IngestReport` and :class:`BatchFailure`, which an :class:`IngestError` carries, are
plain dataclasses defined here too, so this module depends on nothing else of the package
(``t5_vectors.index`` re-exports them).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = [
    "BatchFailure",
    "CollectionConfigError",
    "EncoderClosedError",
    "EncoderMismatchError",
    "EncodingError",
    "FilterWarning",
    "IngestError",
    "IngestReport",
    "InsecureConnectionWarning",
    "InvalidInputError",
    "LabelError",
    "ModelLoadError",
    "ModelMismatchError",
    "ModelNotFoundError",
    "NotFittedError",
    "NotT5CheckpointError",
    "SourceFileError",
    "StorageError",
    "StorageFullError",
    "StorageLockedError",
    "StorageTimeoutError",
    "StorageUnavailableError",
    "T5VectorsError",
    "UnsafeCheckpointError",
]


class T5VectorsError(Exception):
    """Root of every exception t5-vectors raises on purpose."""


class ModelLoadError(T5VectorsError):
    """A checkpoint could not be resolved or loaded."""


class ModelNotFoundError(ModelLoadError, FileNotFoundError):
    """No such local folder, or a hub id that cannot be fetched (for example when offline)."""


class NotT5CheckpointError(ModelLoadError):
    """The checkpoint exists but is not a T5 model (or lacks what an encoder needs)."""


class UnsafeCheckpointError(ModelLoadError):
    """Loading the weights would execute pickled code; t5-vectors refuses."""


class EncoderMismatchError(ModelLoadError):
    """A saved classifier was trained on another encoder than the one given (fingerprints differ).

    ``recorded`` and ``given`` are the two encoder fingerprints.
    """

    def __init__(self, message: str, *, recorded: str, given: str) -> None:
        super().__init__(message)
        self.recorded = recorded
        self.given = given


class InvalidInputError(T5VectorsError, ValueError):
    """An argument has the wrong type or value (for example a ``str`` where a list is expected)."""


class LabelError(InvalidInputError):
    """Labels cannot be trained on or scored.

    One class only, a count that differs from the texts', a label the classifier never saw, or a
    type that cannot be saved as JSON (only ``str``, ``int`` and ``bool`` labels can).
    """


class SourceFileError(InvalidInputError):
    """A file or folder given to ingest is missing or cannot be read (``path`` names it)."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class EncodingError(T5VectorsError, RuntimeError):
    """A forward pass failed. Only the calls whose texts were in that batch receive it."""


class EncoderClosedError(T5VectorsError, RuntimeError):
    """The encoder was closed; create a new one."""


class NotFittedError(T5VectorsError, RuntimeError):
    """A classifier was asked to predict or save before ``fit()`` or ``load()``."""


class CollectionConfigError(T5VectorsError, ValueError):
    """An existing Qdrant collection does not match the requested vector size, distance or name."""


class ModelMismatchError(CollectionConfigError):
    """The collection records another embedding model than the one given.

    ``recorded`` and ``given`` name the two models.
    """

    def __init__(self, message: str, *, recorded: str, given: str) -> None:
        super().__init__(message)
        self.recorded = recorded
        self.given = given


class StorageError(T5VectorsError):
    """The storage engine could not do what was asked (the subclasses say why).

    ``transient`` says whether the same request may succeed when sent again (the retry policy
    asks it).
    """

    transient = False


class StorageLockedError(StorageError, RuntimeError):
    """An embedded store (a folder) is open in another process; ``path`` names the folder.

    Embedded storage serves one process at a time: wait for the other process to finish, or
    run a Qdrant server and connect every process to it.
    """

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class StorageUnavailableError(StorageError, ConnectionError):
    """A Qdrant server cannot be reached; ``location`` names it. Retried as transient."""

    transient = True

    def __init__(self, message: str, *, location: str) -> None:
        super().__init__(message)
        self.location = location


class StorageTimeoutError(StorageError, TimeoutError):
    """A Qdrant server did not answer in time; ``location`` names it. Retried as transient."""

    transient = True

    def __init__(self, message: str, *, location: str) -> None:
        super().__init__(message)
        self.location = location


class StorageFullError(StorageError, OSError):
    """The disk under an embedded store has no room for a write, checked before writing.

    ``path`` is the store's folder, ``free`` the bytes free there and ``needed`` the bytes the
    write needs (with the engine's preallocation). Nothing of the refused write reached the
    engine; every write acknowledged before it is kept. Free space (or move the store with
    ``t5-vectors copy``) and run the same ingest again: it resumes.
    """

    def __init__(self, message: str, *, path: str, free: int, needed: int) -> None:
        super().__init__(message)
        self.path = path
        self.free = free
        self.needed = needed


@dataclass(frozen=True)
class BatchFailure:
    """One batch that could not be stored.

    Attributes:
        batch: the batch number (0-based, in input order).
        first: input position of the batch's first document.
        last: input position of the batch's last document.
        size: documents of the batch that were not written.
        stage: what failed: reading, checking stored hashes, encoding or uploading.
        error: the final error, as text.
    """

    batch: int
    first: int
    last: int
    size: int
    stage: str
    error: str


@dataclass(frozen=True)
class IngestReport:
    """What an ingestion did. ``written + skipped + failed`` is every document read.

    Attributes:
        written: documents encoded and upserted.
        skipped: documents already stored unchanged (or repeated later in the same batch).
        failed: documents read but not written.
        batches: batches read.
        seconds: wall time.
        encode_seconds: time spent embedding.
        qdrant_seconds: time spent in Qdrant calls (lookups and uploads; uploads overlap
            encoding, so the shares may add up to more than the wall time).
        qdrant_wait_seconds: the part of the wall time the pipeline waited on Qdrant: hash
            lookups, and waiting for the uploader (a full queue, the last upload).
        failures: the failed batches.
    """

    written: int = 0
    skipped: int = 0
    failed: int = 0
    batches: int = 0
    seconds: float = 0.0
    encode_seconds: float = 0.0
    qdrant_seconds: float = 0.0
    qdrant_wait_seconds: float = 0.0
    failures: tuple[BatchFailure, ...] = ()

    @property
    def total(self) -> int:
        """Documents read."""
        return self.written + self.skipped + self.failed

    def plus(self, other: IngestReport) -> IngestReport:
        """Both reports added up, field by field: one stream fed through several ingest calls."""
        return IngestReport(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


class IngestError(T5VectorsError, RuntimeError):
    """Ingestion stopped at a batch that failed for good.

    ``report`` says what was written before it (re-running the same ingest resumes: what is
    stored is skipped); ``failure`` names the batch and the cause.
    """

    def __init__(self, message: str, *, report: IngestReport, failure: BatchFailure) -> None:
        super().__init__(message)
        self.report = report
        self.failure = failure


def stopping_error(error: BaseException) -> BaseException:
    """*error*, or for an :class:`IngestError` the error that stopped the ingest (its cause)."""
    while isinstance(error, IngestError) and error.__cause__ is not None:
        error = error.__cause__
    return error


class InsecureConnectionWarning(UserWarning):
    """An API key is sent over plain ``http`` to a host other than this machine.

    Shown once per connection; use ``https`` (or a tunnel to ``localhost``) to silence it.
    """


class FilterWarning(UserWarning):
    """A filter names a metadata key that no stored document holds, or compares a key with a
    value of a kind it never holds (text against numbers): the search runs and that condition
    matches nothing. The message names the stored keys or kinds."""
