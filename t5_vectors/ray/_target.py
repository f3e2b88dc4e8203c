"""Where the workers write: a picklable description of a ``QdrantIndex``'s collection.

A ``QdrantIndex`` holds an encoder and open clients, so it never travels to Ray workers. What
travels is a :class:`Target`: the collection, what its points store (:class:`Layout`), the retry
policy and a callable that opens a storage backend (:class:`~t5_vectors.storage.base.Backend`)
in the worker. For a server or cluster that is the qdrant-client backend built from the index's
own client options. Embedded storage (a Qdrant Edge or local-mode folder, ``:memory:``) serves
one process, so it has no worker-side opener: :func:`t5_vectors.ray.ingest` writes it from the
driver instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from t5_vectors.errors import InvalidInputError
from t5_vectors.plan.retry import RetryPolicy
from t5_vectors.ray._rows import Layout
from t5_vectors.storage.base import Backend

if TYPE_CHECKING:
    from t5_vectors.index.index import QdrantIndex

__all__ = ["OpenBackend", "ServerBackend", "Target", "backend_of", "storage_kind"]

OpenBackend = Callable[[], Backend]
"""Opens a backend in the process that calls it (must be picklable to reach Ray workers)."""


@dataclass(frozen=True)
class ServerBackend:
    """Opens the qdrant-client backend of a Qdrant server or cluster (picklable).

    Args:
        options: ``QdrantClient`` keyword arguments (``url``, ``api_key``, ``timeout``, ...).
    """

    options: Mapping[str, Any]

    def __call__(self) -> Backend:
        from qdrant_client import QdrantClient

        from t5_vectors.storage.client.backend import ClientBackend

        # The driver already checked the server's version; workers need not ask again.
        client = QdrantClient(**{**dict(self.options), "check_compatibility": False})
        return ClientBackend(client, owned=True)

    def __repr__(self) -> str:  # never show an API key
        location = self.options.get("url") or self.options.get("location")
        return f"ServerBackend({location or self.options.get('host')!r})"


def storage_kind(index: QdrantIndex) -> str:
    """``"server"``, ``"edge"``, ``"local-mode"`` or ``"memory"``: where *index* stores."""
    return str(index.connection.kind)


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
            kind = storage_kind(index)
            if kind != "server":
                raise InvalidInputError(
                    f"index: expected a Qdrant server or cluster that Ray workers can write to, "
                    f"found {kind} storage ({index.connection.location}), which serves one "
                    "process. Use t5_vectors.ray.ingest(dataset, index), which writes embedded "
                    "storage from the driver, or connect the index to a server "
                    "(QdrantIndex(..., url=...))."
                )
            open_backend = ServerBackend(dict(index.connection.options))
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
