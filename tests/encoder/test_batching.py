"""Token-budget batching, batch independence, token states, and the micro-batcher."""

from __future__ import annotations

import asyncio
import threading
import warnings

import numpy as np
import pytest
import torch

from t5_vectors import (
    EncoderClosedError,
    EncodingError,
    InvalidInputError,
    T5Encoder,
    TruncationWarning,
)
from t5_vectors.encoder._batching import plan_batches


def test_plan_batches_respects_budget_and_covers_every_index():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 300, size=500).tolist()
    batches = plan_batches(lengths, token_budget=2048, max_batch_size=64)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(500))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert len(batch) <= 64
        assert longest * len(batch) <= 2048 or len(batch) == 1
    # Longest first, and sorted within and across batches.
    order = [lengths[i] for b in batches for i in b]
    assert order == sorted(order, reverse=True)


def test_a_text_longer_than_the_budget_gets_its_own_batch():
    assert plan_batches([10, 5000, 10], token_budget=100, max_batch_size=8) == [[1], [0, 2]]


def test_empty_list_returns_zero_rows(tiny_encoder):
    out = tiny_encoder.encode([])
    assert out.shape == (0, tiny_encoder.dim)
    assert out.dtype == np.float32
    assert tiny_encoder.encode_tokens([]) == []


def test_vector_does_not_depend_on_batch_mates(st5_path, texts):
    alone = []
    with T5Encoder.from_pretrained(st5_path, device="cpu", dtype="float32") as enc:
        together = enc.encode(texts)
        alone = np.stack([enc.encode([t])[0] for t in texts])
    with T5Encoder.from_pretrained(
        st5_path, device="cpu", dtype="float32", token_budget=64, max_batch_size=2
    ) as small:
        split = small.encode(texts)
    assert np.abs(together - alone).max() <= 1e-5
    assert np.abs(together - split).max() <= 1e-5


def test_order_is_restored(tiny_encoder, texts):
    forward = tiny_encoder.encode(texts)
    backward = tiny_encoder.encode(texts[::-1])
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-5)


def test_token_embeddings_equal_last_hidden_state(t5_v10_path, texts):
    from transformers import AutoTokenizer, T5EncoderModel

    with T5Encoder.from_pretrained(t5_v10_path, device="cpu", dtype="float32") as enc:
        ours = enc.encode_tokens(texts)
        limit = enc.max_length
    model = T5EncoderModel.from_pretrained(str(t5_v10_path), dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(t5_v10_path))
    for text, states in zip(texts, ours, strict=True):
        ids = tokenizer([text], truncation=True, max_length=limit, return_tensors="pt")
        with torch.inference_mode():
            expected = model(**ids).last_hidden_state[0].numpy()
        assert states.shape == expected.shape == (ids["input_ids"].shape[1], enc.d_model)
        assert states.dtype == np.float32
        np.testing.assert_allclose(states, expected, atol=1e-5)


def test_tokenize_matches_hf_truncation(st5_path, texts):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(st5_path))
    with T5Encoder.from_pretrained(st5_path, device="cpu") as enc:
        expected = tokenizer(texts, truncation=True, max_length=enc.max_length)["input_ids"]
        assert enc.tokenize(texts) == expected


def test_truncation_warns_once_per_encoder_naming_the_limit(st5_path):
    long_text = "tokens " * 500
    with T5Encoder.from_pretrained(st5_path, device="cpu", max_length=16) as enc:
        with pytest.warns(TruncationWarning, match="max_length=16"):
            enc.encode([long_text])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            enc.encode([long_text])
            assert len(enc.encode_tokens([long_text])[0]) == 16


def test_thirty_two_threads_equal_serial(tiny_encoder, texts):
    pool = [f"{t} #{i}" for i in range(8) for t in texts]
    serial = {t: tiny_encoder.encode([t], kind="query")[0] for t in pool}
    results: dict[int, list[tuple[str, np.ndarray]]] = {}
    barrier = threading.Barrier(32)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            mine = pool[n::32] + pool[: n % 5]
            results[n] = [(t, tiny_encoder.encode([t], kind="query")[0]) for t in mine]
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    calls = sum(len(v) for v in results.values())
    for rows in results.values():
        for text, vector in rows:
            np.testing.assert_allclose(vector, serial[text], atol=1e-5)
    assert calls == 32 * 2 + sum(n % 5 for n in range(32))


async def test_async_callers_are_coalesced(tiny_encoder, texts):
    queries = [f"{t} q{i}" for i in range(6) for t in texts]
    serial = tiny_encoder.encode(queries, kind="query")
    before = tiny_encoder._batcher.batches_run
    out = await asyncio.gather(*(tiny_encoder.aencode([q], kind="query") for q in queries))
    passes = tiny_encoder._batcher.batches_run - before
    np.testing.assert_allclose(np.concatenate(out), serial, atol=1e-5)
    assert passes < len(queries) / 2, passes  # coalesced into shared forward passes


