"""A TCP proxy that injects faults between a Qdrant client and a real server.

Two modes:

* ``"http"`` (REST, port 6333): the proxy reads each HTTP/1.1 request (keep-alive connections
  carry many), matches it against its :class:`Rule` s and then forwards it, or answers a chosen
  status (``503``, ``429`` with ``Retry-After``, ...) without forwarding, or drops the
  connection before forwarding, or forwards and drops the connection instead of relaying the
  response (the request was applied, the response lost), or waits before forwarding (past the
  client's timeout; the request still reaches the server afterwards, as a slow network does).
* ``"tcp"`` (gRPC, port 6334, or anything else): bytes are tunnelled; a rule decides per
  connection whether it is dropped at once or after a delay. gRPC's own status codes (such as
  ``RESOURCE_EXHAUSTED``) would need HTTP/2 framing and are not produced; the unit tests raise
  them with the real grpc exception type instead (``tests/reliability/faults.py``).

Used by ``integration_tests/test_faults.py``; ``tests/reliability/test_faultproxy.py`` checks
the proxy itself against a small local HTTP server.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Literal

Action = Literal["status", "drop_before", "drop_after", "delay", "pass"]

_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway"}
_REASONS |= {503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass
class Rule:
    """Which requests (or connections, in tcp mode) fail and how.

    Attributes:
        action: ``"status"`` (answer *status* without forwarding), ``"drop_before"`` (close
            without forwarding), ``"drop_after"`` (forward, then close without the response),
            ``"delay"`` (wait *delay* seconds, then forward) or ``"pass"``.
        method: only requests with this HTTP method (``"PUT"``); any when ``None``.
        path: only requests whose path (without the query) matches this regular expression
            (``r"/points$"``); any when ``None``.
        after: let this many matching requests through first.
        times: fire this many times (``None``: forever).
        status: the status code for ``"status"``.
        retry_after: a ``Retry-After`` header (seconds) for ``"status"``.
        delay: seconds for ``"delay"``.
    """

    action: Action
    method: str | None = None
    path: str | None = None
    after: int = 0
    times: int | None = 1
    status: int = 503
    retry_after: int | None = None
    delay: float = 0.0
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def hits(self, method: str, path: str) -> bool:
        if self.method is not None and method != self.method:
            return False
        if self.path is not None and not re.search(self.path, path.split("?", 1)[0]):
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True


class _Closed(Exception):
    """The peer closed the connection."""


class _Reader:
    """Buffered reads of HTTP/1.1 messages from a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise _Closed
        self.buffer += chunk

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line + b"\r\n"

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def message(self, *, response_to: str | None = None) -> tuple[bytes, dict[str, str]]:
        """One whole message (start line, headers, body) and its lower-cased headers."""
        start = self.line()
        raw = [start]
        headers: dict[str, str] = {}
        while (line := self.line()) != b"\r\n":
            raw.append(line)
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        raw.append(b"\r\n")
        status = start.split(b" ", 2)[1] if response_to is not None else b""
        no_body = response_to == "HEAD" or status in (b"204", b"304") or status.startswith(b"1")
        if no_body:
            return b"".join(raw), headers
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                size_line = self.line()
                raw.append(size_line)
                size = int(size_line.split(b";")[0].strip(), 16)
                raw.append(self.exactly(size + 2))
                if size == 0:
                    break
        elif "content-length" in headers:
            raw.append(self.exactly(int(headers["content-length"])))
        return b"".join(raw), headers


class FaultProxy:
    """Listens on ``127.0.0.1:<free port>`` and forwards to *target_host*:*target_port*.

    Use as a context manager; :attr:`url` is what the client connects to. :attr:`rules` may be
    changed between calls; :attr:`requests` counts requests seen (http mode), :attr:`forwarded`
    those that reached the server.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        mode: Literal["http", "tcp"] = "http",
        rules: list[Rule] | None = None,
    ) -> None:
        self.target = (target_host, target_port)
        self.mode = mode
        self.rules: list[Rule] = list(rules or [])
        self.requests = 0
        self.forwarded = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultProxy:
        thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with suppress(OSError):
                sock.close()
        for thread in list(self._threads):
            thread.join(5)
        self._listener.close()

    def _rule(self, method: str, path: str) -> Rule | None:
        with self._lock:
            return next((rule for rule in self.rules if rule.hits(method, path)), None)

    @contextmanager
    def _track(self, *sockets: socket.socket) -> Iterator[None]:
        with self._lock:
            self._sockets.update(sockets)
        try:
            yield
        finally:
            with self._lock:
                self._sockets.difference_update(sockets)
            for sock in sockets:
                with suppress(OSError):
                    sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            serve = self._serve_http if self.mode == "http" else self._serve_tcp
            thread = threading.Thread(target=serve, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)

    # ------------------------------------------------------------------------------ http mode
    def _serve_http(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        with self._track(client):
            reader = _Reader(client)
            try:
                while not self._stop.is_set():
                    request, _ = reader.message()
                    method, path = request.split(b" ", 2)[:2]
                    with self._lock:
                        self.requests += 1
                    rule = self._rule(method.decode(), path.decode())
                    action = rule.action if rule is not None else "pass"
                    if action == "status":
                        assert rule is not None
                        client.sendall(_status_response(rule.status, rule.retry_after))
                        continue
                    if action == "drop_before":
                        return
                    if action == "delay":
                        assert rule is not None
                        time.sleep(rule.delay)
                    if upstream is None:
                        upstream = socket.create_connection(self.target, timeout=60)
                        upstream_reader = _Reader(upstream)
                        with self._lock:
                            self._sockets.add(upstream)
                    upstream.sendall(request)
                    response, _ = upstream_reader.message(response_to=method.decode())
                    with self._lock:
                        self.forwarded += 1
                    if action == "drop_after":
                        return
                    client.sendall(response)
            except (_Closed, OSError):
                return
            finally:
                if upstream is not None:
                    with self._lock:
                        self._sockets.discard(upstream)
                    upstream.close()

    # ------------------------------------------------------------------------------- tcp mode
    def _serve_tcp(self, client: socket.socket) -> None:
        rule = self._rule("CONNECT", "")
        with self._lock:
            self.requests += 1
        if rule is not None and rule.action in ("drop_before", "drop_after", "status"):
            client.close()
            return
        if rule is not None and rule.action == "delay":
            time.sleep(rule.delay)
        try:
            upstream = socket.create_connection(self.target, timeout=60)
        except OSError:
            client.close()
            return
        with self._track(client, upstream):
            pumps = [
                threading.Thread(target=_pump, args=(client, upstream), daemon=True),
                threading.Thread(target=_pump, args=(upstream, client), daemon=True),
            ]
            for pump in pumps:
                pump.start()
            for pump in pumps:
                pump.join()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        with suppress(OSError):
            target.shutdown(socket.SHUT_WR)


def _status_response(status: int, retry_after: int | None) -> bytes:
    body = json.dumps({"status": {"error": f"injected {status}"}, "time": 0.0}).encode()
    headers = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
        "content-type: application/json",
        f"content-length: {len(body)}",
    ]
    if retry_after is not None:
        headers.append(f"retry-after: {retry_after}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body
