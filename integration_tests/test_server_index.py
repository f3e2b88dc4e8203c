"""QdrantIndex on a real server: collection options, payload indexes, ingestion, filters, ids."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from qdrant_client import models

from t5_vectors import CollectionSpec, QdrantIndex
from t5_vectors.errors import CollectionConfigError


def corpus(n: int) -> list[Document]:
    return [
        Document(
            page_content=f"passage {i} about {'vectors' if i % 2 else 'transformers'}",
            metadata={"source": f"{i % 3}.md", "page": i, "score": i / 10, "tags": [f"t{i % 4}"]},
        )
        for i in range(n)
    ]


def test_collection_options_reach_the_server(tiny_encoder, server, new_name):
    name = new_name()
    QdrantIndex(
        tiny_encoder,
        collection_name=name,
        storage=server,
        spec=CollectionSpec(
            vector_name="dense",
            distance="dot",
            on_disk=True,
            quantization="scalar",
            shard_number=2,
            payload_indexes={"source": "keyword", "page": "integer"},
        ),
    )
    info = server.get_collection(name)
    params = info.config.params
    assert params.vectors["dense"].size == tiny_encoder.dim
    assert params.vectors["dense"].distance == models.Distance.DOT
    assert params.vectors["dense"].on_disk is True
    assert params.shard_number == 2
    assert isinstance(info.config.quantization_config, models.ScalarQuantization)
    assert set(info.payload_schema) == {"metadata.source", "metadata.page"}
    assert info.payload_schema["metadata.page"].data_type == models.PayloadSchemaType.INTEGER


def test_missing_payload_indexes_are_added_to_an_existing_collection(
    tiny_encoder, server, new_name
):
    name = new_name()
    QdrantIndex(tiny_encoder, collection_name=name, storage=server).add(corpus(3))
    # metadata.source is indexed in every new collection (file sync scans by source).
    assert set(server.get_collection(name).payload_schema) == {"metadata.source"}
    QdrantIndex(
        tiny_encoder,
        collection_name=name,
        storage=server,
        spec=CollectionSpec(payload_indexes=["page"]),
    )
    assert set(server.get_collection(name).payload_schema) == {"metadata.source", "metadata.page"}
    assert server.count(name).count == 3


def test_mismatch_raises_before_any_write(tiny_encoder, server, new_name):
    name = new_name()
    server.create_collection(
        name, vectors_config=models.VectorParams(size=7, distance=models.Distance.COSINE)
    )
    server.upsert(name, [models.PointStruct(id=1, vector=[1.0] * 7, payload={})])
    with pytest.raises(CollectionConfigError, match="vectors of size 7"):
        QdrantIndex(tiny_encoder, collection_name=name, storage=server)
    assert server.count(name).count == 1


def test_ingest_reingest_filters_delete(tiny_encoder, server, new_name):
    index = QdrantIndex(tiny_encoder, collection_name=new_name(), storage=server)
    first = index.ingest(iter(corpus(50)), batch_size=16)
    assert (first.written, first.skipped) == (50, 0)
    second = index.ingest(iter(corpus(50)), batch_size=16)
    assert (second.written, second.skipped) == (0, 50)
    assert index.count({"source": "1.md"}) == len([i for i in range(50) if i % 3 == 1])
    hits = index.search("vectors", k=50, filter={"page": [1, 2, 3], "tags": "t1"})
    assert {d.metadata["page"] for d, _ in hits} == {1}
    assert {d.metadata["page"] for d, _ in index.search("x", k=50, filter={"score": 0.3})} == {3}
    ids = index.add([Document(page_content="by id")], ids=["sha-" + "0" * 60])
    assert index.get(ids)[0].id == ids[0]
    index.delete(ids)
    assert index.get(ids) == []
    index.delete()
    assert index.count() == 0


async def test_async_twin_of_a_sync_client(tiny_encoder, server, new_name):
    index = QdrantIndex(tiny_encoder, collection_name=new_name(), storage=server)
    assert index.connection.native_async
    report = await index.aingest(corpus(20), batch_size=8)
    assert report.written == 20
    assert len(await index.asearch("vectors", k=5)) == 5
    await index.aclose()
