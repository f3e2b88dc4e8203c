"""The encoder on a CUDA GPU: graphs against the eager pass, no host synchronisation, parity.

Skipped without a GPU; ``scripts/gpu_check.sh`` runs them on one. The logic behind each path
(buckets, padding, static buffers, the meta-device sync check) is tested on CPU in
``test_gpu_paths.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from t5_vectors import InvalidInputError, T5Encoder
from t5_vectors.encoder._batching import BatchItem
from t5_vectors.encoder._forward import FastT5Forward
from t5_vectors.encoder._graphs import GRAPH_BATCHES, GRAPH_LENGTHS, GraphCache
from t5_vectors.encoder._runner import BatchRunner

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

QUERIES = [
    "what stores vectors?",
    "T5",
    "",
    "how do I batch many short queries on one accelerator without waiting long",
    "naïve café — déjà vu ✓",
]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module", params=["float32", "bfloat16"])
def encoders(request, st5_path) -> Iterator[tuple[T5Encoder, T5Encoder]]:
    """(with graphs, without graphs) on the GPU in one dtype."""
    graphs = T5Encoder.from_pretrained(st5_path, device="cuda", dtype=request.param)
    eager = T5Encoder.from_pretrained(
        st5_path, device="cuda", dtype=request.param, cuda_graphs=False
    )
    yield graphs, eager
    graphs.close()
    eager.close()


def test_graphs_are_on_by_default_on_cuda(encoders):
    graphs, eager = encoders
    assert graphs.config.cuda_graphs is True
    assert eager.config.cuda_graphs is False


def test_lone_queries_replay_graphs_and_match_the_eager_pass(encoders):
    graphs, eager = encoders
    graphs.warmup()
    before = graphs.stats()
    ours = np.concatenate([graphs.encode([q], kind="query") for q in QUERIES])
    replays = (graphs.stats() - before).graph_replays
    theirs = np.concatenate([eager.encode([q], kind="query") for q in QUERIES])
    assert replays == len(QUERIES)
    assert eager.stats().graph_replays == 0
    tight = graphs.dtype == torch.float32
    assert _cosines(ours, theirs).min() >= (0.99999 if tight else 0.999)
    if tight:
        np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_small_batches_and_tokens_through_graphs(encoders, texts):
    graphs, eager = encoders
    short = [t for t in texts if len(graphs.tokenize([t])[0]) <= max(GRAPH_LENGTHS)]
    before = graphs.stats()
    pooled, tokens = graphs.encode_with_tokens(short)
    assert (graphs.stats() - before).graph_replays >= 1
    their_pooled, their_tokens = eager.encode_with_tokens(short)
    assert _cosines(pooled, their_pooled).min() >= 0.999
    for ours, theirs in zip(tokens, their_tokens, strict=True):
        assert ours.shape == theirs.shape
        assert np.isfinite(ours).all()


def test_bulk_batches_run_eagerly(encoders, texts):
    graphs, _eager = encoders
    many = [f"{t} {i}" for i in range(8) for t in texts]  # 64 texts: past the largest bucket
    before = graphs.stats()
    graphs.encode(many)
    assert (graphs.stats() - before).graph_replays == 0


def test_warmup_captures_every_bucket_once(st5_path):
    with T5Encoder.from_pretrained(st5_path, device="cuda") as encoder:
        assert encoder.warmup() == len(GRAPH_BATCHES) * len(GRAPH_LENGTHS)
        assert encoder.warmup() == 0


def test_warmup_while_other_threads_encode(st5_path):
    with T5Encoder.from_pretrained(st5_path, device="cuda") as encoder:
        expected = encoder.encode(QUERIES, kind="query")
        results: list[np.ndarray] = []

        def worker() -> None:
            for query in QUERIES * 4:
                results.append(encoder.encode([query], kind="query")[0])

        thread = threading.Thread(target=worker)
        thread.start()
        encoder.warmup()
        thread.join()
    got = np.stack(results)
    assert _cosines(got, np.tile(expected, (4, 1))).min() >= 0.999


def test_the_forward_pass_never_synchronises(st5_path, texts):
    """``set_sync_debug_mode("error")`` raises on any host sync: none in forward or pooling."""
    with T5Encoder.from_pretrained(st5_path, device="cuda", dtype="bfloat16") as encoder:
        fast = FastT5Forward(encoder.model)
        head = encoder.head
        rows = encoder.tokenize(texts)
        pad = int(encoder.tokenizer.pad_token_id)

        def forward(ids: torch.Tensor, mask: torch.Tensor, padded: bool) -> torch.Tensor:
            return fast(ids, mask, padded=padded)  # type: ignore[no-any-return]

        cache = GraphCache(fast, head, torch.device("cuda"), pad_id=pad)
        runner = BatchRunner(forward, head, device=torch.device("cuda"), pad_id=pad, graphs=cache)
        items = [BatchItem(None, i, row, 0) for i, row in enumerate(rows)]  # type: ignore[arg-type]
        small = items[:2] if max(len(r) for r in rows[:2]) <= max(GRAPH_LENGTHS) else items[2:4]
        cache.capture_all()
        torch.cuda.synchronize()
        ids = torch.randint(3, 100, (4, 24), device="cuda")
        lengths = torch.tensor([24, 3, 9, 1], device="cuda")
        mask = torch.arange(24, device="cuda")[None, :] < lengths[:, None]
        torch.cuda.set_sync_debug_mode("error")
        try:
            with torch.inference_mode():
                hidden = fast(ids, mask)  # no hint: the mask is folded without reading it
                head(hidden, mask)
            eager = runner.launch(items, True, True)  # staging, forward, copies back
            graph = runner.launch(small, True, False)
        finally:
            torch.cuda.set_sync_debug_mode(0)
        assert eager.collect()[0] is not None
        assert graph.collect()[0] is not None


def test_cuda_float32_matches_sentence_transformers(st5_path, texts):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(st5_path), device="cuda").encode(
        texts, convert_to_numpy=True, batch_size=4
    )
    with T5Encoder.from_pretrained(st5_path, device="cuda", dtype="float32") as encoder:
        ours = encoder.encode(texts)
        queries = np.concatenate([encoder.encode([t]) for t in texts])  # through graphs
    assert _cosines(ours, reference).min() >= 0.99999
    assert _cosines(queries, reference).min() >= 0.99999
    with T5Encoder.from_pretrained(st5_path, device="cuda", dtype="bfloat16") as encoder:
        assert _cosines(encoder.encode(texts), reference).min() >= 0.999


def test_float16_has_no_graphs_and_refuses_them(st5_path):
    with T5Encoder.from_pretrained(st5_path, device="cuda", dtype="float16") as encoder:
        assert encoder.config.cuda_graphs is False
    with pytest.raises(InvalidInputError, match="cuda_graphs"):
        T5Encoder.from_pretrained(st5_path, device="cuda", dtype="float16", cuda_graphs=True)