async def test_async_token_embeddings(tiny_encoder, texts):
    out = await tiny_encoder.aencode_tokens(texts)
    sync = tiny_encoder.encode_tokens(texts)
    for a, b in zip(out, sync, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_failed_batch_fails_only_its_callers(st5_path):
    with T5Encoder.from_pretrained(st5_path, device="cpu", dtype="float32") as enc:
        real_run = enc._batcher._run_batch
        poison = enc.tokenize(["poison pill"])[0]

        def flaky(batch, need_pooled, need_tokens):
            if any(item.ids == poison for item in batch):
                raise RuntimeError("simulated device failure")
            return real_run(batch, need_pooled, need_tokens)

        enc._batcher._run_batch = flaky
        with pytest.raises(EncodingError, match="simulated device failure") as info:
            enc.encode(["poison pill", "innocent"])
        assert isinstance(info.value.__cause__, RuntimeError)
        # The worker survives and keeps serving.
        assert enc.encode(["innocent"]).shape == (1, enc.dim)


def test_closed_encoder_refuses_new_work(st5_path):
    enc = T5Encoder.from_pretrained(st5_path, device="cpu")
    enc.encode(["warm"])
    enc.close()
    with pytest.raises(EncoderClosedError, match="closed"):
        enc.encode(["too late"])


def test_progress_bar(tiny_encoder, texts, capsys):
    tiny_encoder.encode(texts, show_progress=True)
    assert "Encoding" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ("a single string", "expected a list of strings, found a single str"),
        (b"bytes", "found a single bytes"),
        (["ok", None], r"texts\[1\]: expected str, found None"),
        (["ok", "fine", 3], r"texts\[2\]: expected str, found int"),
        (None, "expected a list of strings, found NoneType"),
        (42, "expected a list of strings, found int"),
    ],
)
def test_bad_input_is_a_typed_error(tiny_encoder, bad, match):
    with pytest.raises(InvalidInputError, match=match):
        tiny_encoder.encode(bad)


def test_bad_kind(tiny_encoder):
    with pytest.raises(InvalidInputError, match="kind"):
        tiny_encoder.encode(["x"], kind="passage")


@pytest.mark.parametrize("option", ["token_budget", "max_batch_size", "max_length"])
@pytest.mark.parametrize("value", [0, -5])
def test_bad_sizes(st5_path, option, value):
    with pytest.raises(InvalidInputError, match=option):
        T5Encoder.from_pretrained(st5_path, device="cpu", **{option: value})


def test_generators_are_accepted(tiny_encoder):
    out = tiny_encoder.encode(t for t in ["one", "two"])
    assert out.shape == (2, tiny_encoder.dim)


def test_bulk_request_does_not_starve_a_single_query(st5_path):
    with T5Encoder.from_pretrained(
        st5_path, device="cpu", dtype="float32", token_budget=64, max_batch_size=4
    ) as enc:
        bulk_texts = [f"bulk document number {i} with some words" for i in range(60)]
        finished: list[str] = []
        gate = threading.Event()
        real_run = enc._batcher._run_batch

        def gated(batch, need_pooled, need_tokens):
            gate.wait(5)  # hold the first batch until both requests are queued
            return real_run(batch, need_pooled, need_tokens)

        enc._batcher._run_batch = gated
        bulk_ids = enc.tokenize(bulk_texts)
        query_ids = enc.tokenize(["a single query"])
        bulk = enc._batcher.submit(bulk_ids)
        query = enc._batcher.submit(query_ids)
        bulk.add_done_callback(lambda _f: finished.append("bulk"))
        query.add_done_callback(lambda _f: finished.append("query"))
        gate.set()
        bulk.result(timeout=60)
        query.result(timeout=60)
        assert finished == ["query", "bulk"]
        np.testing.assert_allclose(bulk.result(), enc.encode(bulk_texts), atol=1e-5)


def test_dropped_encoder_is_collected_and_its_worker_stops(st5_path):
    import gc
    import weakref

    enc = T5Encoder.from_pretrained(st5_path, device="cpu")
    enc.encode(["start the worker"])
    thread = enc._batcher._thread
    assert thread is not None
    assert thread.is_alive()
    ref = weakref.ref(enc)
    del enc
    gc.collect()
    assert ref() is None
    thread.join(5)
    assert not thread.is_alive()


def test_only_concurrent_callers_make_the_worker_wait(st5_path):
    with T5Encoder.from_pretrained(st5_path, device="cpu", max_wait_ms=50) as enc:
        batcher = enc._batcher
        assert batcher.max_wait == 0.05
        enc.encode(["a lone caller"])
        assert batcher._concurrent is False  # so the next lone call starts at once
        # Holding the batcher's (re-entrant) lock, queue three callers before the worker looks.
        with batcher._cond:
            futures = [batcher.submit(enc.tokenize([t])) for t in ("first", "second", "third")]
        for future in futures:
            future.result(timeout=30)
        assert batcher._concurrent is True  # several callers shared a batch
        enc.encode(["alone again"])
        assert batcher._concurrent is False


