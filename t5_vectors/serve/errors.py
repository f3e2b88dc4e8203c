"""HTTP errors in the words of the API the client speaks.

Every refusal is an :class:`ApiError`: a status, a message that says what was expected, what was
found and how to fix it, and the request field it is about. It is rendered in one of two shapes:

* OpenAI's, for ``/v1/embeddings`` and t5-vectors' own endpoints (``/search``, ``/documents``,
  ``/collections/{name}``)::

      {"error": {"message": "...", "type": "invalid_request_error", "param": "input",
                 "code": null}}

* TEI's, for ``/embed`` (and ``POST /``, its alias)::

      {"error": "...", "error_type": "Validation"}

Library errors become API errors by :func:`from_library`: bad input is 422, a collection that
cannot serve the request 422, a stopping encoder, a store that failed or a Qdrant server out of
reach 503 (retrying is safe: writes are idempotent), anything else 500 without internals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from t5_vectors.errors import (
    CollectionConfigError,
    EncoderClosedError,
    IngestError,
    InvalidInputError,
    StorageLockedError,
    StorageUnavailableError,
    T5VectorsError,
    stopping_error,
)

_OPENAI_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}

_TEI_TYPES = {429: "Overloaded", 503: "Unhealthy", 500: "Backend"}


class ApiError(T5VectorsError):
    """A request refused with an HTTP status (a user error unless the status is 5xx).

    Attributes:
        status: the HTTP status.
        message: what was expected, what was found, how to fix it.
        param: the request field at fault (``"input"``, ``"documents[2].metadata"``), if any.
        headers: extra response headers (``Retry-After`` on 429).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.headers = dict(headers or {})


def openai_body(error: ApiError) -> dict[str, Any]:
    """*error* in OpenAI's error shape."""
    if error.status >= 500:
        kind = "server_error"
    else:
        kind = _OPENAI_TYPES.get(error.status, "invalid_request_error")
    code = "rate_limit_exceeded" if error.status == 429 else None
    return {"error": {"message": error.message, "type": kind, "param": error.param, "code": code}}


def tei_body(error: ApiError) -> dict[str, Any]:
    """*error* in text-embeddings-inference's error shape."""
    kind = _TEI_TYPES.get(error.status, "Backend" if error.status >= 500 else "Validation")
    return {"error": error.message, "error_type": kind}


def from_library(error: Exception) -> ApiError:
    """A library exception as the :class:`ApiError` a client gets."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, InvalidInputError | CollectionConfigError):
        return ApiError(422, str(error))
    if isinstance(error, EncoderClosedError):
        return ApiError(
            503, "Expected a running server, found it stopping. Retry against a running one."
        )
    lost = stopping_error(error)  # a write it stopped, too
    if isinstance(lost, StorageUnavailableError):  # its own text speaks of storage=
        return ApiError(
            503,
            f"Expected the Qdrant server behind this service ({lost.location}) to answer, found "
            "it out of reach. Send the request again later (writes are idempotent); if it "
            "persists, whoever runs the service should check that Qdrant server.",
        )
    if isinstance(error, IngestError | StorageLockedError):
        return ApiError(
            503,
            f"Expected the store to accept the write, found it failing ({error}). The write is "
            "idempotent: send the same request again.",
        )
    if isinstance(error, T5VectorsError):
        return ApiError(500, f"The server failed: {type(error).__name__}: {error}")
    return ApiError(
        500, f"The server failed unexpectedly ({type(error).__name__}); see the server's log."
    )


def validation_message(errors: Sequence[Mapping[str, Any]]) -> tuple[str, str | None]:
    """Pydantic's validation errors as one message and the first field at fault."""
    parts: list[str] = []
    first: str | None = None
    for item in errors[:5]:
        where = _path(item.get("loc", ()))
        first = first or where
        kind = str(item.get("type", ""))
        if kind == "json_invalid":
            parts.append(
                "body: expected a JSON object, found invalid JSON "
                f"({item.get('ctx', {}).get('error', 'unparsable')})"
            )
            continue
        if kind == "missing":
            parts.append(f"{where}: expected a value, found none")
            continue
        found = _shown(item.get("input"))
        if kind == "extra_forbidden":
            parts.append(f"{where}: expected one of this request's fields, found an unknown one")
            continue
        expected = str(item.get("msg", "invalid")).replace("Input should be ", "expected ", 1)
        parts.append(f"{where}: {expected}, found {found}")
    more = len(errors) - 5
    text = "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
    return f"{text}. See the request schema at /docs.", first


def _path(location: Sequence[Any]) -> str:
    names = [part for part in location if part != "body"]
    text = ""
    for part in names:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "body"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
