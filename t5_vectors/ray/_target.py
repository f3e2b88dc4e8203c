"""Where the workers write: a picklable description of a ``QdrantIndex``'s collection.

A ``QdrantIndex`` holds an encoder and open clients, so it never travels to Ray workers. What
travels is a :class:`Target`: the collection, what its points store (:class:`Layout`), the retry
policy and a location that the worker opens with :func:`~t5_vectors.storage.open.open_storage`
(the one door to storage, in the worker as on the driver). For a server or cluster that is the
index's own server (:meth:`~t5_vectors.storage.open.Storage.server_location`). Embedded storage
(a Qdrant Edge or local-mode folder, ``:memory:``) serves one process, so it has no location a
worker can open: :func:`t5_vectors.ray.ingest` writes it from the driver instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from t5_vectors.errors import InvalidInputError
from t5_vectors.index.collection import Collection
from t5_vectors.ray._rows import Layout
from t5_vectors.storage.open import Storage, StorageLike, open_storage
from t5_vectors.storage.retry import RetryPolicy

if TYPE_CHECKING:
    from t5_vectors.index.index import QdrantIndex


def shared(index: QdrantIndex) -> bool:
    """Whether Ray workers can write where *index* stores (a server or cluster)."""
    return index.connection.capabilities.shared


def layout_of(index: QdrantIndex) -> Layout:
    """What *index*'s points store, for workers that make them."""
    spec = index.spec
    return Layout(
        dim=index.dim,
        vector_name=spec.vector_name,
        tokens=spec.tokens,
        sparse=spec.sparse,
        fingerprint=index.fingerprint,
    )


@dataclass(frozen=True)
class Target:
    """A collection the workers can write to, and how (picklable).

    Attributes:
        collection: the collection's name.
        layout: what its points store.
        retry: how transient failures are retried.
        location: where a worker opens the storage (:func:`open_storage` takes it there).
    """

    collection: str
    layout: Layout
    retry: RetryPolicy
    location: StorageLike

    @classmethod
    def of(cls, index: QdrantIndex, worker_storage: StorageLike | None = None) -> Target:
        """The target of *index*; workers open *worker_storage* if given, else its server.

        Raises:
            InvalidInputError: no *worker_storage* and *index* is embedded storage, which Ray
                workers cannot reach, or a *worker_storage* that is an open ``Storage``.
        """
        if isinstance(worker_storage, Storage):
            raise InvalidInputError(
                "worker_storage: expected a location each Ray worker opens (a server URL, a "
                "ServerLocation), found an open Storage, which lives in this process. Pass "
                "storage.server_location()."
            )
        if worker_storage is None:
            if not shared(index):
                storage = index.connection
                raise InvalidInputError(
                    f"index: expected a Qdrant server or cluster that Ray workers can write to, "
                    f"found {storage.kind} storage ({storage.location}), which serves one "
                    "process. Use t5_vectors.ray.ingest(dataset, index), which writes embedded "
                    "storage from the driver, or connect the index to a server "
                    "(QdrantIndex(..., storage='http://...'))."
                )
            worker_storage = index.connection.server_location()
        return cls(index.collection_name, layout_of(index), index.retry, worker_storage)

    def open(self) -> Collection:
        """The collection, opened in the calling process (close its ``storage`` after use)."""
        return Collection(open_storage(self.location), self.collection, self.retry)