def test_bad_max_wait(st5_path):
    with pytest.raises(InvalidInputError, match="max_wait_ms"):
        T5Encoder.from_pretrained(st5_path, device="cpu", max_wait_ms=-1)


def test_count_tokens_ignores_prefix_and_truncation(st5_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(st5_path))
    long_text = "tokens " * 200
    with T5Encoder.from_pretrained(
        st5_path, device="cpu", max_length=16, document_prefix="passage: "
    ) as enc:
        counts = enc.count_tokens(["short", long_text])
        assert counts == [len(tokenizer(t)["input_ids"]) for t in ["short", long_text]]
        assert counts[1] > 16
        assert len(enc.tokenize([long_text])[0]) == 16


def test_fingerprint_follows_vector_settings(st5_path):
    with (
        T5Encoder.from_pretrained(st5_path, device="cpu") as a,
        T5Encoder.from_pretrained(st5_path, device="cpu", dtype="float32") as b,
        T5Encoder.from_pretrained(st5_path, device="cpu", document_prefix="passage: ") as c,
        T5Encoder.from_pretrained(st5_path, device="cpu", pooling="max") as d,
    ):
        assert a.fingerprint == b.fingerprint  # precision only
        assert len({a.fingerprint, c.fingerprint, d.fingerprint}) == 3


def _recording_batcher(**options):
    """A MicroBatcher whose forward pass returns each text's length, recording every batch."""
    from t5_vectors.encoder._batching import MicroBatcher

    batches: list[list[int]] = []

    def run(batch, need_pooled, need_tokens):
        batches.append([len(item.ids) for item in batch])
        rows = np.array([[float(len(item.ids))] for item in batch], dtype=np.float32)
        return rows, None

    return MicroBatcher(run, dim=1, **options), batches


def test_a_long_queue_of_single_callers_is_served_in_order_and_in_full_batches():
    batcher, batches = _recording_batcher(token_budget=10_000, max_batch_size=8)
    try:
        with batcher._cond:  # queue everything before the worker looks
            futures = [batcher.submit([[7] * (1 + i % 5)]) for i in range(2_000)]
        for i, future in enumerate(futures):
            assert future.result(timeout=30)[0, 0] == 1 + i % 5
        assert len(batches) == 250  # 2,000 / 8: every batch full
        assert batches[0] == [1 + i % 5 for i in range(8)]  # first come, first served
    finally:
        batcher.close()


def test_cancelled_callers_deep_in_the_queue_are_dropped_unrun():
    batcher, batches = _recording_batcher(token_budget=10_000, max_batch_size=4)
    try:
        with batcher._cond:
            futures = [batcher.submit([[1] * 3]) for _ in range(1_000)]
            cancelled = [f for i, f in enumerate(futures) if i % 3 == 1 or i >= 900]
            for future in cancelled:
                assert future.cancel()
        live = [f for f in futures if f not in cancelled]
        for future in live:
            assert future.result(timeout=30)[0, 0] == 3
        assert sum(len(batch) for batch in batches) == len(live)  # none of the cancelled ran
        assert batcher._pending_items_reach(1) is False  # nothing left behind
    finally:
        batcher.close()


def test_a_batch_stops_at_the_token_budget_and_the_skipped_long_text_goes_next():
    batcher, batches = _recording_batcher(token_budget=40, max_batch_size=64)
    try:
        with batcher._cond:
            lengths = [10, 10, 30, 10, 10, 10]
            futures = [batcher.submit([[1] * n]) for n in lengths]
        for future, n in zip(futures, lengths, strict=True):
            assert future.result(timeout=30)[0, 0] == n
        # 10 + 10 fit; 30 does not (30 x 3 > 40) and is passed over, the shorter ones after
        # it still join up to the budget (10 x 4); the long text leads the next batch.
        assert batches == [[10, 10, 10, 10], [30], [10]]
    finally:
        batcher.close()


def test_the_wait_for_concurrent_callers_is_never_longer_than_a_forward_pass():
    import time

    from t5_vectors.encoder._batching import MicroBatcher

    def run(seconds):
        def run_batch(batch, need_pooled, need_tokens):
            time.sleep(seconds)
            return np.zeros((len(batch), 1), dtype=np.float32), None

        return run_batch

    slow = MicroBatcher(run(0.05), dim=1, token_budget=100, max_batch_size=4, max_wait=0.01)
    quick = MicroBatcher(run(0.0), dim=1, token_budget=100, max_batch_size=4, max_wait=5.0)
    try:
        assert (slow.gather_seconds(), quick.gather_seconds()) == (0.01, 5.0)  # no pass yet
        slow.submit([[1]]).result(timeout=30)
        quick.submit([[1]]).result(timeout=30)
        assert slow.gather_seconds() == 0.01  # passes longer than max_wait: max_wait
        assert 0 < quick.gather_seconds() < 1.0  # near-instant passes: far below max_wait
    finally:
        slow.close()
        quick.close()
