"""What a server is allowed to do: its limits, its key and its mode, checked once.

:class:`ServerConfig` is a frozen dataclass validated in ``__post_init__``: a bad limit raises
:class:`~t5_vectors.errors.InvalidInputError` naming the parameter, before a socket is bound or a
model is loaded. The command line builds one from its flags (``--max-concurrent``, ...) and
restates the parameter names as flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from t5_vectors._checks import check_positive_int
from t5_vectors.errors import InvalidInputError

DEFAULT_MAX_CONCURRENT = 64
"""Requests admitted at once (served, or waiting in the encoder's micro-batcher)."""

DEFAULT_MAX_TEXTS = 2048
"""Texts (or documents) in one request: OpenAI's limit for one embeddings request."""

DEFAULT_MAX_CHARS = 100_000
"""Characters in one text."""

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
"""Bytes in one request body."""

DEFAULT_MAX_K = 1000
"""Results one search may ask for."""

DEFAULT_DRAIN_SECONDS = 30.0
"""How long a stopping server waits for requests in flight before cancelling them."""


@dataclass(frozen=True)
class ServerConfig:
    """Limits and mode of one server (HTTP or MCP).

    Attributes:
        max_concurrent: requests admitted at once; one more gets ``429`` with ``Retry-After``.
            Admitted requests are served together (the encoder's micro-batcher coalesces them),
            so this bounds both the work queued and the latency of what is accepted.
        max_texts: texts in one embeddings request, documents in one write, ids in one delete.
        max_chars: characters in one text (queries included).
        max_body_bytes: bytes in one request body.
        max_k: results one search may ask for.
        read_only: refuse writes (``POST`` and ``DELETE /documents``; the MCP ``store`` tool is
            left out).
        api_key: the bearer key clients must send (``Authorization: Bearer KEY``); ``None``
            serves without one. Never shown in ``repr``.
        model_name: the model name the embeddings endpoints report.
        drain_seconds: how long a stopping server waits for requests in flight.
    """

    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    max_texts: int = DEFAULT_MAX_TEXTS
    max_chars: int = DEFAULT_MAX_CHARS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_k: int = DEFAULT_MAX_K
    read_only: bool = False
    api_key: str | None = field(default=None, repr=False)
    model_name: str = "t5-vectors"
    drain_seconds: float = DEFAULT_DRAIN_SECONDS

    def __post_init__(self) -> None:
        for name in ("max_concurrent", "max_texts", "max_chars", "max_body_bytes", "max_k"):
            check_positive_int(name, getattr(self, name))
        if not isinstance(self.drain_seconds, (int, float)) or not self.drain_seconds >= 0:
            raise InvalidInputError(
                f"drain_seconds: expected a number of seconds >= 0, found {self.drain_seconds!r}."
            )
        if self.api_key is not None and (not isinstance(self.api_key, str) or not self.api_key):
            raise InvalidInputError(
                "api_key: expected a non-empty str (or None to serve without a key), found "
                f"{'an empty str' if self.api_key == '' else type(self.api_key).__name__}."
            )
        if not isinstance(self.model_name, str) or not self.model_name:
            raise InvalidInputError(
                f"model_name: expected a non-empty str, found {self.model_name!r}."
            )
