"""Small batches as replayed CUDA graphs: one captured forward pass per (rows, tokens) bucket.

A single query through T5-base is a few hundred small kernels; on a GPU their launches, not
their arithmetic, set its latency. :class:`GraphCache` captures the whole pass (the fused
forward of :mod:`t5_vectors.encoder._forward` and the pooling head) once per bucket as a
``torch.cuda.CUDAGraph`` and replays it: one launch instead of hundreds.

* **Buckets**: rows in :data:`GRAPH_BATCHES`, tokens in :data:`GRAPH_LENGTHS`. A batch takes
  the smallest bucket that holds it (:func:`choose_bucket`); one that fits none (bulk
  batches) runs eagerly. A lone query of 11 tokens runs as a (1, 16) graph.
* **Padding**: the batch is staged straight into the bucket's shape (``stage_batch(...,
  shape=)``): extra columns are padding that the attention mask hides, so a text's vector is
  the same as unpadded (to rounding); extra rows are filler texts of one pad token whose
  results are dropped.
* **Static buffers**: each bucket keeps device tensors for ids, mask and pooling mask; a run
  copies the staged batch into them (asynchronously, on the runner's stream) and replays.
  Outputs are the graph's own tensors, valid until the next replay of any bucket; the runner
  copies them back to the host right after, on the same stream, so stream order keeps them
  intact.
* **When**: captured lazily (the first batch of a bucket pays for its capture, tens of
  milliseconds) or all at once by :meth:`GraphCache.capture_all` (``T5Encoder.warmup()``).
  Never on CPU: there the same static-buffer pass runs eagerly (``capture=False``), which is
  how the tests check this module's padding and plumbing without a GPU.
* **Memory**: all buckets share one graph memory pool. That is safe here because replays are
  serialised on one stream, and each replay's outputs are copied out before the next replay;
  the captured outputs stay referenced, so no later capture can take their memory.
* **Weights**: a graph reads the weights where they were at capture. Training the head in place
  (optimizer steps, ``load_state_dict``) is seen; replacing a head module or tensor, or
  switching ``normalize``, is noticed on the next run and drops the graphs for recapture.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from t5_vectors._checks import ensured
from t5_vectors.encoder._forward import FastT5Forward
from t5_vectors.encoder.pooling import EmbeddingHead

#: Rows of the captured buckets (a lone query, then bursts coalesced by the micro-batcher).
GRAPH_BATCHES: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
#: Tokens of the captured buckets (queries are short; longer batches run eagerly).
GRAPH_LENGTHS: tuple[int, ...] = (16, 32, 64, 128)

Shape = tuple[int, int]


def choose_bucket(
    rows: int,
    longest: int,
    *,
    batches: Sequence[int] = GRAPH_BATCHES,
    lengths: Sequence[int] = GRAPH_LENGTHS,
) -> Shape | None:
    """The smallest ``(rows, tokens)`` bucket that holds *rows* texts of up to *longest*
    tokens, or ``None`` when none does."""
    if rows < 1 or longest < 1:
        return None
    fit_rows = [size for size in batches if size >= rows]
    fit_tokens = [size for size in lengths if size >= longest]
    if not fit_rows or not fit_tokens:
        return None
    return min(fit_rows), min(fit_tokens)


@dataclass(eq=False)
class StaticPass:
    """One bucket's forward pass over static device buffers (a CUDA graph, or eager on CPU)."""

    ids: torch.Tensor
    mask: torch.Tensor
    pool_mask: torch.Tensor
    body: Callable[[], tuple[torch.Tensor, torch.Tensor]]
    graph: Any = None  # torch.cuda.CUDAGraph once captured
    hidden: torch.Tensor | None = None
    pooled: torch.Tensor | None = None
    keep: list[torch.Tensor] = field(default_factory=list)  # what the graph reads besides inputs

    @property
    def shape(self) -> Shape:
        rows, tokens = self.ids.shape
        return int(rows), int(tokens)

    def run(
        self, ids: torch.Tensor, mask: torch.Tensor, pool_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Copy a staged batch of exactly this shape in, run, return ``(hidden, pooled)``."""
        if tuple(ids.shape) != self.shape:
            raise ValueError(f"expected a batch staged as {self.shape}, found {tuple(ids.shape)}")
        self.ids.copy_(ids, non_blocking=True)
        self.mask.copy_(mask, non_blocking=True)
        self.pool_mask.copy_(pool_mask, non_blocking=True)
        if self.graph is not None:
            self.graph.replay()
        else:  # eager, into the same output buffers every run, as a replayed graph writes
            hidden, pooled = self.body()
            if self.hidden is None or self.pooled is None:
                self.hidden, self.pooled = hidden, pooled
            else:
                self.hidden.copy_(hidden)
                self.pooled.copy_(pooled)
        return ensured(self.hidden, "the graph's output"), ensured(self.pooled, "its pooled output")


class GraphCache:
    """Captured forward passes per bucket (see the module docstring).

    Args:
        forward: the encoder's fused forward pass.
        head: its pooling head.
        device: where both run (CUDA to capture).
        pad_id: the tokenizer's padding id (filler rows and columns).
        capture: capture CUDA graphs (``False``: run the static buffers eagerly; for tests).
        batches: bucket rows.
        lengths: bucket tokens.
    """

    def __init__(
        self,
        forward: FastT5Forward,
        head: EmbeddingHead,
        device: torch.device,
        *,
        pad_id: int,
        capture: bool = True,
        batches: Sequence[int] = GRAPH_BATCHES,
        lengths: Sequence[int] = GRAPH_LENGTHS,
    ) -> None:
        if capture and device.type != "cuda":
            raise ValueError(f"CUDA graphs need a CUDA device, found {device}")
        self.forward = forward
        self.head = head
        self.device = device
        self.pad_id = pad_id
        self.capture = capture
        self.batches = tuple(sorted(batches))
        self.lengths = tuple(sorted(lengths))
        #: Held while a pass is captured or replayed (the worker and ``warmup()`` share it).
        self.lock = threading.RLock()
        self._passes: dict[Shape, StaticPass] = {}
        self._weights_key: tuple[object, ...] = ()
        self._pool: Any = torch.cuda.graph_pool_handle() if capture else None
        self._stream: Any = torch.cuda.Stream(device) if capture else None  # type: ignore[no-untyped-call]
        #: Batches run through a static pass so far (only grows).
        self.replays = 0

    @property
    def shapes(self) -> list[Shape]:
        """Every bucket, smallest first."""
        return [(rows, tokens) for rows in self.batches for tokens in self.lengths]

    @property
    def ready(self) -> int:
        """How many buckets have a pass (captured, on CUDA) right now."""
        return len(self._passes)

    def bucket(self, rows: int, longest: int) -> Shape | None:
        """The bucket for a batch of *rows* texts of up to *longest* tokens (``None``: eager)."""
        return choose_bucket(rows, longest, batches=self.batches, lengths=self.lengths)

    def run(
        self, shape: Shape, ids: torch.Tensor, mask: torch.Tensor, pool_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run a batch staged as *shape* (host or device tensors); ``(hidden, pooled)``.

        Call on the stream the results are read on; the outputs stay valid until the next
        run of any bucket.
        """
        with self.lock, torch.inference_mode():
            static = self._get(shape)
            self.replays += 1
            return static.run(ids, mask, pool_mask)

    def capture_all(self) -> int:
        """Prepare every bucket now; returns how many were new."""
        with self.lock, torch.inference_mode():
            before = self.ready
            for shape in self.shapes:
                self._get(shape)
            return self.ready - before

    # ------------------------------------------------------------------------------ internals
    def _current_key(self) -> tuple[object, ...]:
        """What a capture depends on besides its inputs: head tensors and switches."""
        tensors = tuple(
            (name, t.data_ptr(), tuple(t.shape), t.dtype)
            for name, t in self.head.state_dict(keep_vars=True).items()
        )
        return (self.head.normalize, self.forward.fused_norm, tensors)

    def _get(self, shape: Shape) -> StaticPass:
        key = self._current_key()
        if key != self._weights_key:
            if self.capture and self._passes:
                torch.cuda.synchronize(self.device)  # no replay may still run on what is freed
            self._passes.clear()  # the head changed under the graphs: capture again
            self._weights_key = key
        static = self._passes.get(shape)
        if static is None:
            static = self._build(shape)
            self._passes[shape] = static
        return static

    def _build(self, shape: Shape) -> StaticPass:
        rows, tokens = shape
        device = self.device
        ids = torch.full((rows, tokens), self.pad_id, dtype=torch.long, device=device)
        mask = torch.zeros((rows, tokens), dtype=torch.bool, device=device)
        mask[:, 0] = True  # filler rows are one-token texts: every row has a real token
        pool_mask = mask.clone()
        forward, head = self.forward, self.head

        def body() -> tuple[torch.Tensor, torch.Tensor]:
            hidden = forward(ids, mask, padded=True)
            return hidden, head(hidden, pool_mask)

        static = StaticPass(ids, mask, pool_mask, body)
        # The position bias is cached by the forward pass; the graph reads it where it is.
        static.keep.append(forward.position_bias(tokens, device))
        if not self.capture:
            return static
        stream = self._stream
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            for _ in range(2):  # warm-up: cuBLAS workspaces and kernel choices for this stream
                body()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(
            graph, pool=self._pool, stream=stream, capture_error_mode="thread_local"
        ):
            static.hidden, static.pooled = body()
        torch.cuda.current_stream(device).wait_stream(stream)
        static.graph = graph
        return static
