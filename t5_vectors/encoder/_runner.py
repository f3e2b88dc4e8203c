"""One forward pass over a batch of tokenized texts, split into launch and collect.

:class:`BatchRunner` turns a micro-batch (:class:`~t5_vectors.encoder._batching.BatchItem` rows)
into pooled vectors and/or token vectors. It works in two halves so that the micro-batcher can
overlap them:

* :meth:`BatchRunner.launch` stages the batch on the host (padded ids and mask built in numpy;
  in pinned memory when the model is on CUDA), copies it to the device without blocking, queues
  the forward pass and the pooling head, and queues the copy of the results back into pinned
  host buffers, recording a CUDA event after it. On CUDA it returns as soon as the work is
  queued; on CPU the work is done when it returns.
* The returned :class:`Launched` handle's :meth:`~Launched.collect` waits for the event (nothing
  to wait for on CPU) and hands out numpy arrays.

While the device runs batch *n*, the worker thread stages and queues batch *n + 1*; the host work
(padding, Python, tokenizing the next chunk in another thread) hides behind the device's. That
holds because nothing between staging and the event waits for the device: the forward pass is
told on the host whether the batch has padding (``padded``), and pooling reads no device value
on the host.

With a :class:`~t5_vectors.encoder._graphs.GraphCache` (CUDA, small batches), a batch that fits
a bucket is staged straight into the bucket's shape and replayed as a CUDA graph; larger
batches run eagerly as above.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import numpy as np
import torch

from t5_vectors._checks import ensured
from t5_vectors.encoder._batching import BatchItem, BatchOutput
from t5_vectors.encoder._graphs import GraphCache
from t5_vectors.encoder.pooling import EmbeddingHead

#: ``(input_ids, bool mask, padded) -> last_hidden_state``; *padded*: any position masked.
Forward = Callable[[torch.Tensor, torch.Tensor, bool], torch.Tensor]


def stage_batch(
    rows: Sequence[Sequence[int]],
    *,
    pad_id: int,
    multiple: int = 1,
    pin: bool = False,
    shape: tuple[int, int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded ``(ids, mask)`` host tensors for *rows* (right-padded with *pad_id*).

    The width is the longest row rounded up to *multiple*; *pin* puts both tensors in
    page-locked memory (CUDA only) so they can be copied to the device asynchronously.
    *shape* ``(batch, width)`` stages into a CUDA-graph bucket instead: the width is the
    bucket's, and rows past ``len(rows)`` are filler texts of one pad token (mask ``True`` at
    position 0 only), so every row has a real token.
    """
    longest = max(len(row) for row in rows)
    if shape is None:
        width = -(-longest // multiple) * multiple
        count = len(rows)
    else:
        count, width = shape
        if count < len(rows) or width < longest:
            raise ValueError(
                f"stage_batch: {len(rows)} rows of up to {longest} tokens do not fit {shape}"
            )
    ids = np.full((count, width), pad_id, dtype=np.int64)
    lengths = np.ones(count, dtype=np.int64)
    lengths[: len(rows)] = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
    for index, row in enumerate(rows):
        ids[index, : len(row)] = row
    mask = np.arange(width)[None, :] < lengths[:, None]
    ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
    if pin:
        ids_t, mask_t = ids_t.pin_memory(), mask_t.pin_memory()
    return ids_t, mask_t


@dataclass
class Launched:
    """A queued forward pass; :meth:`collect` waits for it and returns host arrays."""

    pooled: torch.Tensor | None
    hidden: torch.Tensor | None
    lengths: list[int]
    event: Any = None  # a torch.cuda.Event recorded after the copies back, or None

    def collect(self) -> BatchOutput:
        """Wait for the device (CUDA) and return ``(pooled rows, token arrays)``."""
        if self.event is not None:
            self.event.synchronize()
        pooled = self.pooled.numpy() if self.pooled is not None else None
        tokens = None
        if self.hidden is not None:
            host = self.hidden.numpy()
            tokens = [host[row, :length].copy() for row, length in enumerate(self.lengths)]
        return pooled, tokens


@dataclass(eq=False)
class BatchRunner:
    """Runs forward passes for a micro-batcher (see the module docstring).

    Args:
        forward: ``(input_ids, bool mask, padded) -> last_hidden_state`` (see :data:`Forward`).
        head: the pooling head (runs in float32).
        device: where *forward* runs.
        pad_id: the tokenizer's padding id.
        graphs: replayed passes for small batches (CUDA graphs), or ``None``.
    """

    forward: Forward
    head: EmbeddingHead
    _: KW_ONLY
    device: torch.device
    pad_id: int
    graphs: GraphCache | None = None
    cuda: bool = field(init=False)
    multiple: int = field(init=False)
    _stream: Any = field(init=False)

    def __post_init__(self) -> None:
        self.cuda = self.device.type == "cuda"
        # Widths rounded to 8 on GPUs (tensor-core tiles); exact widths on CPU.
        self.multiple = 8 if self.cuda else 1
        self._stream = torch.cuda.Stream(self.device) if self.cuda else None  # type: ignore[no-untyped-call]

    def run(self, batch: list[BatchItem], need_pooled: bool, need_tokens: bool) -> BatchOutput:
        """Launch and collect one batch (the synchronous form)."""
        return self.launch(batch, need_pooled, need_tokens).collect()

    def launch(self, batch: list[BatchItem], need_pooled: bool, need_tokens: bool) -> Launched:
        """Stage *batch*, queue its forward pass and the copies back; see the module docstring."""
        rows = [item.ids for item in batch]
        lengths = [len(row) for row in rows]
        shape = self.graphs.bucket(len(rows), max(lengths)) if self.graphs is not None else None
        ids, mask = stage_batch(
            rows, pad_id=self.pad_id, multiple=self.multiple, pin=self.cuda, shape=shape
        )
        pool_mask = _pool_mask(mask, batch)
        if self.cuda and pool_mask is not mask:
            pool_mask = pool_mask.pin_memory()  # a copy from pageable memory would synchronise
        stream = torch.cuda.stream(self._stream) if self.cuda else contextlib.nullcontext()
        hidden: torch.Tensor
        pooled: torch.Tensor | None
        with torch.inference_mode(), stream:
            if shape is not None:
                graphs = ensured(self.graphs, "the captured CUDA graphs")
                hidden, pooled = graphs.run(shape, ids, mask, pool_mask)
            else:
                ids_d, mask_d = self._to_device(ids), self._to_device(mask)
                pool_mask_d = mask_d if pool_mask is mask else self._to_device(pool_mask)
                hidden = self.forward(ids_d, mask_d, min(lengths) < ids.shape[1])
                pooled = self.head(hidden, pool_mask_d) if need_pooled else None
            count = len(batch)
            pooled_host = (
                self._to_host(pooled[:count]) if need_pooled and pooled is not None else None
            )
            hidden_host = self._to_host(hidden[:count]) if need_tokens else None
            event = None
            if self.cuda:
                event = torch.cuda.Event()  # type: ignore[no-untyped-call]
                event.record(self._stream)
        return Launched(pooled_host, hidden_host, lengths, event)

    def _to_device(self, host: torch.Tensor) -> torch.Tensor:
        """A staged host tensor on the device (asynchronous from pinned memory on CUDA)."""
        if not self.cuda:
            return host.to(self.device)
        return host.to(self.device, non_blocking=True)

    def _to_host(self, values: torch.Tensor) -> torch.Tensor:
        """A float32 host copy of *values* (queued into pinned memory on CUDA).

        Always a copy: *values* may be a CUDA graph's (or a static pass's) output buffer,
        which the next batch overwrites.
        """
        if not self.cuda:
            return values.to(device="cpu", dtype=torch.float32, copy=True)
        values = values.float()
        host = torch.empty(values.shape, dtype=torch.float32, pin_memory=True)
        host.copy_(values, non_blocking=True)
        return host


def _pool_mask(mask: torch.Tensor, batch: list[BatchItem]) -> torch.Tensor:
    """*mask* without each row's first ``pool_start`` positions (prefix tokens left out)."""
    if not any(item.pool_start for item in batch):
        return mask
    pool_mask = mask.clone()
    for row, item in enumerate(batch):
        pool_mask[row, : item.pool_start] = False
    return pool_mask
