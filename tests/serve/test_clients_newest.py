"""The client code the docs show runs as written, with the newest clients installed, against a
real server on a loopback socket: the Python block of docs/serve.md ("## Clients"), run as a
script in its own process (HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE unset there, as the docs
ask), with only the server's address changed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openai")
pytest.importorskip("langchain_openai")
pytest.importorskip("huggingface_hub")

ROOT = Path(__file__).resolve().parents[2]
DOCS_URL = "http://127.0.0.1:8080"
BOUND = 300  # seconds: only bounds a test that would otherwise hang


def _block(path: Path, marker: str) -> str:
    """The Python block of *path* that holds *marker*."""
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)
    found = [block for block in blocks if marker in block]
    assert len(found) == 1, f"{path.name}: expected one python block with {marker!r}"
    return found[0]


def _run(block: str, url: str, report: str, tmp_path: Path) -> dict:
    """Run *block* with the docs' address replaced by *url*; *report* prints its results."""
    assert DOCS_URL in block
    script = tmp_path / "client.py"
    script.write_text(block.replace(DOCS_URL, url) + "\nimport json\n" + report)
    hidden = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "PYTHONPATH")  # the docs say: unset
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _close(got, expected) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=np.float32), expected, rtol=1e-5, atol=1e-6)


def test_the_clients_block_of_docs_serve_md_runs_as_written(start_server, encoder, tmp_path):
    block = _block(ROOT / "docs" / "serve.md", "InferenceClient(")
    served = start_server(api_key="KEY")  # the key the block sends
    got = _run(
        block,
        served.url,
        "print(json.dumps({"
        "'vectors': [item.embedding for item in vectors.data],"
        "'query': query.data[0].embedding,"
        "'documents': documents.embed_documents(['a text']),"
        "'queries': queries.embed_query('a question'),"
        "'tei': tei_vectors.tolist(),"
        "'tei_query': tei_query.tolist()}))",
        tmp_path,
    )
    _close(got["vectors"], encoder.encode(["a text"]))
    _close(got["query"], encoder.encode(["a question"], kind="query")[0])
    _close(got["documents"], encoder.encode(["a text"]))
    _close(got["queries"], encoder.encode(["a question"], kind="query")[0])
    _close(got["tei"], encoder.encode(["a text", "another"]))
    _close(got["tei_query"], encoder.encode(["a question"], kind="query"))


def test_the_docs_show_no_client_call_that_refuses_a_url():
    for path in (ROOT / "README.md", ROOT / "docs" / "serve.md"):
        assert not re.search(r"HuggingFaceEndpointEmbeddings\(model=\"http", path.read_text())


def test_langchain_huggingface_refuses_a_url_as_the_docs_say():
    """Where langchain-huggingface is installed (the bench group): it still refuses a URL. If a
    release accepts one again, this fails, and the docs can show it again."""
    endpoint = pytest.importorskip("langchain_huggingface").HuggingFaceEndpointEmbeddings
    with pytest.raises(ValueError, match="must be a HuggingFace repo ID, not a URL"):
        endpoint(model=DOCS_URL)
