"""Collections: created from the encoder's dim, checked if they exist, nothing written on error."""

from __future__ import annotations

import pytest
from qdrant_client import QdrantClient, models

from t5_vectors import CollectionSpec, QdrantIndex, T5QdrantVectorStore
from t5_vectors.errors import CollectionConfigError, InvalidInputError
from t5_vectors.plan.model_record import PROBE_TEXTS
from t5_vectors.storage.base import DenseVectorSpec, Quantization
from t5_vectors.storage.client.models import create_arguments


def _existing(client: QdrantClient, name: str, vectors, points: int = 3) -> None:
    """A collection made by someone else, holding *points* points."""
    client.create_collection(name, vectors_config=vectors)
    named = not isinstance(vectors, models.VectorParams)
    params = next(iter(vectors.values())) if named else vectors
    vector = [1.0] * params.size
    if params.multivector_config is not None:
        vector = [vector]
    data = {next(iter(vectors)): vector} if named else vector
    client.upsert(name, [models.PointStruct(id=i, vector=data, payload={}) for i in range(points)])


def test_new_collection_takes_dim_from_the_encoder_without_encoding(
    make_index, client, tiny_encoder, encode_spy
):
    index = make_index(collection_name="fresh")
    params = client.get_collection("fresh").config.params.vectors
    assert isinstance(params, models.VectorParams)
    assert params.size == tiny_encoder.dim == index.dim
    assert params.distance == models.Distance.COSINE
    # The size comes from the encoder; the only texts encoded are the model record's probe.
    assert encode_spy.texts == list(PROBE_TEXTS)


def test_foreign_embeddings_are_probed_once(make_index, client, vector_table):
    embeddings = vector_table({"a": [1.0, 0.0, 0.0]})
    index = make_index(embeddings, collection_name="probed")
    assert client.get_collection("probed").config.params.vectors.size == 3
    assert index.dim == 3
    assert len(embeddings.calls) == 1


def test_named_vector_distance_and_on_disk_are_applied(make_index, client):
    make_index(collection_name="named", vector_name="dense", distance="DOT", on_disk=True)
    vectors = client.get_collection("named").config.params.vectors
    assert set(vectors) == {"dense"}
    assert vectors["dense"].distance == models.Distance.DOT
    assert vectors["dense"].on_disk is True


def test_schema_and_create_arguments_carry_every_option():
    spec = CollectionSpec(
        distance="euclid",
        vector_name="v",
        quantization="scalar",
        shard_number=3,
        replication_factor=2,
        payload_indexes={"source": "keyword", "page": models.PayloadSchemaType.INTEGER},
    )
    schema = spec.schema(24)
    assert schema.dense == {"v": DenseVectorSpec(size=24, distance="euclid")}
    assert schema.quantization == Quantization("scalar", always_ram=True, quantile=0.99)
    assert (schema.shard_number, schema.replication_factor) == (3, 2)
    # metadata.source is indexed in every collection (file sync scans by source).
    assert schema.payload_indexes == {
        "metadata.source": "keyword",
        "metadata.page": "integer",
    }
    arguments = create_arguments("c", schema)
    assert arguments["collection_name"] == "c"
    assert arguments["vectors_config"] == {
        "v": models.VectorParams(size=24, distance=models.Distance.EUCLID)
    }
    assert arguments["quantization_config"].scalar.type == models.ScalarType.INT8
    assert (arguments["shard_number"], arguments["replication_factor"]) == (3, 2)
    plain = create_arguments("c", CollectionSpec(payload_indexes=["source"]).schema(4))
    assert plain == {
        "collection_name": "c",
        "vectors_config": models.VectorParams(size=4, distance=models.Distance.COSINE),
    }
    binary = create_arguments("c", CollectionSpec(quantization="binary").schema(4))
    assert isinstance(binary["quantization_config"], models.BinaryQuantization)
    product = create_arguments("c", CollectionSpec(quantization="product").schema(4))
    assert product["quantization_config"].product.compression == models.CompressionRatio.X16
    given = models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.5)
    )
    assert CollectionSpec(quantization=given).quantization == Quantization("scalar", quantile=0.5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"distance": "hamming"}, "distance: expected one of"),
        ({"vector_name": 3}, "vector_name: expected a str"),
        ({"on_disk": "yes"}, "on_disk: expected True or False"),
        ({"quantization": "int4"}, "quantization: expected None"),
        ({"shard_number": 0}, "shard_number: expected a positive int"),
        ({"replication_factor": True}, "replication_factor: expected a positive int"),
        ({"payload_indexes": "source"}, r"Write payload_indexes=\['source'\]"),
        ({"payload_indexes": {"source": "vector"}}, r"payload_indexes\['source'\]"),
        ({"payload_indexes": [""]}, "non-empty str metadata keys"),
    ],
)
def test_spec_validation(options, message):
    with pytest.raises(InvalidInputError, match=message):
        CollectionSpec(**options)


def test_spec_normalises_names():
    spec = CollectionSpec(distance="Cosine", vector_name="")
    assert spec.distance == "cosine"
    assert CollectionSpec(distance=models.Distance.DOT).distance == "dot"
    assert spec.vector_name is None


