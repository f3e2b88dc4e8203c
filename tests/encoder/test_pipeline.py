"""The pipelined path: host staging, launch/collect overlap, chunked tokenization, counters.

On CUDA the worker queues batch n + 1 before it waits for batch n; the same machinery runs here
on CPU, driven through the micro-batcher's launch hook.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from t5_vectors import EncoderClosedError, EncodingError, InvalidInputError, T5Encoder
from t5_vectors.encoder._batching import BatchItem, MicroBatcher
from t5_vectors.encoder._runner import BatchRunner, stage_batch
from t5_vectors.encoder.pooling import EmbeddingHead, Pooler


def test_stage_batch_pads_and_masks():
    ids, mask = stage_batch([[5, 6, 7], [8], []], pad_id=0, multiple=1)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert mask.tolist() == [[True] * 3, [True, False, False], [False] * 3]
    assert ids.dtype == torch.long
    assert not ids.is_pinned()
    wide, wide_mask = stage_batch([[1, 2, 3]], pad_id=9, multiple=8)
    assert wide.shape == wide_mask.shape == (1, 8)
    assert wide[0, 3:].tolist() == [9] * 5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="pinned memory needs CUDA")
def test_stage_batch_pins_on_cuda():
    ids, mask = stage_batch([[1, 2]], pad_id=0, pin=True)
    assert ids.is_pinned()
    assert mask.is_pinned()


class _Handle:
    def __init__(self, log: list[str], number: int, batch: list[BatchItem], fail: bool) -> None:
        self.log, self.number, self.batch, self.fail = log, number, batch, fail

    def collect(self):
        self.log.append(f"collect {self.number}")
        if self.fail:
            raise RuntimeError("device error while copying back")
        rows = np.array([[item.index, len(item.ids)] for item in self.batch], dtype=np.float32)
        return rows, None


def _pipelined(log: list[str], failing: set[int] | None = None) -> MicroBatcher:
    failing = failing or set()
    launched = iter(range(1, 1000))

    def launch(batch, _pooled, _tokens):
        number = next(launched)
        log.append(f"launch {number}")
        return _Handle(log, number, batch, number in failing)

    def run(_batch, _pooled, _tokens):
        raise AssertionError("the synchronous path must not run when a launch hook is given")

    return MicroBatcher(run, dim=2, token_budget=4, max_batch_size=2, launch=launch)


def test_next_batch_is_launched_before_the_previous_is_collected():
    log: list[str] = []
    batcher = _pipelined(log)
    try:
        result = batcher.submit([[1]] * 6).result(timeout=30)
    finally:
        batcher.close()
    np.testing.assert_array_equal(result[:, 0], np.arange(6))
    assert log == ["launch 1", "launch 2", "collect 1", "launch 3", "collect 2", "collect 3"]
    assert (batcher.batches_run, batcher.texts_run) == (3, 6)


def test_a_failed_collect_fails_only_its_callers():
    log: list[str] = []
    batcher = _pipelined(log, failing={1})
    try:
        first = batcher.submit([[1], [2]])  # batch 1 (fails when collected)
        later = batcher.submit([[3]])
        with pytest.raises(EncodingError, match="device error") as info:
            first.result(timeout=30)
        assert isinstance(info.value.__cause__, RuntimeError)
        assert later.result(timeout=30)[0].tolist() == [0.0, 1.0]
    finally:
        batcher.close()


def _runner() -> tuple[BatchRunner, torch.nn.Embedding]:
    table = torch.nn.Embedding(50, 4)
    torch.nn.init.normal_(table.weight, generator=torch.Generator().manual_seed(0))

    def forward(ids: torch.Tensor, mask: torch.Tensor, _padded: bool) -> torch.Tensor:
        return table(ids) * mask[..., None]

    head = EmbeddingHead(Pooler("mean", 4), [], normalize=False)
    return BatchRunner(forward, head, device=torch.device("cpu"), pad_id=0), table


def test_runner_launch_then_collect_equals_run():
    runner, table = _runner()
    rows = [[3, 4, 5], [7], [9, 9]]
    starts = [1, 0, 0]
    items = [
        BatchItem(None, i, row, start)
        for i, (row, start) in enumerate(zip(rows, starts, strict=True))
    ]  # type: ignore[arg-type]
    pooled, tokens = runner.launch(items, True, True).collect()
    again, _ = runner.run(items, True, False)
    assert pooled is not None
    assert tokens is not None
    np.testing.assert_array_equal(pooled, again)
    with torch.no_grad():
        expected = [
            table(torch.tensor(row[start:])).mean(0).numpy()
            for row, start in zip(rows, starts, strict=True)
        ]
        np.testing.assert_allclose(pooled, np.stack(expected), atol=1e-6)
        for row, states in zip(rows, tokens, strict=True):
            np.testing.assert_allclose(states, table(torch.tensor(row)).numpy(), atol=1e-6)


def test_runner_launch_through_the_batcher_matches_the_encoder(tiny_encoder, texts):
    """The encoder's own runner, driven by the pipelined worker loop on CPU."""
    from t5_vectors.encoder._runner import BatchRunner as Runner

    runner = Runner(
        lambda ids, mask, _padded: (
            tiny_encoder.model(input_ids=ids, attention_mask=mask).last_hidden_state
        ),
        tiny_encoder.head,
        device=torch.device("cpu"),
        pad_id=tiny_encoder.tokenizer.pad_token_id,
    )
    batcher = MicroBatcher(
        runner.run, dim=tiny_encoder.dim, token_budget=40, max_batch_size=3, launch=runner.launch
    )
    try:
        vectors = batcher.submit(tiny_encoder.tokenize(texts)).result(timeout=60)
    finally:
        batcher.close()
    np.testing.assert_allclose(vectors, tiny_encoder.encode(texts), atol=1e-5)
    assert batcher.batches_run >= 3


