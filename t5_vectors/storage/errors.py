"""Which storage failures are worth retrying, for any engine, without importing one.

:func:`is_transient` says whether sending the same request again may succeed, and
:func:`retry_after` how long the engine asked to wait first. The package's own storage errors
answer for themselves (:class:`~t5_vectors.errors.StorageUnavailableError` and
:class:`~t5_vectors.errors.StorageTimeoutError` are transient; a locked folder or a full disk is
not), as do the builtin ``ConnectionError`` and ``TimeoutError``. qdrant-client's exceptions are
classified by :mod:`t5_vectors.storage.client.errors`, asked only when qdrant-client is loaded:
an error of it cannot exist otherwise.
"""

from __future__ import annotations

import sys

from t5_vectors.errors import StorageError


def is_transient(error: BaseException) -> bool:
    """Whether retrying the same storage request may succeed."""
    if isinstance(error, StorageError):
        return error.transient
    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    if "qdrant_client" in sys.modules:
        from t5_vectors.storage.client.errors import client_transient

        return client_transient(error)
    return False


def retry_after(error: BaseException) -> float | None:
    """Seconds the engine asked to wait before the next try (HTTP 429 ``Retry-After``)."""
    if "qdrant_client" in sys.modules:
        from t5_vectors.storage.client.errors import client_retry_after

        return client_retry_after(error)
    return None
