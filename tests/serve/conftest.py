"""Real uvicorn servers on loopback, in a thread, over one tiny encoder shared by the module.

``start_server(...)`` starts ``t5_vectors.serve.create_app`` on uvicorn on a free port of
127.0.0.1 and returns a :class:`Running` handle; every server started is stopped (and its index
closed) when the test module ends. The encoder's checkpoint has query and document prompts, so
a test can tell a query vector from a document vector.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install -e '.[serve]'")
pytest.importorskip("uvicorn", reason="the serve extra is not installed: pip install -e '.[serve]'")

import httpx
import uvicorn

from t5_vectors import QdrantIndex, T5Encoder
from t5_vectors.serve import ServerConfig, Service, bind, create_app
from t5_vectors.serve.lifecycle import url_of
from t5_vectors.testing import build_sentence_transformers_checkpoint

KEY = "test-server-key"
PROMPTS = {"query": "query: ", "document": "passage: "}


@pytest.fixture(scope="session")
def prompted_path(checkpoints_dir: Path) -> Path:
    """A sentence-transformers T5 checkpoint whose queries and documents get different prefixes."""
    return build_sentence_transformers_checkpoint(
        checkpoints_dir / "st5-prompted", prompts=PROMPTS, seed=7
    )


@pytest.fixture(scope="module")
def encoder(prompted_path: Path) -> Iterator[T5Encoder]:
    encoder = T5Encoder.from_pretrained(str(prompted_path), device="cpu", dtype="float32")
    yield encoder
    encoder.close()


@dataclass
class Running:
    """A server running in a thread: its URL, service, app and how to call it."""

    url: str
    service: Service
    app: Any
    server: uvicorn.Server
    thread: threading.Thread
    key: str | None = KEY
    headers: dict[str, str] = field(default_factory=dict)

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=60, **options)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)
        asyncio.run(self.service.aclose())


@pytest.fixture(scope="module")
def start_server(
    encoder: T5Encoder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Running]]:
    """``start_server(collection="c", **config)``: a server over a fresh embedded store."""
    running: list[Running] = []

    def start(collection: str = "docs", **options: Any) -> Running:
        options.setdefault("api_key", KEY)
        options.setdefault("model_name", "tiny-t5")
        config = ServerConfig(**options)
        path = tmp_path_factory.mktemp("store")
        index = QdrantIndex(encoder, collection_name=collection, storage=path)
        service = Service(encoder, index, config)
        app = create_app(service)
        sock = bind("127.0.0.1", 0)
        sock.listen()  # connections queue until uvicorn's loop accepts them
        server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        )
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True
        )
        thread.start()
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        handle = Running(url_of(sock), service, app, server, thread, config.api_key, headers)
        running.append(handle)
        return handle

    yield start
    for handle in running:
        handle.stop()


@pytest.fixture(scope="module")
def served(start_server: Callable[..., Running]) -> Running:
    """One read-write server with a key, shared by the module's tests."""
    return start_server()


class Gate:
    """Holds async calls at a point until released: ``entered`` counts the calls held there.

    Used for fault injection only: it wraps one method of the served index so that requests
    stay in flight for as long as a test needs, with no timing involved.
    """

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)

    def wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        async def held(*args: Any, **kwargs: Any) -> Any:
            self.entered.release()
            await asyncio.to_thread(self.release.wait)
            return await method(*args, **kwargs)

        return held

    def wait_entered(self, count: int) -> None:
        for _ in range(count):
            assert self.entered.acquire(timeout=60), "a request never reached the gate"
