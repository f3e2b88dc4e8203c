"""Reading a collection's layout back: the options that open it as it is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from qdrant_client import QdrantClient, models

from t5_vectors import QdrantIndex, SparseVectors, TokenVectors
from t5_vectors.errors import CollectionConfigError
from t5_vectors.plan.layout import CollectionLayout, collection_layout
from t5_vectors.plan.model_record import ModelRecord
from t5_vectors.storage.base import Quantization
from t5_vectors.testing import SAMPLE_SENTENCES

MAXSIM = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)


def _layout(client: QdrantClient, name: str) -> CollectionLayout:
    return collection_layout(client.get_collection(name), name)


def test_dense_only_collection(make_index: Callable[..., QdrantIndex], client: Any) -> None:
    index = make_index(distance="dot")
    layout = _layout(client, index.collection_name)
    assert (layout.vector_name, layout.dim, layout.distance) == (None, index.dim, "dot")
    assert layout.tokens is None
    assert layout.sparse is None
    assert layout.modes == ("dense",)
    assert not layout.serves("hybrid")
    assert not layout.serves("maxsim")
    assert not layout.serves("bm25")


def test_the_options_a_collection_was_created_with_are_read_back(
    make_index: Callable[..., QdrantIndex], client: Any
) -> None:
    tokens = TokenVectors(datatype="float16", quantization="scalar", on_disk=True, hnsw=True)
    sparse = SparseVectors(k1=1.5, b=0.5, avg_length=64, lowercase=False, on_disk=True)
    index = make_index(token_vectors=tokens, sparse_vectors=sparse)
    layout = _layout(client, index.collection_name)
    assert layout.tokens == index.spec.tokens  # size, datatype, quantization, flags
    assert layout.sparse == sparse  # the weighting comes from the recorded metadata
    assert layout.quantization is None
    info = client.get_collection(index.collection_name)
    # Embedded Qdrant drops the collection-level quantization; a server returns it like this.
    info.config.quantization_config = models.BinaryQuantization(
        binary=models.BinaryQuantizationConfig(always_ram=True)
    )
    assert collection_layout(info).quantization == Quantization("binary", always_ram=True)
    assert layout.modes == ("dense", "sparse", "hybrid", "maxsim", "rerank")
    reopened = QdrantIndex(
        index.embedding,
        collection_name=index.collection_name,
        create_if_missing=False,
        storage=client,
        spec=layout.spec(),
    )
    assert reopened.fingerprint == index.fingerprint  # stored chunks stay unchanged, not rewritten


def test_a_plain_reopen_keeps_filling_every_vector(
    make_index: Callable[..., QdrantIndex], client: Any
) -> None:
    rich = make_index(token_vectors=True, sparse_vectors=True)
    layout = _layout(client, rich.collection_name)
    reopened = make_index(collection_name=rich.collection_name, spec=layout.spec())
    reopened.ingest(SAMPLE_SENTENCES[:3])
    records, _ = client.scroll(rich.collection_name, with_vectors=True)
    assert len(records) == 3
    for record in records:
        assert set(record.vector) == {"", "tokens", "langchain-sparse"}
    assert len(rich.search("vector", k=2, mode="hybrid")) == 2
    report = reopened.collection.footprint(layout.spec(), layout.dim, sample=10)
    assert report == reopened.storage(sample=10)
    assert report.points == 3
    assert report.token_count > 0
    assert report.sparse_nnz > 0


@pytest.mark.parametrize("recorded", [True, False])
def test_collections_written_elsewhere(client: QdrantClient, recorded: bool) -> None:
    record = ModelRecord(model="m", fingerprint="f", dim=8, distance="cosine")
    client.create_collection(
        "foreign",
        metadata=record.to_metadata() if recorded else None,
        vectors_config={
            "dense": models.VectorParams(size=8, distance=models.Distance.COSINE),
            "colbert": models.VectorParams(
                size=4, distance=models.Distance.DOT, multivector_config=MAXSIM
            ),
            "u8": models.VectorParams(
                size=4,
                distance=models.Distance.DOT,
                multivector_config=MAXSIM,
                datatype=models.Datatype.UINT8,
            ),
        },
        sparse_vectors_config={
            "bm25": models.SparseVectorParams(modifier=models.Modifier.IDF),
            "splade": models.SparseVectorParams(),
        },
    )
    layout = _layout(client, "foreign")
    assert layout.vector_name == "dense"
    if not recorded:  # not written by t5-vectors: its extra vectors may come from any model
        assert (layout.tokens, layout.sparse) == (None, None)
        assert layout.foreign == ("bm25", "colbert", "splade", "u8")
        assert layout.modes == ("dense",)
        return
    # uint8 multivectors are not token vectors; without m=0 the multivector has an HNSW graph
    assert layout.tokens == TokenVectors(name="colbert", size=4, hnsw=True)
    assert layout.sparse == SparseVectors(name="bm25")  # no weighting recorded: the defaults
    assert layout.foreign == ("splade", "u8")
    client.create_collection(
        "unnamed", vectors_config=models.VectorParams(size=8, distance=models.Distance.EUCLID)
    )
    layout = _layout(client, "unnamed")
    assert (layout.vector_name, layout.dim, layout.distance) == (None, 8, "euclid")


@pytest.mark.parametrize(
    ("vectors", "sparse", "message"),
    [
        (
            {"a": models.VectorParams(size=8, distance=models.Distance.COSINE)}
            | {"b": models.VectorParams(size=8, distance=models.Distance.COSINE)},
            None,
            r"one pooled vector .* found named vectors \['a', 'b'\]",
        ),
        (
            {
                "": models.VectorParams(size=8, distance=models.Distance.COSINE),
                "x": models.VectorParams(
                    size=4, distance=models.Distance.DOT, multivector_config=MAXSIM
                ),
                "y": models.VectorParams(
                    size=4, distance=models.Distance.DOT, multivector_config=MAXSIM
                ),
            },
            None,
            r"at most one of MaxSim token multivectors .* found \['x', 'y'\]",
        ),
        (
            models.VectorParams(size=8, distance=models.Distance.COSINE),
            {
                "s1": models.SparseVectorParams(modifier=models.Modifier.IDF),
                "s2": models.SparseVectorParams(modifier=models.Modifier.IDF),
            },
            r"sparse vectors with the IDF modifier .* found \['s1', 's2'\]",
        ),
    ],
)
def test_ambiguous_collections_are_refused(
    client: QdrantClient, vectors: Any, sparse: Any, message: str
) -> None:
    record = ModelRecord(model="m", fingerprint="f", dim=8, distance="cosine")
    client.create_collection(
        "ambiguous",
        vectors_config=vectors,
        sparse_vectors_config=sparse,
        metadata=record.to_metadata(),
    )
    with pytest.raises(CollectionConfigError, match=message):
        _layout(client, "ambiguous")


def test_an_unreadable_weighting_record_falls_back_to_the_defaults(
    make_index: Callable[..., QdrantIndex], client: Any
) -> None:
    index = make_index(sparse_vectors=SparseVectors(k1=2.0))
    info = client.get_collection(index.collection_name)
    info.config.metadata["t5_vectors"]["sparse"] = {"k1": -1}
    assert collection_layout(info).sparse == SparseVectors()
    info.config.metadata["t5_vectors"]["sparse"] = "k1=2"
    assert collection_layout(info).sparse == SparseVectors()
