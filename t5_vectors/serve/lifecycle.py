"""Running the HTTP server: bind, serve, and stop without losing an acknowledged write.

:func:`bind` takes the port before the model loads, so a port in use is one clear error, not a
crash after a long load. :func:`run` serves on uvicorn until SIGTERM or SIGINT, then:

1. stops accepting connections and marks ``/health`` draining (503);
2. waits for the requests in flight to be answered (at most ``drain_seconds``; past that uvicorn
   cancels them, and their writes, which were never acknowledged, may or may not be stored);
3. closes the index: the HNSW index is built over what was written and the store flushed;
4. returns 0 after SIGTERM (an orderly stop, as process managers expect) and 130 after Ctrl-C.

uvicorn re-raises the signal it caught once it has stopped, which would end the process with
"killed by SIGTERM" after a clean drain; :class:`_Server` keeps the signal handling and drops
that re-raise.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from t5_vectors.errors import InvalidInputError
from t5_vectors.serve._extra import missing

try:
    import uvicorn
except ImportError as err:
    raise missing("uvicorn") from err

from t5_vectors.serve.service import Service

INTERRUPTED = 130
BACKLOG = 2048
"""Connections the kernel queues before the server accepts them."""
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to *host*:*port* (``port=0``: any free port), not yet listening.

    Binding first reserves the port against a server already listening there, so a port in use
    is reported before the model loads; :func:`listen` opens it once the server is ready, so
    until then connections are refused rather than left waiting.

    Raises:
        InvalidInputError: the host does not resolve, or the port is taken or not allowed.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InvalidInputError(f"port: expected 0 to 65535, found {port!r}.")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except OSError as error:
        raise InvalidInputError(
            f"host: expected an address or a name this machine resolves, found {host!r} "
            f"({error.strerror or error})."
        ) from error
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise _unavailable(host, port, error) from error
    return sock


def listen(sock: socket.socket) -> None:
    """Start accepting connections on a bound socket (they queue until the server runs).

    Raises:
        InvalidInputError: another server started listening on the port meanwhile.
    """
    try:
        sock.listen(BACKLOG)
    except OSError as error:
        host, port = sock.getsockname()[:2]
        raise _unavailable(host, port, error) from error


def _unavailable(host: str, port: int, error: OSError) -> InvalidInputError:
    return InvalidInputError(
        f"port: expected a free port on {host}, found {port} unavailable "
        f"({error.strerror or error}). Pick another port, or stop what holds it."
    )


def url_of(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class _Server(uvicorn.Server):
    """uvicorn's server, which marks the service draining on a signal and does not re-raise it."""

    def __init__(self, config: uvicorn.Config, service: Service) -> None:
        super().__init__(config)
        self.service = service
        self.signals: list[int] = []

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        first = not self.should_exit
        self.signals.append(sig)
        self.service.draining = True
        super().handle_exit(sig, frame)
        if first:
            name = signal.Signals(sig).name
            print(
                f"t5-vectors: {name}: draining requests in flight, then closing the store",
                file=sys.stderr,
                flush=True,
            )


def run(
    app: Any,
    service: Service,
    sock: socket.socket,
    *,
    log_level: str = "warning",
) -> int:
    """Serve *app* on *sock* until a signal; drain, close the store; returns the exit status."""
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=log_level in ("info", "debug", "trace"),
        lifespan="off",
        timeout_graceful_shutdown=math.ceil(service.config.drain_seconds),
        server_header=False,
    )
    server = _Server(config, service)

    async def main() -> None:
        try:
            await server.serve(sockets=[sock])
        finally:
            service.draining = True
            await service.aclose()

    asyncio.run(main())
    return INTERRUPTED if signal.SIGINT in server.signals else 0
