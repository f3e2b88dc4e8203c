"""Streaming ingestion: bounded, overlapped, idempotent, retried, and honest in its report."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from httpx import Headers
from langchain_core.documents import Document
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from t5_vectors import IngestError, RetryPolicy
from t5_vectors.errors import InvalidInputError, ModelMismatchError
from t5_vectors.plan.ids import generated_id, point_id
from t5_vectors.plan.model_record import RECORD_KEY
from t5_vectors.plan.payload import CONTENT_KEY, HASH_KEY, ID_KEY, METADATA_KEY

FAST = RetryPolicy(attempts=3, initial_wait=0, max_wait=0, jitter=0)


def corpus(n: int, *, source: str = "book.txt") -> list[Document]:
    return [
        Document(
            page_content=f"chunk {i} of the {source} corpus", metadata={"source": source, "i": i}
        )
        for i in range(n)
    ]


def http(status: int) -> UnexpectedResponse:
    return UnexpectedResponse(status, "reason", b"{}", Headers())


class Flaky:
    """Wraps a client method: raises the queued errors first, then calls through."""

    def __init__(self, client, method: str, monkeypatch, errors=(), *, on_call=None) -> None:
        self.original = getattr(client, method)
        self.errors = list(errors)
        self.calls = 0
        self.threads: set[str] = set()
        self.on_call = on_call
        monkeypatch.setattr(client, method, self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.on_call is not None:
            self.on_call(self.calls)
        if self.errors:
            error = self.errors.pop(0)
            if error is not None:
                raise error
        return self.original(*args, **kwargs)


def test_ingest_streams_documents_and_strings(make_index, client):
    index = make_index(collection_name="c")
    documents = (d for d in [*corpus(5), "a plain string"])
    report = index.ingest(documents, batch_size=2)
    assert (report.written, report.skipped, report.failed) == (6, 0, 0)
    assert report.batches == 3
    assert report.total == 6
    assert report.seconds > 0
    assert report.encode_seconds > 0
    assert report.qdrant_seconds > 0
    assert 0 < report.qdrant_wait_seconds <= report.seconds
    assert index.count() == 6


def test_payload_holds_content_metadata_and_top_level_bookkeeping(make_index, client):
    index = make_index(collection_name="c")
    doc = Document(page_content="text", metadata={"source": "a.md", "page": 1}, id="doc-1")
    index.ingest([doc, Document(page_content="no id", metadata={"source": "b.md"})])
    (record,) = client.retrieve("c", [point_id("doc-1")], with_payload=True)
    assert set(record.payload) == {CONTENT_KEY, METADATA_KEY, ID_KEY, HASH_KEY}
    assert record.payload[CONTENT_KEY] == "text"
    assert record.payload[METADATA_KEY] == {"source": "a.md", "page": 1}
    assert record.payload[ID_KEY] == "doc-1"
    generated = generated_id("no id", "b.md")
    (other,) = client.retrieve("c", [point_id(generated)], with_payload=True)
    assert other.payload[ID_KEY] == generated


def test_reingesting_an_unchanged_corpus_encodes_and_writes_nothing(
    make_index, client, encode_spy, monkeypatch
):
    index = make_index(collection_name="c")
    encode_spy.texts.clear()  # the model record's probe texts, encoded when the collection is made
    first = index.ingest(iter(corpus(30)), batch_size=8)
    assert first.written == 30
    assert len(encode_spy.texts) == 30
    encode_spy.texts.clear()
    upserts = Flaky(client, "upsert", monkeypatch)
    second = index.ingest(iter(corpus(30)), batch_size=8)
    assert (second.written, second.skipped, second.failed) == (0, 30, 0)
    assert encode_spy.texts == []
    assert upserts.calls == 0
    assert second.encode_seconds == 0


def test_only_changed_documents_are_encoded_again(make_index, encode_spy):
    index = make_index(collection_name="c")
    index.ingest(corpus(10))
    encode_spy.texts.clear()
    changed = corpus(10)
    changed[3] = Document(page_content=changed[3].page_content, metadata={"source": "book.txt"})
    changed[7] = Document(page_content="chunk 7, revised", metadata=changed[7].metadata, id="new")
    report = index.ingest(changed)
    assert (report.written, report.skipped) == (2, 8)
    assert sorted(encode_spy.texts) == sorted([changed[3].page_content, "chunk 7, revised"])
    assert index.count() == 11  # the revised chunk 7 has an id of its own now


def test_force_rewrites_everything(make_index, encode_spy):
    index = make_index(collection_name="c")
    index.ingest(corpus(6))
    encode_spy.texts.clear()
    report = index.ingest(corpus(6), force=True)
    assert (report.written, report.skipped) == (6, 0)
    assert len(encode_spy.texts) == 6
    assert index.count() == 6


def test_another_model_is_refused_then_reencodes_without_a_record(make_index, client, vector_table):
    index = make_index(collection_name="c")
    index.ingest(corpus(4))
    table = vector_table({"x": [0.0] * 24})
    with pytest.raises(ModelMismatchError, match="another embedding model"):
        make_index(table, collection_name="c")
    assert client.count("c").count == 4
    # A collection without a model record (written by langchain-qdrant, say) is used as it is:
    # the other model's content hashes differ, so every document is encoded again.
    client.update_collection("c", metadata={RECORD_KEY: None})
    table.calls.clear()
    other = make_index(table, collection_name="c")
    report = other.ingest(corpus(4))
    assert report.written == 4
    assert len(table.calls) == 2  # the dimension probe, then the documents


def test_repeated_ids_in_a_batch_keep_the_last(make_index):
    index = make_index(collection_name="c")
    docs = [
        Document(page_content="first", id="same"),
        Document(page_content="other", id="x"),
        Document(page_content="second", id="same"),
    ]
    report = index.ingest(docs)
    assert (report.written, report.skipped, report.total) == (2, 1, 3)
    assert index.get(["same"])[0].page_content == "second"


def test_memory_is_bounded_the_iterable_is_read_lazily(make_index, client, monkeypatch):
    index = make_index(collection_name="c")
    pulled = 0

    def documents() -> Iterator[Document]:
        nonlocal pulled
        for doc in corpus(200):
            pulled += 1
            yield doc

    seen: list[int] = []
    Flaky(client, "upsert", monkeypatch, on_call=lambda _: seen.append(pulled))
    report = index.ingest(documents(), batch_size=10)
    assert report.written == 200
    # When a batch is uploaded, at most the next two batches have been read: reading never
    # runs ahead of the uploads, whatever the corpus size.
    assert all(count - 10 * (i + 1) <= 20 for i, count in enumerate(seen)), seen
    assert len(seen) == 20


def test_encoding_the_next_batch_overlaps_the_upload(make_index, client, monkeypatch, tiny_encoder):
    index = make_index(collection_name="c")
    index.add(["stored before"])  # a collection holding points: the run looks hashes up
    events: list[str] = []
    second_encode_started = threading.Event()
    encode = tiny_encoder.encode

    def spy_encode(texts, **kwargs):
        events.append("encode")
        if events.count("encode") == 2:
            second_encode_started.set()
        return encode(texts, **kwargs)

    def upload(call: int) -> None:
        events.append("upload")
        if call == 1:  # hold the first upload (and embedded Qdrant's lock) until batch 2 encodes
            assert second_encode_started.wait(timeout=10), "batch 2 did not encode during upload 1"
        events.append("uploaded")

    monkeypatch.setattr(tiny_encoder, "encode", spy_encode)
    Flaky(client, "retrieve", monkeypatch, on_call=lambda _: events.append("lookup"))
    uploads = Flaky(client, "upsert", monkeypatch, on_call=upload)

    report = index.ingest(iter(corpus(30)), batch_size=10)
    assert report.written == 30

    # Batch 2 is looked up before batch 1 is handed over (so the lookup never queues behind
    # the upload), then encodes while batch 1 uploads.
    def nth(event: str, n: int) -> int:
        return [i for i, e in enumerate(events) if e == event][n - 1]

    assert nth("lookup", 2) < nth("upload", 1)
    assert nth("upload", 1) < nth("uploaded", 1)
    assert nth("encode", 2) < nth("uploaded", 1)
    assert uploads.threads == {"t5-vectors-upload"}


def test_a_later_version_of_an_id_in_flight_is_compared_with_it(make_index):
    index = make_index(collection_name="c")
    index.ingest([Document(page_content="v1", id="x")])
    # v2 is still on its way to Qdrant when the next batch, v1 again, is looked up: v1 must
    # be written again, not skipped as "stored unchanged".
    report = index.ingest(
        [Document(page_content="v2", id="x"), Document(page_content="v1", id="x")], batch_size=1
    )
    assert (report.written, report.skipped) == (2, 0)
    assert index.get(["x"])[0].page_content == "v1"
    same = index.ingest(
        [Document(page_content="v3", id="x"), Document(page_content="v3", id="x")], batch_size=1
    )
    assert (same.written, same.skipped) == (1, 1)
    assert index.get(["x"])[0].page_content == "v3"


async def test_in_flight_versions_async(make_index):
    index = make_index(collection_name="c")
    await index.aingest([Document(page_content="v1", id="x")])
    report = await index.aingest(
        [Document(page_content="v2", id="x"), Document(page_content="v1", id="x")], batch_size=1
    )
    assert (report.written, report.skipped) == (2, 0)
    assert (await index.aget(["x"]))[0].page_content == "v1"


def test_transient_upload_failures_are_retried(make_index, client, monkeypatch):
    index = make_index(collection_name="c", retry=FAST)
    errors = [http(503), ResponseHandlingException(httpx.ConnectError("refused"))]
    uploads = Flaky(client, "upsert", monkeypatch, errors)
    report = index.ingest(corpus(10), batch_size=10)
    assert (report.written, report.failed) == (10, 0)
    assert uploads.calls == 3
    assert index.count() == 10


def test_transient_lookup_failures_are_retried(make_index, client, monkeypatch):
    index = make_index(collection_name="c", retry=FAST)
    index.add(["stored before"])  # a collection holding points: the run looks hashes up
    lookups = Flaky(client, "retrieve", monkeypatch, [http(502)])
    assert index.ingest(corpus(5)).written == 5
    assert lookups.calls == 2


def test_an_empty_collection_is_ingested_without_hash_lookups(make_index, client, monkeypatch):
    index = make_index(collection_name="c")
    lookups = Flaky(client, "retrieve", monkeypatch)
    counts = Flaky(client, "count", monkeypatch)
    docs = corpus(25)
    report = index.ingest(docs + docs[:5], batch_size=10)  # five repeated in a later batch
    assert lookups.calls == 0  # nothing was stored when the run began
    assert counts.calls == 1
    assert (report.written, report.skipped) == (30, 0)  # repeats rewritten: same points
    again = index.ingest(docs, batch_size=10)  # now it holds points: hashes are looked up
    assert lookups.calls == 3
    assert (again.written, again.skipped) == (0, 25)
    index.add(["one more"])
    assert counts.calls == 1  # counted once per index, not before every small add
    assert index.count() == 26


def test_validation_errors_are_not_retried(make_index, client, monkeypatch):
    index = make_index(collection_name="c", retry=FAST)
    uploads = Flaky(client, "upsert", monkeypatch, [http(400)])
    with pytest.raises(IngestError) as info:
        index.ingest(corpus(5))
    assert uploads.calls == 1
    error = info.value
    assert isinstance(error.__cause__, UnexpectedResponse)
    assert "batch 0 (documents 0..4) failed while uploading after 1 attempt" in str(error)
    assert "Qdrant rejected the request" in str(error)
    assert (error.report.written, error.report.failed) == (0, 5)
    assert index.count() == 0


def test_giving_up_names_the_batch_and_what_was_written_and_a_rerun_resumes(
    make_index, client, monkeypatch, encode_spy
):
    index = make_index(collection_name="c", retry=FAST)
    down = ResponseHandlingException(httpx.ConnectError("refused"))
    uploads = Flaky(client, "upsert", monkeypatch, [None, down, down, down])
    with pytest.raises(IngestError) as info:
        index.ingest(iter(corpus(40)), batch_size=10)
    error = info.value
    message = str(error)
    assert "batch 1 (documents 10..19) failed while uploading after 3 attempts" in message
    assert "written:  10 documents before it" in message
    assert "check that Qdrant is reachable" in message
    assert "resumes where it stopped" in message
    assert error.failure.batch == 1
    assert error.report.written == 10
    assert error.report.total == error.report.written + error.report.failed
    assert uploads.calls == 4
    assert index.count() == 10

    encode_spy.texts.clear()
    resumed = index.ingest(iter(corpus(40)), batch_size=10)
    assert (resumed.written, resumed.skipped) == (30, 10)
    assert len(encode_spy.texts) == 30
    assert index.count() == 40


def test_continue_mode_records_the_failed_batch_and_goes_on(make_index, client, monkeypatch):
    index = make_index(collection_name="c", retry=FAST)
    Flaky(client, "upsert", monkeypatch, [None, http(500), http(500), http(500)])
    report = index.ingest(corpus(30), batch_size=10, on_failure="continue")
    assert (report.written, report.skipped, report.failed) == (20, 0, 10)
    (failure,) = report.failures
    assert (failure.batch, failure.first, failure.last, failure.size) == (1, 10, 19, 10)
    assert failure.stage == "uploading"
    assert "UnexpectedResponse" in failure.error
    assert index.count() == 20


def test_encoding_failures_stop_or_are_recorded(make_index, vector_table):
    class Failing(vector_table):
        def embed_documents(self, texts):
            if any("chunk 1 " in text for text in texts):
                raise RuntimeError("model crashed")
            return super().embed_documents(texts)

    index = make_index(Failing({"x": [1.0, 0.0]}), collection_name="c")
    with pytest.raises(IngestError, match="failed while encoding after 1 attempt") as info:
        index.ingest(corpus(3), batch_size=1)
    assert "fix the embedding model's error" in str(info.value)
    assert info.value.report.written == 1
    report = index.ingest(corpus(3), batch_size=1, on_failure="continue")
    assert (report.written, report.skipped, report.failed) == (1, 1, 1)


def test_a_failing_iterable_stops_even_in_continue_mode(make_index):
    index = make_index(collection_name="c")

    def loader() -> Iterator[Document]:
        yield from corpus(15)
        raise OSError("disk gone")

    with pytest.raises(IngestError) as info:
        index.ingest(loader(), batch_size=10, on_failure="continue")
    assert "reading document 15 (batch 1) raised" in str(info.value)
    assert "OSError: disk gone" in str(info.value)
    assert (info.value.report.written, info.value.report.failed) == (10, 5)
    assert index.count() == 10


def test_invalid_documents_in_a_list_raise_before_any_write(make_index):
    index = make_index(collection_name="c")
    index.ingest(["already here"])
    bad = [*corpus(5), Document(page_content="x", metadata={"when": object()})]
    with pytest.raises(InvalidInputError, match=r"documents\[5\]"):
        index.ingest(bad)
    with pytest.raises(InvalidInputError, match=r"documents\[1\]"):
        index.ingest(["fine", 42])
    with pytest.raises(InvalidInputError, match=r"documents\[0\] id"):
        index.ingest([Document(page_content="x", id="")])
    assert index.count() == 1


def test_invalid_documents_in_a_stream_stop_with_what_was_written(make_index):
    index = make_index(collection_name="c")
    stream = iter([*corpus(4), None])
    with pytest.raises(IngestError) as info:
        index.ingest(stream, batch_size=2)
    assert isinstance(info.value.__cause__, InvalidInputError)
    assert "documents[4]" in str(info.value)
    assert index.count() == 4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, "batch_size: expected a positive int"),
        ({"batch_size": True}, "batch_size: expected a positive int"),
        ({"on_failure": "ignore"}, "on_failure: expected 'raise' or 'continue'"),
    ],
)
def test_ingest_options_are_validated(make_index, options, message):
    with pytest.raises(InvalidInputError, match=message):
        make_index().ingest(["x"], **options)


def test_a_single_document_is_not_an_iterable_of_documents(make_index):
    with pytest.raises(InvalidInputError, match="Wrap it in a list"):
        make_index().ingest("just one string")


def test_add_returns_ids_in_order_and_validates_first(make_index):
    index = make_index(collection_name="c")
    ids = index.add(
        [Document(page_content="a", id="A"), "b", Document(page_content="c")],
        ids=[None, 7, "C"],
    )
    assert ids == ["A", "7", "C"]
    assert [d.page_content for d in index.get(["C", 7, "A"])] == ["c", "b", "a"]
    with pytest.raises(InvalidInputError, match="expected one id per document"):
        index.add(["x", "y"], ids=["only one"])
    with pytest.raises(InvalidInputError, match=r"documents\[1\] id: expected a str or int"):
        index.add(["x", "y"], ids=["ok", 1.5])
    assert index.count() == 3


def test_progress_bar(make_index, capsys):
    report = make_index().ingest(corpus(5), show_progress=True)
    assert report.written == 5
    assert "5/5" in capsys.readouterr().err


def test_the_report_separates_time_in_qdrant_from_time_waited(make_index, client, monkeypatch):
    index = make_index(collection_name="c")
    Flaky(client, "upsert", monkeypatch, on_call=lambda _: time.sleep(0.3))
    report = index.ingest(corpus(30), batch_size=10)
    assert report.written == 30
    assert report.qdrant_seconds >= 0.9  # three uploads of 0.3 s
    assert report.qdrant_wait_seconds >= 0.3  # at least the last upload is waited for
    assert report.qdrant_wait_seconds <= report.seconds