# ------------------------------------------------------------------------ chunked tokenizing
@pytest.fixture(scope="module")
def chunked(st5_path):
    with T5Encoder.from_pretrained(
        st5_path, device="cpu", dtype="float32", tokenize_chunk=3, token_budget=64
    ) as encoder:
        yield encoder


def test_chunked_calls_equal_whole_calls(chunked, tiny_encoder, texts):
    many = [f"{t} {i}" for i in range(3) for t in texts]  # 24 texts: 8 chunks of 3
    np.testing.assert_allclose(chunked.encode(many), tiny_encoder.encode(many), atol=1e-5)
    tokens = chunked.encode_tokens(many)
    for ours, theirs in zip(tokens, tiny_encoder.encode_tokens(many), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
    pooled, both_tokens = chunked.encode_with_tokens(many, kind="query")
    np.testing.assert_allclose(pooled, tiny_encoder.encode(many, kind="query"), atol=1e-5)
    assert [t.shape for t in both_tokens] == [t.shape for t in tokens]


async def test_chunked_async_call(chunked, tiny_encoder, texts):
    many = texts * 2
    np.testing.assert_allclose(await chunked.aencode(many), tiny_encoder.encode(many), atol=1e-5)


def test_a_bad_text_anywhere_fails_before_any_chunk_is_encoded(chunked, texts):
    before = chunked.stats()
    with pytest.raises(InvalidInputError):
        chunked.encode([*texts, *texts, None])  # type: ignore[list-item]
    assert chunked.stats() == before


def test_a_chunked_call_on_a_closed_encoder_fails(st5_path, texts):
    encoder = T5Encoder.from_pretrained(st5_path, device="cpu", tokenize_chunk=2)
    encoder.close()
    with pytest.raises(EncoderClosedError):
        encoder.encode(texts)


# ----------------------------------------------------------------------------------- counters
def test_stats_show_how_a_burst_was_coalesced(tiny_encoder, texts):
    queries = [f"{t} #{i}" for i in range(4) for t in texts]
    before = tiny_encoder.stats()
    threads = [threading.Thread(target=tiny_encoder.encode, args=([q],)) for q in queries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    burst = tiny_encoder.stats() - before
    assert burst.texts == len(queries)
    assert 1 <= burst.forward_passes <= len(queries)
