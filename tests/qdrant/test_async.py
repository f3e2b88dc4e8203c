"""Native async: AsyncQdrantClient end to end, no threads; embedded sync clients off the loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
from httpx import Headers
from langchain_core.documents import Document
from qdrant_client import AsyncQdrantClient, QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from t5_vectors import IngestError, QdrantIndex, RetryPolicy
from t5_vectors.errors import CollectionConfigError, InvalidInputError
from t5_vectors.storage.open import DEFAULT_PATH, open_storage

FAST = RetryPolicy(attempts=2, initial_wait=0, max_wait=0, jitter=0)


@pytest.fixture
async def no_threads(monkeypatch):
    """Fail any code that hands work to an executor thread."""
    loop = asyncio.get_running_loop()

    def refuse(*args, **kwargs):
        raise AssertionError("run_in_executor was called")

    monkeypatch.setattr(loop, "run_in_executor", refuse)
    monkeypatch.setattr(asyncio, "to_thread", refuse)


@pytest.fixture
async def aclient():
    client = AsyncQdrantClient(":memory:")
    yield client
    await client.close()


def documents(n: int) -> list[Document]:
    return [Document(page_content=f"async text {i}", metadata={"n": i}) for i in range(n)]


async def agen(docs: list[Document]) -> AsyncIterator[Document]:
    for doc in docs:
        await asyncio.sleep(0)
        yield doc


async def test_async_client_end_to_end_without_threads(tiny_encoder, aclient, no_threads):
    index = QdrantIndex(tiny_encoder, collection_name="a", storage=aclient)
    assert not await aclient.collection_exists("a")  # checked on first use, not in __init__
    report = await index.aingest(agen(documents(25)), batch_size=10)
    assert (report.written, report.batches) == (25, 3)
    again = await index.aingest(documents(25), batch_size=10)
    assert (again.written, again.skipped) == (0, 25)
    ids = await index.aadd([Document(page_content="by id", id="x")])
    assert ids == ["x"]
    assert (await index.aget(["x"]))[0].page_content == "by id"
    hits = await index.asearch("async text 3", k=3, filter={"n": 3})
    assert [doc.page_content for doc, _ in hits] == ["async text 3"]
    assert len(await index.ammr("async text 3", k=2)) == 2
    assert await index.acount() == 26
    await index.adelete(["x"])
    assert await index.acount() == 25
    await index.adelete()
    assert await index.acount() == 0
    await index.adrop()
    assert not await aclient.collection_exists("a")


async def test_async_results_equal_sync_results(tiny_encoder, aclient, client):
    sync = QdrantIndex(tiny_encoder, collection_name="s", storage=client)
    asynchronous = QdrantIndex(tiny_encoder, collection_name="s", storage=aclient)
    sync.ingest(documents(12))
    await asynchronous.aingest(documents(12))
    for query in ("async text 1", "async text 11"):
        left = sync.search(query, k=5)
        right = await asynchronous.asearch(query, k=5)
        assert [d for d, _ in left] == [d for d, _ in right]
        assert [s for _, s in left] == pytest.approx([s for _, s in right], abs=1e-6)
        assert [d.id for d, _ in sync.mmr(query, k=3)] == [
            d.id for d, _ in await asynchronous.ammr(query, k=3)
        ]


async def test_embedded_sync_client_serves_async_calls_off_the_event_loop(tiny_encoder, client):
    """Embedded Qdrant computes in-process: async calls run it in a worker thread, so a search
    (a numpy scan) never stalls the caller's event loop."""
    index = QdrantIndex(tiny_encoder, collection_name="inline", storage=client)
    assert index.async_client is None
    loop_thread = threading.current_thread().name
    calls: list[str] = []
    query_points, upsert = client.query_points, client.upsert

    def spy_query(*args, **kwargs):
        calls.append(threading.current_thread().name)
        return query_points(*args, **kwargs)

    def spy_upsert(*args, **kwargs):
        calls.append(threading.current_thread().name)
        return upsert(*args, **kwargs)

    client.query_points = spy_query  # type: ignore[method-assign]
    client.upsert = spy_upsert  # type: ignore[method-assign]
    await index.aadd(documents(3))
    found = await index.asearch("async text 1", k=3)
    assert sorted(doc.page_content for doc, _ in found) == [f"async text {i}" for i in range(3)]
    assert len(calls) == 2
    assert loop_thread not in calls


