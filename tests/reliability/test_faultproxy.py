"""The TCP fault proxy of ``integration_tests/`` works, and produces what the wrapper imitates.

A small local HTTP/1.1 server answers ``GET /collections`` like Qdrant does; a real
``QdrantClient`` talks to it through :class:`FaultProxy`. Each proxy fault must surface as the
qdrant-client exception that ``tests/reliability/faults.py`` raises in the unit tests, and be
classified as transient by the retry policy; the server must see the request exactly when the
fault forwards it. A tcp-mode tunnel is checked with a raw socket.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from qdrant_client import QdrantClient
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from integration_tests.faultproxy import FaultProxy, Rule
from t5_vectors.storage.errors import is_transient
from tests.reliability.faults import first_line


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Qdrant

    def do_GET(self) -> None:
        self.server.seen += 1  # type: ignore[attr-defined]
        body = json.dumps(
            {"result": {"collections": [{"name": "served"}]}, "status": "ok", "time": 0.0}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.seen = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


CASES = [
    ("pass", Rule("pass"), None, 1),
    ("503 answered by the proxy", Rule("status", status=503), UnexpectedResponse, 0),
    (
        "429 with Retry-After answered by the proxy",
        Rule("status", status=429, retry_after=1),
        ResourceExhaustedResponse,
        0,
    ),
    ("connection dropped before forwarding", Rule("drop_before"), ResponseHandlingException, 0),
    (
        "forwarded, then the connection dropped (response lost)",
        Rule("drop_after"),
        ResponseHandlingException,
        1,
    ),
    (
        "delayed 1.5 s, past a 1 s client timeout",
        Rule("delay", delay=1.5),
        ResponseHandlingException,
        1,
    ),
]


@pytest.mark.parametrize(("name", "rule", "raised", "forwarded"), CASES, ids=[c[0] for c in CASES])
def test_proxy_faults_surface_as_qdrant_client_errors(
    name, rule, raised, forwarded, server, reliability
):
    with FaultProxy("127.0.0.1", server.server_address[1], rules=[rule]) as proxy:
        client = QdrantClient(url=proxy.url, timeout=1, check_compatibility=False)
        error: BaseException | None = None
        try:
            names = [c.name for c in client.get_collections().collections]
        except Exception as caught:
            error, names = caught, []
        for _ in range(300):  # a delayed request reaches the server after the client gave up
            if server.seen >= forwarded:
                break
            threading.Event().wait(0.01)
        again = [c.name for c in client.get_collections().collections]  # next call: passes
        client.close()
    reliability(
        area="fault proxy (self-test)",
        case=name,
        expected=f"{raised.__name__ if raised else 'a normal response'}; server saw "
        f"{forwarded} request(s) before the next call",
        outcome=f"{first_line(error) if error else f'response {names}'}; retried by "
        f"t5-vectors: {is_transient(error) if error else 'n/a'}; server saw {server.seen - 1}"
        f" + 1; next call {again}",
        lost="n/a (proxy check)",
    )
    if raised is None:
        assert error is None
        assert names == ["served"]
    else:
        assert type(error) is raised
        assert is_transient(error)
    assert server.seen == forwarded + 1
    assert again == ["served"]
    assert proxy.requests == 2


def test_tcp_mode_tunnels_and_drops_connections(server):
    rules = [Rule("drop_before", times=1)]
    with FaultProxy("127.0.0.1", server.server_address[1], mode="tcp", rules=rules) as proxy:
        request = b"GET /collections HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as dropped:
            dropped.sendall(request)
            try:
                closed = dropped.recv(100) == b""  # closed by the proxy
            except ConnectionResetError:
                closed = True
            assert closed
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as tunnelled:
            tunnelled.sendall(request)
            reply = b""
            while chunk := tunnelled.recv(65536):
                reply += chunk
    assert reply.startswith(b"HTTP/1.1 200")
    assert b'"served"' in reply
    assert server.seen == 1