@pytest.mark.parametrize(
    ("vectors", "options", "expected", "found", "fix"),
    [
        (
            models.VectorParams(size=8, distance=models.Distance.COSINE),
            {},
            "vectors of size 24",
            "vectors of size 8",
            "recreate=True",
        ),
        (
            models.VectorParams(size=24, distance=models.Distance.EUCLID),
            {},
            "distance 'cosine'",
            "distance 'euclid'",
            "distance='euclid'",
        ),
        (
            models.VectorParams(size=24, distance=models.Distance.COSINE),
            {"vector_name": "dense"},
            "dense vector 'dense'",
            "the unnamed vector",
            "vector_name=None",
        ),
        (
            {"dense": models.VectorParams(size=24, distance=models.Distance.COSINE)},
            {},
            "dense vector the unnamed vector",
            "named vectors ['dense']",
            "vector_name='dense'",
        ),
        (
            {
                "": models.VectorParams(
                    size=24,
                    distance=models.Distance.COSINE,
                    multivector_config=models.MultiVectorConfig(
                        comparator=models.MultiVectorComparator.MAX_SIM
                    ),
                )
            },
            {},
            "one vector per point",
            "a multi-vector (late interaction) configuration",
            "another collection_name",
        ),
    ],
)
def test_mismatches_raise_before_anything_is_written(
    make_index, client, vectors, options, expected, found, fix
):
    _existing(client, "old", vectors)
    before = client.count("old").count
    with pytest.raises(CollectionConfigError) as info:
        make_index(collection_name="old", **options)
    message = str(info.value)
    assert "'old'" in message
    assert f"expected: {expected}" in message
    assert f"found:    {found}" in message
    assert fix in message
    assert client.count("old").count == before == 3


def test_recreate_replaces_a_mismatched_collection(make_index, client, tiny_encoder):
    _existing(client, "old", models.VectorParams(size=8, distance=models.Distance.DOT))
    index = make_index(collection_name="old", recreate=True)
    params = client.get_collection("old").config.params.vectors
    assert (params.size, params.distance) == (tiny_encoder.dim, models.Distance.COSINE)
    assert index.count() == 0
    index.add(["kept"])
    index.ensure_collection()  # recreate happens once per index, not on every call
    assert index.count() == 1


def test_matching_collection_is_reused_with_its_points(make_index, client):
    first = make_index(collection_name="shared")
    first.add(["one", "two"])
    second = make_index(collection_name="shared")
    assert second.count() == 2


def test_langchain_qdrant_empty_name_vector_counts_as_unnamed(make_index, client):
    _existing(client, "lc", {"": models.VectorParams(size=24, distance=models.Distance.COSINE)})
    index = make_index(collection_name="lc")
    index.add(["new"])
    assert index.count() == 4
    assert index.search("new", k=1)[0][0].page_content == "new"


def test_missing_collection_with_create_if_missing_false(make_index, client):
    with pytest.raises(CollectionConfigError, match="does not exist"):
        make_index(collection_name="absent", create_if_missing=False)
    assert not client.collection_exists("absent")


def test_drop_deletes_the_collection_and_the_next_call_recreates_it(make_index, client):
    index = make_index(collection_name="dropped")
    index.add(["a"])
    index.drop()
    assert not client.collection_exists("dropped")
    assert index.count() == 0
    assert client.collection_exists("dropped")


def test_payload_indexes_are_skipped_on_embedded_qdrant(make_index, client, recwarn):
    index = make_index(payload_indexes=["source"])
    index.add(["a"])
    assert not [w for w in recwarn if "Payload indexes" in str(w.message)]


def test_index_arguments_are_validated(tiny_encoder, client):
    with pytest.raises(InvalidInputError, match="collection_name"):
        QdrantIndex(tiny_encoder, collection_name="", storage=client)
    with pytest.raises(InvalidInputError, match="embedding: expected a T5Encoder"):
        QdrantIndex("t5-base", storage=client)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="retry: expected a RetryPolicy"):
        QdrantIndex(tiny_encoder, retry=3, storage=client)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="spec: expected a CollectionSpec, found dict"):
        QdrantIndex(tiny_encoder, storage=client, spec={"distance": "dot"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*'path'"):
        QdrantIndex(tiny_encoder, path="./x")  # type: ignore[call-arg]  # the LangChain edge's
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*'colection_name'"):
        QdrantIndex(tiny_encoder, colection_name="typo", storage=client)  # type: ignore[call-arg]
    with pytest.raises(
        InvalidInputError, match=r"storage: expected a folder path.*QdrantClient.*found object"
    ):
        QdrantIndex(tiny_encoder, storage=object())  # type: ignore[arg-type]


def test_the_vector_store_translates_langchain_keywords_once(tiny_encoder, client):
    with pytest.raises(InvalidInputError, match="expected one place to store, found url, client"):
        T5QdrantVectorStore(tiny_encoder, client=client, url="http://localhost:6333")
    with pytest.raises(InvalidInputError, match="expected one place to store, found storage, path"):
        T5QdrantVectorStore(tiny_encoder, storage=":memory:", path="./x")
    with pytest.raises(InvalidInputError, match="spec: expected it alone or the layout keywords"):
        T5QdrantVectorStore(tiny_encoder, client=client, spec=CollectionSpec(), distance="dot")
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*'colection_name'"):
        T5QdrantVectorStore(tiny_encoder, colection_name="typo", client=client)  # type: ignore[call-arg]
    store = T5QdrantVectorStore(tiny_encoder, location=":memory:", distance="dot")
    assert store.index.spec.metric == "dot"
    assert store.index.connection.kind == "memory"
