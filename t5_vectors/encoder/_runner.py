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
(padding, Python, tokenizing the next chunk in another thread) hides behind the device's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from t5_vectors.encoder._batching import BatchItem, BatchOutput
from t5_vectors.encoder.pooling import EmbeddingHead

__all__ = ["BatchRunner", "Launched", "stage_batch"]

Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def stage_batch(
    rows: Sequence[Sequence[int]], *, pad_id: int, multiple: int = 1, pin: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded ``(ids, mask)`` host tensors for *rows* (right-padded with *pad_id*).

    The width is the longest row rounded up to *multiple*; *pin* puts both tensors in
    page-locked memory (CUDA only) so they can be copied to the device asynchronously.
    """
    longest = max(len(row) for row in rows)
    width = -(-longest // multiple) * multiple
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
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


class BatchRunner:
    """Runs forward passes for a micro-batcher (see the module docstring).

    Args:
        forward: ``(input_ids, bool mask) -> last_hidden_state``.
        head: the pooling head (runs in float32).
        device: where *forward* runs.
        pad_id: the tokenizer's padding id.
    """

    def __init__(
        self, forward: Forward, head: EmbeddingHead, *, device: torch.device, pad_id: int
    ) -> None:
        self.forward = forward
        self.head = head
        self.device = device
        self.pad_id = pad_id
        self.cuda = device.type == "cuda"
        # Widths rounded to 8 on GPUs (tensor-core tiles); exact widths on CPU.
        self.multiple = 8 if self.cuda else 1
        self._stream: Any = torch.cuda.Stream(device) if self.cuda else None  # type: ignore[no-untyped-call]

    def run(self, batch: list[BatchItem], need_pooled: bool, need_tokens: bool) -> BatchOutput:
        """Launch and collect one batch (the synchronous form)."""
        return self.launch(batch, need_pooled, need_tokens).collect()

    def launch(self, batch: list[BatchItem], need_pooled: bool, need_tokens: bool) -> Launched:
        """Stage *batch*, queue its forward pass and the copies back; see the module docstring."""
        ids, mask = stage_batch(
            [item.ids for item in batch], pad_id=self.pad_id, multiple=self.multiple, pin=self.cuda
        )
        lengths = [len(item.ids) for item in batch]
        if not self.cuda:
            with torch.inference_mode():
                hidden = self.forward(ids.to(self.device), mask.to(self.device))
                pooled = None
                if need_pooled:
                    pooled = self.head(hidden, _pool_mask(mask, batch)).float().cpu()
                tokens = hidden.float().cpu() if need_tokens else None
            return Launched(pooled, tokens, lengths)
        with torch.inference_mode(), torch.cuda.stream(self._stream):
            ids_d = ids.to(self.device, non_blocking=True)
            mask_d = mask.to(self.device, non_blocking=True)
            pool_mask = _pool_mask(mask, batch)
            pool_mask_d = (
                mask_d
                if pool_mask is mask
                else pool_mask.pin_memory().to(self.device, non_blocking=True)
            )
            hidden = self.forward(ids_d, mask_d)
            pooled_host = None
            if need_pooled:
                pooled = self.head(hidden, pool_mask_d).float()
                pooled_host = torch.empty(pooled.shape, dtype=torch.float32, pin_memory=True)
                pooled_host.copy_(pooled, non_blocking=True)
            hidden_host = None
            if need_tokens:
                hidden_f = hidden.float()
                hidden_host = torch.empty(hidden_f.shape, dtype=torch.float32, pin_memory=True)
                hidden_host.copy_(hidden_f, non_blocking=True)
            event = torch.cuda.Event()  # type: ignore[no-untyped-call]
            event.record(self._stream)
        return Launched(pooled_host, hidden_host, lengths, event)


def _pool_mask(mask: torch.Tensor, batch: list[BatchItem]) -> torch.Tensor:
    """*mask* without each row's first ``pool_start`` positions (prefix tokens left out)."""
    if not any(item.pool_start for item in batch):
        return mask
    pool_mask = mask.clone()
    for row, item in enumerate(batch):
        pool_mask[row, : item.pool_start] = False
    return pool_mask
