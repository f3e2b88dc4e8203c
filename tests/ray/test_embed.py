"""T5EmbedBatches: formats, columns kept, parity with T5Encoder.encode, and on a Ray actor pool."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from t5_vectors import T5Encoder
from t5_vectors.errors import InvalidInputError, ModelMismatchError
from t5_vectors.plan.vectors import SparseVectors, TokenVectors
from t5_vectors.ray import T5EmbedBatches

from .conftest import PACKAGE_ROOT

TEXTS = [
    "hello world",
    "",
    "naïve café — déjà vu ✓",
    "Vector databases store embeddings and search them by similarity. " * 4,
    "T5",
]
CPU = {"device": "cpu", "dtype": "float32"}


@pytest.fixture(scope="module")
def embed(st5_path: Path) -> T5EmbedBatches:
    return T5EmbedBatches(str(st5_path), token_vectors=True, sparse_vectors=True, **CPU)


def _numpy(texts: list[str]) -> dict[str, np.ndarray]:
    return {"text": np.array(texts, dtype=object), "n": np.arange(len(texts))}


@pytest.mark.parametrize("kind", ["document", "query"])
def test_vectors_equal_encode(st5_path: Path, tiny_encoder: T5Encoder, kind: Any) -> None:
    embed = T5EmbedBatches(str(st5_path), kind=kind, **CPU)
    out = embed(_numpy(TEXTS))
    expected = tiny_encoder.encode(TEXTS, kind=kind)
    assert out["vector"].dtype == np.float32
    np.testing.assert_allclose(out["vector"], expected, atol=1e-5, rtol=0)
    if kind == "query":  # the prefix is applied: queries differ from documents here
        documents = tiny_encoder.encode(TEXTS, kind="document")
        assert out["vector"].shape == documents.shape


@pytest.mark.parametrize("fmt", ["numpy", "pandas", "pyarrow"])
def test_formats_keep_columns(embed: T5EmbedBatches, tiny_encoder: T5Encoder, fmt: str) -> None:
    data = {"text": TEXTS, "n": list(range(len(TEXTS))), "source": [f"s{i}" for i in range(5)]}
    batch: Any
    if fmt == "numpy":
        batch = {key: np.array(value, dtype=object) for key, value in data.items()}
    elif fmt == "pandas":
        batch = pd.DataFrame(data)
    else:
        batch = pa.table(data)
    out = embed(batch)
    assert type(out) is type(batch)
    if fmt == "pyarrow":
        names = out.column_names
        kept = {key: out.column(key).to_pylist() for key in data}
        vectors = np.stack(list(out.column("vector").to_numpy()))
    else:
        names = list(out.keys()) if fmt == "numpy" else list(out.columns)
        kept = {key: list(out[key]) for key in data}
        vectors = np.stack(list(out["vector"]))
    assert names == [*data, "tokens", "vector", "sparse_indices", "sparse_values"]
    assert kept == data
    np.testing.assert_allclose(vectors, tiny_encoder.encode(TEXTS), atol=1e-5, rtol=0)


def test_token_and_sparse_columns_as_the_index_stores_them(
    embed: T5EmbedBatches, tiny_encoder: T5Encoder
) -> None:
    out = embed(_numpy(TEXTS))
    _, rows = tiny_encoder.encode_with_tokens(TEXTS)
    spec = TokenVectors(size=tiny_encoder.d_model)
    for got, row in zip(out["tokens"], rows, strict=True):
        np.testing.assert_allclose(got, np.asarray(spec.prepare(row)), atol=1e-6)
    from t5_vectors.encoder.sparse import SparseEncoder

    terms = SparseEncoder(tiny_encoder.tokenizer, SparseVectors().weighting).documents(TEXTS)
    for i, term in enumerate(terms):
        assert out["sparse_indices"][i].tolist() == term.indices
        np.testing.assert_allclose(out["sparse_values"][i], term.values, rtol=1e-6)


def test_float16_token_vectors_are_rounded(st5_path: Path) -> None:
    embed = T5EmbedBatches(str(st5_path), token_vectors=TokenVectors(datatype="float16"), **CPU)
    tokens = embed(_numpy(TEXTS[:1]))["tokens"][0]
    assert np.array_equal(tokens, tokens.astype(np.float16).astype(np.float32))


def test_empty_batch(embed: T5EmbedBatches, tiny_encoder: T5Encoder) -> None:
    out = embed({"text": np.array([], dtype=object)})
    assert out["vector"].shape == (0, tiny_encoder.dim)


def test_bad_options_and_rows(st5_path: Path, embed: T5EmbedBatches) -> None:
    with pytest.raises(
        InvalidInputError, match=r"text_column: expected a column 'text'.*found columns \['body'\]"
    ):
        embed({"body": np.array(["x"], dtype=object)})
    with pytest.raises(InvalidInputError, match="already used"):
        T5EmbedBatches(str(st5_path), vector_column="text", **CPU)
    with pytest.raises(InvalidInputError, match="kind"):
        T5EmbedBatches(str(st5_path), kind="passage", **CPU)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        embed({"text": np.array(["ok", None], dtype=object)})
    with pytest.raises(ModelMismatchError, match="fingerprint"):
        T5EmbedBatches(str(st5_path), expected_fingerprint="t5|other", **CPU)


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """Run *code* in a fresh interpreter that sees this checkout only."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": PACKAGE_ROOT, "PATH": "/usr/bin:/bin"},
    )


