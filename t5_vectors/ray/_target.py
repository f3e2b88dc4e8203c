"""Where the workers write: a picklable description of a ``QdrantIndex``'s collection.

A ``QdrantIndex`` holds an encoder and open clients, so it never travels to Ray workers. What
travels is a :class:`Target`: the collection, what its points store (:class:`Layout`), the retry
policy and a callable that opens a storage backend (:class:`~t5_vectors.storage.base.Backend`)
in the worker. For a server or cluster that is the qdrant-client backend built from the index's
own client options (:meth:`~t5_vectors.storage.open.Storage.opener`). Embedded storage (a
Qdrant Edge or local-mode folder, ``:memory:``) serves one process, so it has no worker-side
opener: :func:`t5_vectors.ray.ingest` writes it from the driver instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from t5_vectors.errors import InvalidInputError
from t5_vectors.storage.retry import RetryPolicy
from t5_vectors.ray._rows import Layout
from t5_vectors.storage.base import Backend

if TYPE_CHECKING:
    from t5_vectors.index.index import QdrantIndex

__all__ = ["OpenBackend", "Target", "backend_of", "shared"]

OpenBackend = Callable[[], Backend]
"""Opens a backend in the process that calls it (must be picklable to reach Ray workers)."""


def shared(index: QdrantIndex) -> bool:
    """Whether Ray workers can write where *index* stores (a server or cluster)."""
    return index.connection.capabilities.shared


def backend_of(index: QdrantIndex) -> Backend:
    """The backend *index* reads and writes through (in this process)."""
    return index.backend


@dataclass(frozen=True)
class Target:
    """A collection the workers can write to, and how (picklable).

    Attributes:
        collection: the collection's name.
        layout: what its points store.
        retry: how transient failures are retried.
        open: opens a backend in the calling process.
    """

    collection: str
    layout: Layout
    retry: RetryPolicy
    open: OpenBackend

    @classmethod
    def of(cls, index: QdrantIndex, open_backend: OpenBackend | None = None) -> Target:
        """The target of *index*; workers open a backend with *open_backend* if given.

        Raises:
            InvalidInputError: no *open_backend* and *index* is embedded storage, which Ray
                workers cannot reach.
        """
        if open_backend is None:
            if not shared(index):
                connection = index.connection
                raise InvalidInputError(
                    f"index: expected a Qdrant server or cluster that Ray workers can write to, "
                    f"found {connection.kind} storage ({connection.location}), which serves one "
                    "process. Use t5_vectors.ray.ingest(dataset, index), which writes embedded "
                    "storage from the driver, or connect the index to a server "
                    "(QdrantIndex(..., url=...))."
                )
            open_backend = index.connection.opener()
        if not callable(open_backend):
            raise InvalidInputError(
                f"open_backend: expected a callable that returns a storage Backend, found "
                f"{type(open_backend).__name__}."
            )
        spec = index.spec
        layout = Layout(
            dim=index.dim,
            vector_name=spec.vector_name,
            tokens=spec.token_vectors,
            sparse=spec.sparse_vectors,
            fingerprint=index.fingerprint,
        )
        return cls(index.collection_name, layout, index.retry, open_backend)
