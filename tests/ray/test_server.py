"""Against a real Qdrant server (``QDRANT_URL``): workers look up and write over the network.

Skipped unless ``QDRANT_URL`` is set (for example ``QDRANT_URL=http://localhost:6333`` with the
README's ``docker compose`` server); ``QDRANT_API_KEY`` is sent when set.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import ray

from t5_vectors import CollectionSpec, QdrantIndex, T5Encoder, open_storage
from t5_vectors.ray import QdrantDatasink, ingest

from ._standin import state
from .test_ingest import CPU, N, assert_same, corpus, plain_state

URL = os.environ.get("QDRANT_URL")
pytestmark = [
    pytest.mark.skipif(not URL, reason="QDRANT_URL is not set: no Qdrant server to write to"),
    pytest.mark.usefixtures("ray_cluster"),
]


def test_workers_write_a_real_server_and_reruns_write_nothing(st5_path: Path) -> None:
    encoder = T5Encoder.from_pretrained(str(st5_path), **CPU)
    name = f"t5v-ray-{uuid.uuid4().hex[:8]}"
    rows = corpus()
    index = QdrantIndex(
        encoder,
        collection_name=name,
        storage=open_storage(URL, api_key=os.environ.get("QDRANT_API_KEY")),
        spec=CollectionSpec(token_vectors=True, sparse_vectors=True),
    )
    try:
        assert index.connection.kind == "server"
        options = {"id_column": "id", "metadata_columns": ["source", "chunk"]}
        first = ingest(ray.data.from_items(rows), index, concurrency=1, batch_size=16, **options)
        assert (first.written, first.skipped) == (N, 0)
        expected = plain_state(encoder, rows, token_vectors=True, sparse_vectors=True)
        assert_same(state(index.backend, name), expected)
        again = ingest(ray.data.from_items(rows), index, concurrency=1, **options)
        assert (again.written, again.skipped) == (0, N)
        key = os.environ.get("QDRANT_API_KEY") or "\0"
        assert key not in repr(QdrantDatasink(index))  # the API key never shows
    finally:
        index.drop()
        index.close()
        encoder.close()