def test_import_without_ray_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "import t5_vectors, t5_vectors.index, t5_vectors.files\n"
        "try:\n    import t5_vectors.ray\nexcept ImportError as e:\n    print(e)\n"
    )
    result = _python(code)
    assert 'pip install "t5-vectors[ray]"' in result.stdout


def test_nothing_else_imports_ray() -> None:
    code = (
        "import sys, t5_vectors, t5_vectors.index, t5_vectors.files, t5_vectors.langchain\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n"
    )
    result = _python(code)
    assert result.stdout.strip() == "[]"


def test_an_encoder_actor_imports_no_storage_client() -> None:
    # ingest's encode stage unpickles its class from _embed: a cold actor then imports the
    # encoder, not qdrant-client or the lookup and write stages (seconds before a first batch).
    code = (
        "import sys, t5_vectors.ray._embed\n"
        "print(sorted(m for m in ('qdrant_client', 'langchain_core', 't5_vectors.ray._ingest')"
        " if m in sys.modules))\n"
    )
    result = _python(code)
    assert result.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- on Ray actors
@pytest.mark.usefixtures("ray_cluster")
def test_map_batches_on_an_actor_pool(st5_path: Path, tiny_encoder: T5Encoder) -> None:
    import ray

    rows = [{"text": f"chunk {i} " + TEXTS[i % len(TEXTS)], "i": i} for i in range(40)]
    ds = ray.data.from_items(rows, override_num_blocks=4).map_batches(
        T5EmbedBatches,
        fn_constructor_kwargs={"model": str(st5_path), **CPU},
        compute=ray.data.ActorPoolStrategy(size=2),
        batch_size=8,
    )
    out = sorted(ds.take_all(), key=lambda row: row["i"])
    assert [row["i"] for row in out] == list(range(40))
    assert [row["text"] for row in out] == [row["text"] for row in rows]
    got = np.stack([row["vector"] for row in out])
    np.testing.assert_allclose(got, tiny_encoder.encode([r["text"] for r in rows]), atol=1e-5)


def test_public_surface_is_what_the_package_declares() -> None:
    import t5_vectors.ray

    assert {"QdrantDatasink", "RayStage", "T5EmbedBatches", "ingest", "ingest_files"} <= set(
        t5_vectors.ray.__all__
    )
    assert all(hasattr(t5_vectors.ray, name) for name in t5_vectors.ray.__all__)