async def test_sync_calls_on_an_embedded_async_client_explain_themselves(tiny_encoder, aclient):
    index = QdrantIndex(tiny_encoder, collection_name="a", storage=aclient)
    with pytest.raises(InvalidInputError, match="Use the async methods"):
        index.search("x")
    with pytest.raises(InvalidInputError, match="storage=QdrantClient"):
        index.ingest(["x"])


async def test_async_mismatch_raises_before_any_write(tiny_encoder, aclient):
    await aclient.create_collection(
        "old", vectors_config=models.VectorParams(size=5, distance=models.Distance.COSINE)
    )
    index = QdrantIndex(tiny_encoder, collection_name="old", storage=aclient)
    with pytest.raises(CollectionConfigError, match="vectors of size 24"):
        await index.aadd(["never written"])
    assert (await aclient.count("old")).count == 0


async def test_async_retries_and_failure_report(tiny_encoder, aclient, monkeypatch):
    index = QdrantIndex(tiny_encoder, collection_name="r", retry=FAST, storage=aclient)
    upsert = aclient.upsert
    failures = [UnexpectedResponse(503, "", b"", Headers())]
    calls = 0

    async def flaky(*args, **kwargs):
        nonlocal calls
        calls += 1
        if failures:
            raise failures.pop()
        return await upsert(*args, **kwargs)

    monkeypatch.setattr(aclient, "upsert", flaky)
    assert (await index.aingest(documents(5))).written == 5
    assert calls == 2
    failures.extend([UnexpectedResponse(400, "", b"", Headers())])
    with pytest.raises(IngestError, match=r"batch 0 .* after 1 attempt") as info:
        await index.aingest(documents(7))
    assert (info.value.report.written, info.value.report.skipped) == (0, 5)


async def test_async_reading_failure(tiny_encoder, aclient):
    index = QdrantIndex(tiny_encoder, collection_name="f", storage=aclient)

    async def broken() -> AsyncIterator[Document]:
        for doc in documents(5):
            yield doc
        raise OSError("stream closed")

    with pytest.raises(IngestError, match="reading document 5") as info:
        await index.aingest(broken(), batch_size=2)
    assert info.value.report.written == 4
    assert await index.acount() == 4


async def test_cancelling_an_ingestion_stops_the_uploader(tiny_encoder, aclient):
    index = QdrantIndex(tiny_encoder, collection_name="cancel", storage=aclient)

    async def endless() -> AsyncIterator[str]:
        i = 0
        while True:
            i += 1
            yield f"text {i}"

    task = asyncio.create_task(index.aingest(endless(), batch_size=8))

    async def two_batches_stored() -> None:
        while await index.acount() < 16:
            await asyncio.sleep(0.01)  # polls a condition; the bound is the wait_for below

    await asyncio.wait_for(two_batches_stored(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "t5-vectors-upload"]


async def test_async_context_manager_closes_owned_clients(tiny_encoder, tmp_path):
    async with QdrantIndex(tiny_encoder, collection_name="cm", storage=tmp_path / "db") as index:
        await index.aadd(["persisted"])
    reopened = QdrantIndex(tiny_encoder, collection_name="cm", storage=tmp_path / "db")
    assert reopened.count() == 1
    reopened.close()


def test_default_storage_is_embedded_on_disk(tiny_encoder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with QdrantIndex(tiny_encoder) as index:
        index.add(["kept on disk"])
    assert (tmp_path / DEFAULT_PATH).is_dir()
    with QdrantIndex(tiny_encoder) as index:  # the lock was released; the data is there
        assert [d.page_content for d in index.get(index.add(["kept on disk"]))] == ["kept on disk"]
        assert index.count() == 1


def test_remote_clients_get_a_native_twin_without_connecting():
    sync = QdrantClient(url="http://localhost:1", check_compatibility=False)
    connection = open_storage(sync)
    assert not connection.local
    assert connection.native_async
    twin = connection.async_client
    assert isinstance(twin, AsyncQdrantClient)
    assert twin.init_options["url"] == "http://localhost:1"
    reverse = open_storage(AsyncQdrantClient(url="http://localhost:2", check_compatibility=False))
    assert reverse.client.init_options["url"] == "http://localhost:2"
    connection.close()


def test_connection_options_and_clients_are_exclusive():
    with pytest.raises(InvalidInputError, match="expected none with a qdrant-client client"):
        open_storage(QdrantClient(":memory:"), api_key="key")
    with pytest.raises(InvalidInputError, match="async_client: expected"):
        open_storage(QdrantClient(":memory:"), async_client=QdrantClient(":memory:"))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="async_client: expected together with"):
        open_storage("./folder", async_client=AsyncQdrantClient(":memory:"))
