"""Serving a collection with a non-T5 LangChain embedding imports neither torch nor
transformers, and on Qdrant Edge not qdrant-client either.

Checked in a fresh interpreter through ``sys.modules``: a process that builds, fills, searches
and reopens a ``T5QdrantVectorStore`` on a ``path=`` folder (Qdrant Edge) with
``DeterministicFakeEmbedding`` must not pay for the T5 stack it does not use (about 250 MB of
RSS and seconds of start-up). The same script over a ``T5Embeddings`` does load torch, which
shows the probe sees the imports it is there to catch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SERVE = """
import asyncio, json, sys
from langchain_core.embeddings import DeterministicFakeEmbedding
from t5_vectors import T5QdrantVectorStore

def embedding():
    EMBEDDING

texts = [f"note {i} about ferns, shade and damp soil" for i in range(40)]
store = T5QdrantVectorStore(embedding(), path=PATH, collection_name="light")
store.add_texts(texts, metadatas=[{"i": i} for i in range(40)], ids=[str(i) for i in range(40)])
found = [d.page_content for d in store.similarity_search(texts[7], k=4)]
scored = store.similarity_search_with_score(texts[3], k=2)
mmr = store.max_marginal_relevance_search(texts[5], k=2, fetch_k=8)
found_async = asyncio.run(store.asimilarity_search(texts[9], k=1))
store.delete(ids=["0"])
store.index.close()
again = T5QdrantVectorStore(embedding(), path=PATH, collection_name="light")
reopened = again.similarity_search(texts[11], k=3, filter={"i": 11})
by_id = again.get_by_ids(["0", "12"])
again.index.close()
print(json.dumps({
    "first": found[0],
    "scored": [d.page_content for d, _ in scored],
    "mmr": len(mmr),
    "async": found_async[0].page_content,
    "reopened": [d.page_content for d in reopened],
    "by_id": [d.id for d in by_id],
    "torch": "torch" in sys.modules,
    "transformers": "transformers" in sys.modules,
    "qdrant_client": "qdrant_client" in sys.modules,
}))
"""


def _serve(tmp_path: Path, embedding: str) -> dict[str, object]:
    code = SERVE.replace("PATH", repr(str(tmp_path / "db"))).replace("EMBEDDING", embedding)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _texts(*numbers: int) -> list[str]:
    return [f"note {i} about ferns, shade and damp soil" for i in numbers]


def test_serving_with_a_langchain_embedding_imports_neither_torch_nor_transformers(tmp_path):
    result = _serve(tmp_path, "return DeterministicFakeEmbedding(size=64)")
    assert result["torch"] is False
    assert result["transformers"] is False
    assert result["qdrant_client"] is False  # Qdrant Edge needs no qdrant-client (~55 MB)
    # The store worked: exact texts come back first, after reopening too.
    assert result["first"] == _texts(7)[0]
    assert result["scored"][0] == _texts(3)[0]
    assert result["mmr"] == 2
    assert result["async"] == _texts(9)[0]
    assert result["reopened"] == _texts(11)
    assert result["by_id"] == ["12"]


def test_serving_with_t5_embeddings_does_import_torch(tmp_path, st5_path):
    loader = (
        "from t5_vectors import T5Embeddings\n"
        f"    return T5Embeddings({str(st5_path)!r}, device='cpu', dtype='float32')"
    )
    result = _serve(tmp_path, loader)
    assert result["torch"] is True
    assert result["transformers"] is True
    assert result["reopened"] == _texts(11)
