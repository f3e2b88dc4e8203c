"""qdrant-client's exceptions: which are transient, and the typed errors they become.

Transient: connection errors and timeouts (httpx, builtin ``ConnectionError`` /
``TimeoutError``, and qdrant-client's ``ResponseHandlingException`` when what it wraps is one of
those), HTTP 408, 429, 500, 502, 503 and 504, qdrant-client's ``ResourceExhaustedResponse`` (its
``retry_after_s`` is honoured), and gRPC ``UNAVAILABLE``, ``RESOURCE_EXHAUSTED``,
``DEADLINE_EXCEEDED`` and ``ABORTED``. Everything else fails at once, notably 4xx validation
errors, 501 / 505, and a ``ResponseHandlingException`` around a response that could not be parsed
(a client/server version mismatch): sending the same request again cannot succeed.

:func:`translate` turns what the package names itself into its typed errors, raised from the
original: a server that cannot be reached (:class:`~t5_vectors.errors.StorageUnavailableError`),
a request that timed out (:class:`~t5_vectors.errors.StorageTimeoutError`) and a local-mode
folder open in another process (:class:`~t5_vectors.errors.StorageLockedError`). Other errors
(a 4xx the server answered, a 503) pass as qdrant-client raised them.
"""

from __future__ import annotations

import grpc  # type: ignore[import-untyped]
import httpx
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from t5_vectors.errors import (
    StorageLockedError,
    StorageTimeoutError,
    StorageUnavailableError,
    T5VectorsError,
)

_GRPC_TRANSIENT = frozenset({"UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "ABORTED"})
_HTTPX_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_HTTP_TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})
_LOCKED = "already accessed by another instance"


def client_transient(error: BaseException) -> bool:
    """Whether retrying the same qdrant-client request may succeed."""
    if isinstance(error, UnexpectedResponse):
        return error.status_code in _HTTP_TRANSIENT
    if isinstance(error, ResponseHandlingException):
        # qdrant-client wraps both transport errors and unparseable responses in it.
        source = getattr(error, "source", None)
        return not isinstance(source, BaseException) or client_transient(source)
    if isinstance(error, (ResourceExhaustedResponse, ConnectionError, TimeoutError)):
        return True
    if isinstance(error, _HTTPX_TRANSIENT):
        return True
    return _grpc_status(error) in _GRPC_TRANSIENT


def client_retry_after(error: BaseException) -> float | None:
    """The ``Retry-After`` of a 429 qdrant-client reported, in seconds."""
    if isinstance(error, ResourceExhaustedResponse):
        return float(error.retry_after_s)
    return None


def translate(error: BaseException, location: str) -> BaseException:
    """The typed error *error* means at *location*, or *error* itself.

    Args:
        error: what qdrant-client raised.
        location: the server URL or folder, for the message (never an API key).
    """
    if isinstance(error, T5VectorsError):
        return error
    if isinstance(error, RuntimeError) and _LOCKED in str(error):
        return StorageLockedError(
            f"Expected the embedded store {location} to be free, found it open in another "
            "process (embedded storage serves one process at a time). Wait for that process "
            "to finish, or run a Qdrant server and connect every process to it.",
            path=location,
        )
    cause = _transport_cause(error)
    status = _grpc_status(error)
    kind: type[StorageTimeoutError | StorageUnavailableError]
    if isinstance(cause, (httpx.TimeoutException, TimeoutError)) or status == "DEADLINE_EXCEEDED":
        kind, found = StorageTimeoutError, "no answer within the client's timeout"
        fix = "Retry, raise the timeout (client_options={'timeout': ...}), or check its load."
    elif isinstance(cause, (httpx.NetworkError, ConnectionError)) or status == "UNAVAILABLE":
        kind, found = StorageUnavailableError, "none reachable"
        fix = (
            "Start it (docker compose up -d), check the URL, or pass a folder as storage= for "
            "embedded storage."
        )
    else:
        return error
    return kind(
        f"Expected a Qdrant server answering at {location}, found {found} "
        f"({_short(cause or error)}). {fix}",
        location=location,
    )


def _transport_cause(error: BaseException) -> BaseException | None:
    if isinstance(error, ResponseHandlingException):
        source = getattr(error, "source", None)
        return source if isinstance(source, BaseException) else None
    if isinstance(error, (httpx.TransportError, ConnectionError, TimeoutError)):
        return error
    return None


def _grpc_status(error: BaseException) -> str | None:
    if isinstance(error, grpc.RpcError) and callable(code := getattr(error, "code", None)):
        try:
            status = code()
        except Exception:
            return None
        name = getattr(status, "name", None)
        return name if isinstance(name, str) else None
    return None


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:200]
