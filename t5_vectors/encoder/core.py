"""`T5Encoder`: one shared, thread-safe T5 encoder for pooled and token-level embeddings."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import warnings
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from t5_vectors.encoder._batching import MicroBatcher
from t5_vectors.encoder._checkpoint import (
    CheckpointSpec,
    read_checkpoint,
    resolve_checkpoint,
    write_own_checkpoint,
)
from t5_vectors.encoder._digest import checkpoint_digest
from t5_vectors.encoder._forward import FastT5Forward, install_fast_forward
from t5_vectors.encoder._graphs import GraphCache
from t5_vectors.encoder._int8 import CALIBRATION_TEXTS, Int8Choice, int8_supported
from t5_vectors.encoder._loading import (
    build_head,
    compute_dtype,
    default_budget,
    load_model,
    load_tokenizer,
    tokenizer_limit,
)
from t5_vectors.encoder._runner import BatchRunner, Forward, stage_batch
from t5_vectors.encoder._streaming import StreamedCall
from t5_vectors.encoder.config import EncoderConfig, EncoderStats, TruncationWarning
from t5_vectors.encoder.pooling import EmbeddingHead
from t5_vectors.encoder.precision import resolve_device, resolve_dtype
from t5_vectors.encoder.texts import check_texts
from t5_vectors.encoder.tokenize import TextTokenizer
from t5_vectors.errors import InvalidInputError

logger = logging.getLogger("t5_vectors")

Kind = Literal["document", "query"]
_KINDS = ("document", "query")


class T5Encoder:
    """A T5 encoder that serves pooled sentence vectors and contextual token vectors.

    One instance is meant to serve a whole process: it is thread-safe, and concurrent calls from
    threads and asyncio tasks are coalesced into shared forward passes by a micro-batcher. Texts
    are length-sorted and cut into batches under a padded-token budget; a text's vector does not
    depend on what it was batched with. On CUDA, small batches (single queries, bursts of up to
    32) replay captured CUDA graphs (``cuda_graphs``; :meth:`warmup` captures them up front).

    Setup:
        .. code-block:: bash

            pip install torch  # first, with a GPU: the CUDA build for it (CPU: torch==2.13.0)
            pip install t5-vectors

    Instantiate:
        .. code-block:: python

            from t5_vectors import T5Encoder

            encoder = T5Encoder.from_pretrained("sentence-transformers/sentence-t5-base")

    Encode:
        .. code-block:: python

            vectors = encoder.encode(["Qdrant stores vectors.", "T5 reads text."])  # (2, 768)
            query = encoder.encode(["what stores vectors?"], kind="query")
            tokens = encoder.encode_tokens(["contextual token vectors"])  # [(n_tokens, d_model)]
            vectors = await encoder.aencode(["from async code"])
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        head: EmbeddingHead,
        config: EncoderConfig,
        *,
        name_or_path: str = "",
        spec: CheckpointSpec | None = None,
        int8: bool = False,
        checkpoint_digest: str | None = None,
    ) -> None:
        """Wrap a loaded model; :meth:`from_pretrained` is the usual way in.

        Args:
            model: a ``T5EncoderModel`` / ``MT5EncoderModel`` on its device.
            tokenizer: its tokenizer.
            head: pooling, Dense layers and normalisation.
            config: encoder settings.
            name_or_path: where the checkpoint came from (part of :attr:`fingerprint` when
                no *checkpoint_digest* is given).
            spec: what was read from the checkpoint folder.
            int8: quantize the projections to int8 (CPU, float32 weights only), layer by layer
                as measured on built-in calibration texts (:attr:`int8_choices`).
            checkpoint_digest: the checkpoint's identity by content
                (:func:`~t5_vectors.encoder._digest.checkpoint_digest`), so that a copy of the
                checkpoint in another folder has the same :attr:`fingerprint`.
        """
        self._model: Any = model.eval()
        self._head = head.eval()
        self.tokenizer = tokenizer
        self.config = config
        self.name_or_path = name_or_path
        self.spec = spec
        self.checkpoint_digest = checkpoint_digest
        param = next(model.parameters())
        self.device: torch.device = param.device
        self.dtype: torch.dtype = compute_dtype(model)
        fast = install_fast_forward(self._model)
        self._text_tokenizer = TextTokenizer(tokenizer, max_length=config.max_length)
        self._pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
        self._int8_choices: tuple[Int8Choice, ...] = ()
        if int8:
            if fast is None or self.device.type != "cpu" or self.dtype != torch.float32:
                raise InvalidInputError(
                    "int8: expected a T5 encoder with float32 weights on CPU, found "
                    f"{type(model).__name__} in {self.dtype} on {self.device}. Load it with "
                    "T5Encoder.from_pretrained(path, device='cpu', dtype='int8')."
                )
            if not int8_supported():
                raise InvalidInputError(
                    "dtype: 'int8' runs on PyTorch's x86 (FBGEMM) quantized kernels, found a "
                    f"torch build without them (engines: "
                    f"{', '.join(torch.backends.quantized.supported_engines)}). Use "
                    "dtype='float32' (or 'bfloat16') on this machine."
                )
            ids, _ = self._text_tokenizer.encode(list(CALIBRATION_TEXTS))
            input_ids, mask = stage_batch(ids, pad_id=self._pad_id)
            self._int8_choices = fast.quantize_int8(input_ids, mask)
            self.dtype = torch.qint8
        graphs = self._graph_cache(fast)
        forward = _forward_function(self._model, fast)
        self._prefix_lengths = {
            kind: self._text_tokenizer.prefix_length(self._prefix(kind)) for kind in _KINDS
        }
        self._warn_lock = threading.Lock()
        self._warned_truncation = False
        # The worker thread holds the runner (model and head), never the encoder, so an encoder
        # that is dropped without close() is still garbage-collected, and its worker stops.
        runner = BatchRunner(forward, head, device=self.device, pad_id=self._pad_id, graphs=graphs)
        self._graphs = graphs
        self._batcher = MicroBatcher(
            runner.run,
            dim=head.dim,
            token_budget=config.token_budget,
            max_batch_size=config.max_batch_size,
            max_wait=config.max_wait_ms / 1000.0,
            launch=runner.launch if runner.cuda else None,
        )
        weakref.finalize(self, self._batcher.close)

    def _graph_cache(self, fast: FastT5Forward | None) -> GraphCache | None:
        """The CUDA-graph buckets when ``config.cuda_graphs`` asks for them (CUDA only)."""
        if not self.config.cuda_graphs:
            return None
        if self.device.type != "cuda" or fast is None or fast.quantized:
            raise InvalidInputError(
                "cuda_graphs: expected a CUDA device and a T5 encoder in float32 or bfloat16, "
                f"found {type(self._model).__name__} in {self.dtype} on {self.device}. Pass "
                "cuda_graphs=False, or leave it unset to use graphs wherever they apply."
            )
        return GraphCache(fast, self._head, self.device, pad_id=self._pad_id)

    # --------------------------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str],
        *,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "auto",
        pooling: str | Sequence[str] | None = None,
        normalize: bool | None = None,
        max_length: int | None = None,
        query_prefix: str | None = None,
        document_prefix: str | None = None,
        local_files_only: bool | None = None,
        token_budget: int | None = None,
        max_batch_size: int | None = None,
        max_wait_ms: float | None = None,
        tokenize_chunk: int | None = None,
        cuda_graphs: bool | None = None,
        revision: str | None = None,
        token: str | bool | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> T5Encoder:
        """Load the encoder of a T5 checkpoint (hub id or local folder).

        Args:
            name_or_path: a hub id (``"sentence-transformers/sentence-t5-base"``,
                ``"google/t5-v1_1-base"``) or a local folder.
            device: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
            dtype: ``"auto"`` (bfloat16 where the hardware has native bf16 matmul, else
                float32), ``"float32"``, ``"bfloat16"``, ``"float16"`` (``wo`` stays float32)
                or ``"int8"`` (CPU only: int8 weights per output channel and int8 activations
                per token, each projection kept in float32 where calibration measured too
                large an error; never chosen by ``"auto"``). Measure what a dtype costs in
                accuracy on your own texts with :func:`~t5_vectors.compare_dtypes`.
            pooling: pooling mode(s); ``None`` takes the checkpoint's (mean for raw T5).
            normalize: L2-normalise vectors; ``None`` takes the checkpoint's (``Normalize``).
            max_length: token limit; ``None`` takes ``max_seq_length`` or the tokenizer's limit.
            query_prefix: prepended to queries; ``None`` takes the checkpoint's ``query`` prompt.
            document_prefix: prepended to documents; ``None`` takes its ``document`` prompt.
            local_files_only: never touch the network; ``None`` follows ``HF_HUB_OFFLINE``.
            token_budget: most padded tokens per forward pass (default 1024 CPU, 65536 GPU).
            max_batch_size: most texts per forward pass (default 64 CPU, 1024 GPU).
            max_wait_ms: while callers arrive concurrently, how long to wait for more of them
                before a forward pass (default 10 CPU, 2 GPU; a lone caller never waits, and
                no wait is longer than forward passes have been taking).
            tokenize_chunk: calls with more texts are tokenized in chunks of this many by a
                background thread while the first chunks are encoded (default 4096).
            cuda_graphs: replay small batches (up to 32 texts of up to 128 tokens) as CUDA
                graphs, captured per bucket on first use or by :meth:`warmup`; ``None``
                (default) uses them on CUDA for float32 and bfloat16, never on CPU. ``True``
                elsewhere raises ``InvalidInputError``.
            revision: hub revision (branch, tag or commit).
            token: hub token for private repos (never logged).
            cache_dir: hub cache folder.
        """
        torch_device = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, torch_device)
        root = resolve_checkpoint(
            name_or_path,
            local_files_only=local_files_only,
            revision=revision,
            token=token,
            cache_dir=cache_dir,
        )
        spec = read_checkpoint(root)
        tokenizer = load_tokenizer(spec)
        model = load_model(spec, torch_dtype, torch_device)
        head = build_head(spec, pooling).to(torch_device)
        budget, batch_size, wait_ms = default_budget(torch_device)
        config = EncoderConfig(
            pooling=head.pooler.modes,
            normalize=spec.normalize if normalize is None else normalize,
            max_length=(
                max_length
                if max_length is not None
                else spec.max_length or tokenizer_limit(tokenizer)
            ),
            query_prefix=spec.prompts.get("query", "") if query_prefix is None else query_prefix,
            document_prefix=(
                spec.prompts.get("document", "") if document_prefix is None else document_prefix
            ),
            pool_prefix=spec.pool_prefix,
            lowercase=spec.lowercase,
            token_budget=budget if token_budget is None else token_budget,
            max_batch_size=batch_size if max_batch_size is None else max_batch_size,
            max_wait_ms=wait_ms if max_wait_ms is None else max_wait_ms,
            tokenize_chunk=4096 if tokenize_chunk is None else tokenize_chunk,
            cuda_graphs=(
                torch_device.type == "cuda" and torch_dtype in (torch.float32, torch.bfloat16)
                if cuda_graphs is None
                else cuda_graphs
            ),
        )
        head.normalize = config.normalize
        encoder = cls(
            model,
            tokenizer,
            head,
            config,
            name_or_path=os.fspath(name_or_path),
            spec=spec,
            int8=torch_dtype == torch.qint8,
            checkpoint_digest=checkpoint_digest(root),
        )
        logger.info(
            "Loaded %s (%s layout) on %s in %s: dim=%d, pooling=%s, normalize=%s, max_length=%d",
            encoder.name_or_path,
            spec.layout,
            torch_device,
            torch_dtype,
            encoder.dim,
            "+".join(config.pooling),
            config.normalize,
            config.max_length,
        )
        return encoder

    # ------------------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        """Size of the pooled sentence vector."""
        return self._head.dim

    @property
    def d_model(self) -> int:
        """Size of the contextual token vectors (``encode_tokens``)."""
        return int(self._model.config.d_model)

    @property
    def max_length(self) -> int:
        return self.config.max_length

    @property
    def fingerprint(self) -> str:
        """Identifies the checkpoint and every setting that changes document vectors.

        Stores that keep content hashes (``QdrantIndex``) mix it in, so documents embedded with
        other settings are re-encoded. The checkpoint is named by its content
        (``sha256:...``, :attr:`checkpoint_digest`) when it was loaded from a folder or the hub,
        so the same checkpoint copied to another folder, or from the hub and from a saved
        folder, has the same fingerprint (an encoder built from a model object in memory is
        named by its ``name_or_path``). Precision (dtype, device) is left out on purpose: it
        moves vectors only within rounding. A head with weights (attention pooling, Dense) adds
        a digest of them, so training or replacing them changes the fingerprint.
        """
        config = self.config
        identity = (
            f"sha256:{self.checkpoint_digest[:32]}" if self.checkpoint_digest else self.name_or_path
        )
        parts = [
            "t5",
            identity,
            str(self.dim),
            "+".join(config.pooling),
            str(config.normalize),
            str(config.max_length),
            config.document_prefix,
            str(config.pool_prefix),
            str(config.lowercase),
        ]
        digest = self._head.weights_digest()
        if digest:
            parts.append(f"head={digest}")
        return "|".join(parts)

    @property
    def model(self) -> Any:
        """The underlying ``T5EncoderModel`` (read it; do not run it from other threads).

        Its ``forward`` runs the encoder's fast path (:mod:`t5_vectors.encoder._forward`), which
        keeps fused copies of the attention and gated input weights: changing the model's
        weights in place after loading does not reach them. The encoder's forward passes call
        it, except those replayed as CUDA graphs (small batches on CUDA), which run what was
        captured.
        """
        return self._model

    @property
    def int8_choices(self) -> tuple[Int8Choice, ...]:
        """With ``dtype="int8"``: per projection (``layer``, ``name``: qkv, o, wi, wo), whether
        it runs in ``int8`` or was kept in float32 because its measured ``error`` on the
        calibration texts was too large, and whether its input was ``smoothed``; empty for the
        other dtypes."""
        return self._int8_choices

    @property
    def head(self) -> EmbeddingHead:
        """Pooling (trainable when ``attention``), Dense layers and normalisation."""
        return self._head

    def __repr__(self) -> str:
        return (
            f"T5Encoder({self.name_or_path!r}, dim={self.dim}, device={str(self.device)!r}, "
            f"dtype={str(self.dtype).removeprefix('torch.')!r}, "
            f"pooling={'+'.join(self.config.pooling)!r}, normalize={self.config.normalize})"
        )

    # -------------------------------------------------------------------------------- encoding
    def encode(
        self, texts: Sequence[str], *, kind: Kind = "document", show_progress: bool = False
    ) -> np.ndarray:
        """Embed *texts* into a float32 array of shape ``(len(texts), dim)``.

        Texts follow :mod:`t5_vectors.encoder.texts`: empty and whitespace-only texts are
        embedded; ``None``, ``bytes`` and lone surrogates raise ``InvalidInputError`` before
        anything is encoded; a text over ``max_length`` tokens is truncated with one
        ``TruncationWarning`` per encoder.
        """
        return self._submit(texts, kind, "pooled", show_progress).result()  # type: ignore[no-any-return]

    async def aencode(self, texts: Sequence[str], *, kind: Kind = "document") -> np.ndarray:
        """Async :meth:`encode`: awaits the shared worker, no thread per call."""
        return await asyncio.wrap_future(self._submit(texts, kind, "pooled", False))

    def encode_tokens(self, texts: Sequence[str], *, kind: Kind = "document") -> list[np.ndarray]:
        """Contextual token embeddings: one float32 ``(n_tokens_i, d_model)`` array per text.

        Rows are T5's ``last_hidden_state`` for the text's tokens (``</s>`` included, prefix
        included), without padding rows.
        """
        return self._submit(texts, kind, "tokens", False).result()  # type: ignore[no-any-return]

    async def aencode_tokens(
        self, texts: Sequence[str], *, kind: Kind = "document"
    ) -> list[np.ndarray]:
        """Async :meth:`encode_tokens`."""
        return await asyncio.wrap_future(self._submit(texts, kind, "tokens", False))

    def encode_with_tokens(
        self, texts: Sequence[str], *, kind: Kind = "document"
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """:meth:`encode` and :meth:`encode_tokens` of *texts* from one forward pass."""
        return self._submit(texts, kind, "both", False).result()  # type: ignore[no-any-return]

    async def aencode_with_tokens(
        self, texts: Sequence[str], *, kind: Kind = "document"
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Async :meth:`encode_with_tokens`."""
        return await asyncio.wrap_future(self._submit(texts, kind, "both", False))

    def tokenize(self, texts: Sequence[str], *, kind: Kind = "document") -> list[list[int]]:
        """Token ids exactly as the encoder feeds them (prefix, truncation, ``</s>``)."""
        check_kind(kind)
        ids, _ = self._prepare_items(check_texts(texts), kind)
        return ids

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts of *texts* without prefix or truncation (``</s>`` included)."""
        return self._text_tokenizer.count(check_texts(texts))

    def stats(self) -> EncoderStats:
        """Forward passes run so far and the texts they held (counters only grow).

        The difference of two snapshots shows how a burst of concurrent calls was coalesced:
        ``texts / forward_passes`` is the mean batch; ``graph_replays`` counts the passes that
        were replayed CUDA graphs.
        """
        return EncoderStats(
            forward_passes=self._batcher.batches_run,
            texts=self._batcher.texts_run,
            graph_replays=self._graphs.replays if self._graphs is not None else 0,
        )

    def warmup(self) -> int:
        """Prepare for serving: capture every CUDA-graph bucket now, and run a forward pass.

        Without it each bucket is captured by the first batch that needs it (tens of
        milliseconds, once). Safe to call while other threads encode. Returns how many graphs
        were captured by this call (0 on CPU, where graphs are never used, or when all were).
        """
        captured = self._graphs.capture_all() if self._graphs is not None else 0
        self.encode(["warm-up"], kind="query")
        return captured

    def close(self) -> None:
        """Stop the worker thread; calls still waiting fail with ``EncoderClosedError``."""
        self._batcher.close()

    def __enter__(self) -> T5Encoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------- internals
    def _prefix(self, kind: str) -> str:
        return self.config.query_prefix if kind == "query" else self.config.document_prefix

    def _prepare_items(self, items: list[str], kind: str) -> tuple[list[list[int]], bool]:
        """Token ids of already-checked texts, with the kind's prefix and lower-casing."""
        prefix = self._prefix(kind)
        if prefix or self.config.lowercase:
            items = [(prefix + t).lower() if self.config.lowercase else prefix + t for t in items]
        return self._text_tokenizer.encode(items)

    def _submit(
        self, texts: Sequence[str], kind: str, want: str, show_progress: bool
    ) -> Future[Any]:
        check_kind(kind)
        items = check_texts(texts)  # every text is checked before anything is encoded
        progress = None
        bar = None
        if show_progress and items:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(items), desc="Encoding", unit="text")
            progress = bar.update
        if len(items) > self.config.tokenize_chunk:
            future = self._submit_streamed(items, kind, want, progress)
        else:
            future = self._submit_ids(items, kind, want, progress)
        if bar is not None:
            future.add_done_callback(lambda _f: bar.close())
        return future

    def _submit_ids(
        self, items: list[str], kind: str, want: str, progress: Callable[[int], None] | None
    ) -> Future[Any]:
        """Tokenize *items* and queue them on the micro-batcher."""
        ids, truncated = self._prepare_items(items, kind)
        if truncated:
            self._warn_truncation()
        pool_start = 0 if self.config.pool_prefix else self._prefix_lengths[kind]
        starts = [min(pool_start, len(row) - 1) for row in ids] if pool_start else None
        return self._batcher.submit(ids, want=want, pool_starts=starts, progress=progress)

    def _submit_streamed(
        self, items: list[str], kind: str, want: str, progress: Callable[[int], None] | None
    ) -> Future[Any]:
        """Queue a large call chunk by chunk from a tokenizer thread.

        The thread tokenizes chunk *i + 1* while the worker runs forward passes over chunk *i*
        (the tokenizer releases the GIL), so the device starts at once instead of after the
        whole call is tokenized. Each chunk is length-sorted and batched as a call of its own;
        the results land in one array (or list) in the caller's order.
        """
        streamed = StreamedCall(len(items), self.dim, want)
        size = self.config.tokenize_chunk

        def feed() -> None:
            for start in range(0, len(items), size):
                if streamed.future.done():  # cancelled, or an earlier chunk failed
                    return
                try:
                    part = self._submit_ids(items[start : start + size], kind, want, progress)
                except BaseException as err:  # closed encoder, tokenizer error
                    streamed.fail(err)
                    return
                streamed.add(start, part)

        threading.Thread(target=feed, name="t5-vectors-tokenizer", daemon=True).start()
        return streamed.future

    def _warn_truncation(self) -> None:
        with self._warn_lock:
            if self._warned_truncation:
                return
            self._warned_truncation = True
        warnings.warn(
            f"At least one text is longer than max_length={self.config.max_length} tokens and "
            "was truncated. Split long documents into chunks, or raise max_length (T5's relative "
            "positions allow it, at quadratic cost). This warning is shown once per encoder.",
            TruncationWarning,
            stacklevel=4,
        )

    # ---------------------------------------------------------------------------------- saving
    def save_pretrained(self, directory: str | os.PathLike[str]) -> Path:
        """Save encoder weights, tokenizer, pooling/Dense head and settings to *directory*.

        The folder loads back with :meth:`from_pretrained` to identical vectors; trained
        attention pooling is saved with it.
        """
        return write_own_checkpoint(
            Path(directory),
            model=self._model,
            tokenizer=self.tokenizer,
            head=self._head,
            settings=self.config,
        )


def check_kind(kind: str) -> None:
    """Refuse a *kind* other than ``"document"`` or ``"query"``."""
    if kind not in _KINDS:
        raise InvalidInputError(f"kind: expected 'document' or 'query', found {kind!r}.")


def _forward_function(model: Any, fast: FastT5Forward | None) -> Forward:
    """The runner's forward: ``model(...)``, so that whatever wraps ``model.forward`` sees every
    eager pass (CUDA-graph replays run what was captured); the fused pass is told about padding.
    """
    if fast is not None:

        def fused(input_ids: torch.Tensor, mask: torch.Tensor, padded: bool) -> torch.Tensor:
            output = model(input_ids=input_ids, attention_mask=mask, padded=padded)
            return output.last_hidden_state  # type: ignore[no-any-return]

        return fused

    def original(input_ids: torch.Tensor, mask: torch.Tensor, padded: bool) -> torch.Tensor:
        return model(input_ids=input_ids, attention_mask=mask.long()).last_hidden_state  # type: ignore[no-any-return]

    return original
