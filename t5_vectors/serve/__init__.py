"""t5-vectors as a server: one encoder and one store, shared by every process and agent.

::

    from t5_vectors import QdrantIndex, T5Encoder
    from t5_vectors.serve import ServerConfig, Service, create_app

    encoder = T5Encoder.from_pretrained("sentence-transformers/sentence-t5-base")
    index = QdrantIndex(encoder, collection_name="docs", storage="./t5_vectors_data")
    app = create_app(Service(encoder, index, ServerConfig(max_concurrent=64)))
    # uvicorn.run(app) -- or the command line: t5-vectors serve --collection docs

The HTTP API (:mod:`.app`) speaks OpenAI's embeddings API, text-embeddings-inference's
``/embed``, and search and writes over the collection, behind bounded admission (:mod:`.guard`,
:mod:`.admission`) with Prometheus metrics (:mod:`.metrics`); :mod:`.lifecycle` runs it on
uvicorn and drains it on SIGTERM. :mod:`.mcp_server` serves the same collection as MCP tools over
stdio (``t5-vectors mcp``). Every request goes through one :class:`Service`: one encoder, whose
micro-batcher coalesces concurrent requests, and one :class:`~t5_vectors.QdrantIndex`.

Needs the ``serve`` extra (``pip install "t5-vectors[serve]"``: FastAPI, uvicorn and the MCP
SDK); nothing else in t5-vectors imports them, and importing this package does not either: the
modules that need them raise ``ImportError`` with that ``pip install`` when they are missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from t5_vectors._lazy import attach

if TYPE_CHECKING:
    from t5_vectors.serve.app import create_app as create_app
    from t5_vectors.serve.config import ServerConfig as ServerConfig
    from t5_vectors.serve.errors import ApiError as ApiError
    from t5_vectors.serve.lifecycle import bind as bind
    from t5_vectors.serve.lifecycle import run as run
    from t5_vectors.serve.mcp_server import create_mcp_server as create_mcp_server
    from t5_vectors.serve.mcp_server import run_mcp as run_mcp
    from t5_vectors.serve.service import Service as Service


__getattr__, __dir__, __all__ = attach(__name__, __file__)
