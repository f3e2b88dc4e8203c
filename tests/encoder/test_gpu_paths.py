"""The GPU code paths, run on CPU: graph buckets, bucket padding, static passes, sync-free
forward, fused norms and SDPA attention against transformers and sentence-transformers.

CUDA graphs themselves need a GPU (tests/encoder/test_cuda.py); everything a graph relies on is
checked here: which bucket a batch takes, how it is padded into it, that the padded pass gives
the unpadded vectors, that the static buffers' outputs are copied before the next batch reuses
them, and that the forward pass reads no device value on the host (on the meta device, any
such read raises).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from transformers import T5EncoderModel

from t5_vectors import EncoderConfig, InvalidInputError, T5Encoder
from t5_vectors.encoder._batching import BatchItem, MicroBatcher
from t5_vectors.encoder._forward import FastT5Forward
from t5_vectors.encoder._graphs import GRAPH_BATCHES, GRAPH_LENGTHS, GraphCache, choose_bucket
from t5_vectors.encoder._runner import BatchRunner, stage_batch
from t5_vectors.encoder.core import EncoderStats


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _batch(vocab: int, lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.randint(3, vocab, (len(lengths), width), generator=generator)
    mask = torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]
    return ids.masked_fill(~mask, 0), mask


# --------------------------------------------------------------------------------- buckets
@pytest.mark.parametrize(
    ("rows", "longest", "expected"),
    [
        (1, 1, (1, 16)),
        (1, 11, (1, 16)),  # a lone query is padded to its bucket
        (1, 16, (1, 16)),
        (1, 17, (1, 32)),
        (3, 16, (4, 16)),  # filler rows up to the next batch size
        (5, 100, (8, 128)),
        (32, 128, (32, 128)),
        (33, 5, None),  # past the largest batch: eager
        (1, 129, None),  # past the longest length: eager
        (0, 5, None),
    ],
)
def test_choose_bucket(rows, longest, expected):
    assert choose_bucket(rows, longest) == expected


def test_buckets_are_sorted_and_small():
    assert list(GRAPH_BATCHES) == sorted(GRAPH_BATCHES)
    assert list(GRAPH_LENGTHS) == sorted(GRAPH_LENGTHS)
    assert GRAPH_BATCHES[0] == 1  # a lone query never gets filler rows
    assert choose_bucket(2, 7, batches=(4, 2), lengths=(8,)) == (2, 8)


def test_stage_batch_into_a_bucket():
    ids, mask = stage_batch([[5, 6, 7], [8]], pad_id=0, shape=(4, 8))
    assert ids.shape == mask.shape == (4, 8)
    assert ids[0].tolist() == [5, 6, 7, 0, 0, 0, 0, 0]
    assert ids[1].tolist() == [8] + [0] * 7
    assert ids[2:].eq(0).all()  # filler rows: pad ids
    assert mask[:, 0].all()  # every row has one real token, filler rows included
    assert mask.sum(1).tolist() == [3, 1, 1, 1]
    with pytest.raises(ValueError, match="do not fit"):
        stage_batch([[1] * 9], pad_id=0, shape=(1, 8))
    with pytest.raises(ValueError, match="do not fit"):
        stage_batch([[1], [2]], pad_id=0, shape=(1, 8))


# ------------------------------------------------------- padded-to-bucket equals unpadded
@pytest.mark.parametrize("fixture", ["t5_v10_path", "t5_v11_path"])
@pytest.mark.parametrize(("dtype", "atol"), [(torch.float32, 1e-5), (torch.bfloat16, 0.1)])
def test_bucket_padding_does_not_change_a_texts_states(fixture, dtype, atol, request):
    path = request.getfixturevalue(fixture)
    model = T5EncoderModel.from_pretrained(str(path), dtype=dtype).eval()
    fast = FastT5Forward(model)
    lengths = [11, 3, 7]
    ids, _mask = _batch(model.config.vocab_size, lengths)
    rows = [ids[i, :n].tolist() for i, n in enumerate(lengths)]
    bucket = choose_bucket(len(rows), max(lengths))
    assert bucket == (4, 16)
    staged_ids, staged_mask = stage_batch(rows, pad_id=0, shape=bucket)
    with torch.inference_mode():
        padded = fast(staged_ids, staged_mask, padded=True)
        for index, row in enumerate(rows):
            alone = fast(torch.tensor([row]), torch.ones(1, len(row), dtype=torch.bool))[0]
            torch.testing.assert_close(
                padded[index, : len(row)].float(), alone.float(), atol=atol, rtol=1e-2
            )
    assert torch.isfinite(padded.float()).all()  # filler rows too


def test_padded_hint_false_equals_looking_at_the_mask(t5_v11_path):
    model = T5EncoderModel.from_pretrained(str(t5_v11_path), dtype=torch.float32).eval()
    fast = FastT5Forward(model)
    ids, mask = _batch(model.config.vocab_size, [6, 6])
    with torch.inference_mode():
        told = fast(ids, mask, padded=False)
        looked = fast(ids, mask)
        assumed = fast(ids, mask, padded=True)  # folding an all-true mask changes nothing
    torch.testing.assert_close(told, looked)
    torch.testing.assert_close(assumed, looked, atol=1e-6, rtol=1e-5)


# ------------------------------------------------------------------ static passes (graphs)
def _static_runner(encoder: T5Encoder) -> tuple[BatchRunner, GraphCache]:
    fast = FastT5Forward(encoder.model)
    pad_id = int(encoder.tokenizer.pad_token_id)
    cache = GraphCache(fast, encoder.head, torch.device("cpu"), pad_id=pad_id, capture=False)

    def forward(ids: torch.Tensor, mask: torch.Tensor, padded: bool) -> torch.Tensor:
        return fast(ids, mask, padded=padded)  # type: ignore[no-any-return]

    runner = BatchRunner(
        forward, encoder.head, device=torch.device("cpu"), pad_id=pad_id, graphs=cache
    )
    return runner, cache


def _items(ids: list[list[int]], starts: list[int] | None = None) -> list[BatchItem]:
    starts = starts or [0] * len(ids)
    pairs = enumerate(zip(ids, starts, strict=True))
    return [BatchItem(None, i, row, start) for i, (row, start) in pairs]  # type: ignore[arg-type]


def test_static_pass_gives_the_encoders_vectors_and_tokens(tiny_encoder, texts):
    runner, cache = _static_runner(tiny_encoder)
    short = [t for t in texts if len(tiny_encoder.tokenize([t])[0]) <= 128][:5]
    ids = tiny_encoder.tokenize(short)
    pooled, tokens = runner.run(_items(ids), True, True)
    assert cache.replays == 1
    assert cache.ready == 1  # one bucket built
    assert pooled is not None
    assert tokens is not None
    np.testing.assert_allclose(pooled, tiny_encoder.encode(short), atol=1e-5)
    for ours, theirs in zip(tokens, tiny_encoder.encode_tokens(short), strict=True):
        assert ours.shape == theirs.shape  # bucket padding cut off again
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_static_outputs_are_copied_before_the_next_batch(tiny_encoder, texts):
    """Two batches of one bucket in flight: the first's results survive the second's run."""
    runner, cache = _static_runner(tiny_encoder)
    first_texts, second_texts = [texts[0], texts[2]], [texts[3], texts[7]]
    first_ids = tiny_encoder.tokenize(first_texts)
    second_ids = tiny_encoder.tokenize(second_texts)
    assert cache.bucket(2, max(map(len, first_ids))) == cache.bucket(2, max(map(len, second_ids)))
    first = runner.launch(_items(first_ids), True, False)
    second = runner.launch(_items(second_ids), True, False)
    assert cache.ready == 1  # both ran through the same static buffers
    np.testing.assert_allclose(first.collect()[0], tiny_encoder.encode(first_texts), atol=1e-5)
    np.testing.assert_allclose(second.collect()[0], tiny_encoder.encode(second_texts), atol=1e-5)


def test_static_pass_honours_pool_starts(tiny_encoder):
    runner, _cache = _static_runner(tiny_encoder)
    rows = tiny_encoder.tokenize(["a query with a prefix", "another one"])
    model = tiny_encoder.model
    plain = BatchRunner(
        lambda ids, mask, _p: model(input_ids=ids, attention_mask=mask).last_hidden_state,
        tiny_encoder.head,
        device=torch.device("cpu"),
        pad_id=int(tiny_encoder.tokenizer.pad_token_id),
    )
    ours, _ = runner.run(_items(rows, [2, 1]), True, False)
    theirs, _ = plain.run(_items(rows, [2, 1]), True, False)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_static_passes_through_the_micro_batcher(tiny_encoder, texts):
    """Bursts coalesced by the batcher take buckets; larger batches run eagerly."""
    runner, cache = _static_runner(tiny_encoder)
    batcher = MicroBatcher(
        runner.run, dim=tiny_encoder.dim, token_budget=4096, max_batch_size=64, launch=runner.launch
    )
    many = [f"{t} {i}" for i in range(6) for t in texts]  # 48 texts: one eager batch
    try:
        vectors = batcher.submit(tiny_encoder.tokenize(many)).result(timeout=60)
        singles = [batcher.submit(tiny_encoder.tokenize([t])) for t in texts[:3]]
        alone = [future.result(timeout=60) for future in singles]
    finally:
        batcher.close()
    np.testing.assert_allclose(vectors, tiny_encoder.encode(many), atol=1e-5)
    np.testing.assert_allclose(np.concatenate(alone), tiny_encoder.encode(texts[:3]), atol=1e-5)
    assert 1 <= cache.replays <= 3  # the singles, perhaps coalesced; the 48 did not replay


def test_a_replaced_head_tensor_drops_the_passes(tiny_encoder, texts):
    runner, cache = _static_runner(tiny_encoder)
    ids = tiny_encoder.tokenize(texts[:1])
    runner.run(_items(ids), True, False)
    assert cache.ready == 1
    staged_ids, staged_mask = stage_batch(ids, pad_id=0, shape=(1, 16))
    cache.run((1, 16), staged_ids, staged_mask, staged_mask)
    assert cache.ready == 1  # unchanged head: the pass is reused
    dense = tiny_encoder.head.dense_layers[0].linear
    original = dense.weight
    try:
        dense.weight = torch.nn.Parameter(original.detach().clone())
        runner.run(_items(ids), True, False)
        assert cache.ready == 1  # rebuilt: only the bucket just used exists again
        assert cache.replays == 3
    finally:
        dense.weight = original


def test_graph_cache_capture_all_builds_every_bucket(tiny_encoder):
    fast = FastT5Forward(tiny_encoder.model)
    cache = GraphCache(
        fast,
        tiny_encoder.head,
        torch.device("cpu"),
        pad_id=0,
        capture=False,
        batches=(1, 2),
        lengths=(8, 16),
    )
    assert cache.shapes == [(1, 8), (1, 16), (2, 8), (2, 16)]
    assert cache.capture_all() == 4
    assert cache.capture_all() == 0
    with pytest.raises(ValueError, match="CUDA"):
        GraphCache(fast, tiny_encoder.head, torch.device("cpu"), pad_id=0, capture=True)


# ---------------------------------------------------------------- no host synchronisation
@pytest.mark.parametrize("fixture", ["t5_v10_path", "t5_v11_path"])
@pytest.mark.parametrize("padded", [None, True, False])
def test_forward_and_head_read_no_device_value_on_the_host(fixture, padded, request, tiny_encoder):
    """On the meta device every host read of a tensor value raises: the off-CPU path has none."""
    path = request.getfixturevalue(fixture)
    model = T5EncoderModel.from_pretrained(str(path), dtype=torch.bfloat16).eval()
    fast = FastT5Forward(model).to("meta")
    head = tiny_encoder.head
    ids = torch.zeros((3, 16), dtype=torch.long, device="meta")
    mask = torch.ones((3, 16), dtype=torch.bool, device="meta")
    with torch.inference_mode():
        hidden = fast(ids, mask, padded=padded)
        assert hidden.shape == (3, 16, model.config.d_model)
        if model.config.d_model == head.pooler.d_model:
            meta_head = copy.deepcopy(head).to("meta")  # a copy: the shared encoder keeps its own
            pooled = meta_head(hidden.float(), mask)
            assert pooled.shape == (3, head.dim)
            assert pooled.device.type == "meta"
        with pytest.raises((NotImplementedError, RuntimeError)):
            bool(mask.all())  # the probe works: a host read of a meta value raises


def test_cpu_still_looks_at_the_mask(t5_v10_path):
    """Without a hint a CPU pass checks for padding (cheap there) and unpads."""
    model = T5EncoderModel.from_pretrained(str(t5_v10_path), dtype=torch.float32).eval()
    fast = FastT5Forward(model)
    _ids, mask = _batch(model.config.vocab_size, [4, 4])
    assert fast.attention_bias(mask).shape[0] == 1  # no padding: the shared bias
    assert fast.attention_bias(mask, padded=True).shape[0] == 2


# ----------------------------------------------------------------------------- fused norms
@pytest.mark.parametrize("fixture", ["t5_v10_path", "t5_v11_path"])
def test_fused_norm_in_bfloat16_tracks_float32(fixture, request):
    path = request.getfixturevalue(fixture)
    reference_model = T5EncoderModel.from_pretrained(str(path), dtype=torch.float32).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # norm scales of 1.0 (the random init) would hide the rounding order
        for name, param in reference_model.named_parameters():
            if "layer_norm" in name:
                param.copy_(0.5 + torch.rand(param.shape, generator=generator))
    model = copy.deepcopy(reference_model).to(torch.bfloat16)
    ids, mask = _batch(model.config.vocab_size, [12, 5, 20])
    fused = FastT5Forward(model)
    fused.fused_norm = True  # as on a GPU
    exact = FastT5Forward(model)
    with torch.inference_mode():
        reference = FastT5Forward(reference_model)(ids, mask)[mask]
        ours = fused(ids, mask)[mask].float()
        theirs = exact(ids, mask)[mask].float()
    for states in (ours, theirs):
        cos = torch.nn.functional.cosine_similarity(states, reference, dim=-1)
        assert cos.min().item() > 0.999, cos.min()
    assert not torch.equal(ours, theirs)  # the fused form did run


def test_fused_norm_is_exact_in_float32(t5_v11_path):
    model = T5EncoderModel.from_pretrained(str(t5_v11_path), dtype=torch.float32).eval()
    ids, mask = _batch(model.config.vocab_size, [7, 9])
    fused = FastT5Forward(model)
    fused.fused_norm = True
    with torch.inference_mode():
        torch.testing.assert_close(fused(ids, mask), FastT5Forward(model)(ids, mask))


# -------------------------------------------------------------- SDPA against transformers
@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("fixture", ["t5_v10_path", "t5_v11_path"])
def test_sdpa_attention_equals_transformers_attention(fixture, implementation, request):
    path = request.getfixturevalue(fixture)
    model = T5EncoderModel.from_pretrained(
        str(path), dtype=torch.float32, attn_implementation=implementation
    ).eval()
    ids, mask = _batch(model.config.vocab_size, [9, 3, 17, 1, 17])
    with torch.inference_mode():
        ours = FastT5Forward(model)(ids, mask, padded=True)
        theirs = model(input_ids=ids, attention_mask=mask.long()).last_hidden_state
    torch.testing.assert_close(ours[mask], theirs[mask], atol=1e-5, rtol=1e-4)


def test_bfloat16_vectors_track_sentence_transformers_float32(st5_path, texts):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(st5_path), device="cpu").encode(
        texts, convert_to_numpy=True, batch_size=4
    )
    with T5Encoder.from_pretrained(st5_path, device="cpu", dtype="bfloat16") as encoder:
        ours = encoder.encode(texts)
    assert _cosines(ours, reference).min() >= 0.999


# ------------------------------------------------------------------------ public switches
def test_cuda_graphs_are_never_used_on_cpu(st5_path, texts):
    with T5Encoder.from_pretrained(st5_path, device="cpu", dtype="float32") as encoder:
        assert encoder.config.cuda_graphs is False
        assert encoder.warmup() == 0
        encoder.encode(texts[:2], kind="query")
        assert encoder.stats().graph_replays == 0
    with pytest.raises(InvalidInputError, match="cuda_graphs: expected a CUDA device"):
        T5Encoder.from_pretrained(st5_path, device="cpu", cuda_graphs=True)
    with pytest.raises(InvalidInputError, match="cuda_graphs"):
        EncoderConfig(cuda_graphs="yes")  # type: ignore[arg-type]


def test_stats_difference_includes_graph_replays():
    assert EncoderStats(5, 9, 3) - EncoderStats(2, 4, 1) == EncoderStats(3, 5, 2)
    assert EncoderStats(1, 1).graph_replays == 0
