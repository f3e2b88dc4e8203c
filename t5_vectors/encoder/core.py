"""`T5Encoder`: one shared, thread-safe T5 encoder for pooled and token-level embeddings."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import threading
import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from t5_vectors.encoder.batching import BatchItem, BatchOutput, MicroBatcher
from t5_vectors.encoder.checkpoint import (
    OWN_CONFIG,
    OWN_HEAD_WEIGHTS,
    CheckpointSpec,
    read_checkpoint,
    read_state_dict,
    resolve_checkpoint,
)
from t5_vectors.encoder.pooling import DenseLayer, EmbeddingHead, Pooler, normalize_pooling_modes
from t5_vectors.encoder.precision import resolve_device, resolve_dtype
from t5_vectors.encoder.texts import check_texts
from t5_vectors.encoder.tokenize import TextTokenizer
from t5_vectors.errors import (
    EncoderClosedError,
    InvalidInputError,
    ModelLoadError,
    UnsafeCheckpointError,
)

__all__ = ["EncoderConfig", "T5Encoder", "TruncationWarning"]

logger = logging.getLogger("t5_vectors")

Kind = Literal["document", "query"]
_KINDS = ("document", "query")


class TruncationWarning(UserWarning):
    """A text was longer than the encoder's ``max_length`` and was cut (warned once per encoder)."""


@dataclass(frozen=True)
class EncoderConfig:
    """How an encoder turns tokens into vectors; validated on creation.

    Attributes:
        pooling: pooling modes, concatenated in order (see :mod:`t5_vectors.encoder.pooling`).
        normalize: L2-normalise the output vectors.
        max_length: longest token sequence fed to the model (including ``</s>``).
        query_prefix: text put before every query (``kind="query"``).
        document_prefix: text put before every document (``kind="document"``).
        pool_prefix: whether prefix tokens take part in pooling (sentence-transformers'
            ``include_prompt``).
        lowercase: lower-case texts before tokenizing (``do_lower_case`` checkpoints).
        token_budget: most padded tokens (rows x longest row) in one forward pass.
        max_batch_size: most texts in one forward pass.
        max_wait_ms: while callers arrive concurrently, how long the worker waits for more of
            them before a forward pass (a lone caller never waits).
    """

    pooling: tuple[str, ...] = ("mean",)
    normalize: bool = False
    max_length: int = 512
    query_prefix: str = ""
    document_prefix: str = ""
    pool_prefix: bool = True
    lowercase: bool = False
    token_budget: int = 1024
    max_batch_size: int = 64
    max_wait_ms: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "pooling", normalize_pooling_modes(self.pooling))
        for name in ("max_length", "token_budget", "max_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name}: expected a positive int, found {value!r}.")
        if self.max_length < 2:
            raise InvalidInputError(
                f"max_length: expected at least 2 (one token plus </s>), found {self.max_length}."
            )
        for name in ("query_prefix", "document_prefix"):
            if not isinstance(getattr(self, name), str):
                raise InvalidInputError(
                    f"{name}: expected a str, found {type(getattr(self, name)).__name__}."
                )
        if (
            isinstance(self.max_wait_ms, bool)
            or not isinstance(self.max_wait_ms, int | float)
            or (not 0 <= self.max_wait_ms <= 1000)
        ):
            raise InvalidInputError(
                f"max_wait_ms: expected a number from 0 to 1000, found {self.max_wait_ms!r}."
            )
        if not isinstance(self.normalize, bool):
            raise InvalidInputError(f"normalize: expected True or False, found {self.normalize!r}.")


def _default_budget(device: torch.device) -> tuple[int, int, float]:
    """(token_budget, max_batch_size, max_wait_ms) per forward pass.

    GPUs want large batches. CPUs do better with small ones, whose activations stay in cache: on
    a 2-core AVX512-BF16 machine T5-base ran 1.2-1.3x faster at 1,024 tokens than at 2,048 and
    2.0-2.3x faster than at 8,192 (benchmarks/budget.py, docs/benchmarks.md).
    """
    if device.type == "cuda":
        return 65536, 1024, 2.0
    return 1024, 64, 10.0


class T5Encoder:
    """A T5 encoder that serves pooled sentence vectors and contextual token vectors.

    One instance is meant to serve a whole process: it is thread-safe, and concurrent calls from
    threads and asyncio tasks are coalesced into shared forward passes by a micro-batcher. Texts
    are length-sorted and cut into batches under a padded-token budget; a text's vector does not
    depend on what it was batched with.

    Setup:
        .. code-block:: bash

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
    ) -> None:
        self._model: Any = model.eval()
        self._head = head.eval()
        self.tokenizer = tokenizer
        self.config = config
        self.name_or_path = name_or_path
        self.spec = spec
        param = next(model.parameters())
        self.device: torch.device = param.device
        self.dtype: torch.dtype = _compute_dtype(model)
        self._text_tokenizer = TextTokenizer(tokenizer, max_length=config.max_length)
        self._pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
        self._prefix_lengths = {
            kind: self._text_tokenizer.prefix_length(self._prefix(kind)) for kind in _KINDS
        }
        self._warn_lock = threading.Lock()
        self._warned_truncation = False
        # The worker thread holds the encoder only weakly, so an encoder that is dropped without
        # close() is still garbage-collected, and its worker stops.
        run_ref = weakref.WeakMethod(self._run_batch)

        def run(batch: list[BatchItem], pooled: bool, tokens: bool) -> BatchOutput:
            run_batch = run_ref()
            if run_batch is None:
                raise EncoderClosedError("The encoder was garbage-collected.")
            return run_batch(batch, pooled, tokens)

        self._batcher = MicroBatcher(
            run,
            dim=head.dim,
            token_budget=config.token_budget,
            max_batch_size=config.max_batch_size,
            max_wait=config.max_wait_ms / 1000.0,
        )
        weakref.finalize(self, self._batcher.close)

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
                float32), ``"float32"``, ``"bfloat16"`` or ``"float16"`` (``wo`` stays float32).
            pooling: pooling mode(s); ``None`` takes the checkpoint's (mean for raw T5).
            normalize: L2-normalise vectors; ``None`` takes the checkpoint's (``Normalize``).
            max_length: token limit; ``None`` takes ``max_seq_length`` or the tokenizer's limit.
            query_prefix: prepended to queries; ``None`` takes the checkpoint's ``query`` prompt.
            document_prefix: prepended to documents; ``None`` takes its ``document`` prompt.
            local_files_only: never touch the network; ``None`` follows ``HF_HUB_OFFLINE``.
            token_budget: most padded tokens per forward pass (default 1024 CPU, 65536 GPU).
            max_batch_size: most texts per forward pass (default 64 CPU, 1024 GPU).
            max_wait_ms: while callers arrive concurrently, how long to wait for more of them
                before a forward pass (default 10 CPU, 2 GPU; a lone caller never waits).
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
        tokenizer = _load_tokenizer(spec)
        model = _load_model(spec, torch_dtype, torch_device)
        head = _build_head(spec, pooling)
        head.to(torch_device)
        budget, batch_size, wait_ms = _default_budget(torch_device)
        config = EncoderConfig(
            pooling=head.pooler.modes,
            normalize=spec.normalize if normalize is None else normalize,
            max_length=(
                max_length
                if max_length is not None
                else spec.max_length or _tokenizer_limit(tokenizer)
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
        )
        head.normalize = config.normalize
        encoder = cls(
            model, tokenizer, head, config, name_or_path=os.fspath(name_or_path), spec=spec
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
        other settings are re-encoded. Precision (dtype, device) is left out on purpose: it moves
        vectors only within rounding. A head with weights (attention pooling, Dense) adds a
        digest of them, so training or replacing them changes the fingerprint.
        """
        config = self.config
        parts = [
            "t5",
            self.name_or_path,
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
        """The underlying ``T5EncoderModel`` (read it; do not run it from other threads)."""
        return self._model

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
        ids, _ = self._prepare(texts, kind)
        return ids

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts of *texts* without prefix or truncation (``</s>`` included)."""
        return self._text_tokenizer.count(check_texts(texts))

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

    def _prepare(self, texts: Sequence[str], kind: str) -> tuple[list[list[int]], bool]:
        if kind not in _KINDS:
            raise InvalidInputError(f"kind: expected 'document' or 'query', found {kind!r}.")
        items = check_texts(texts)
        prefix = self._prefix(kind)
        if prefix or self.config.lowercase:
            items = [(prefix + t).lower() if self.config.lowercase else prefix + t for t in items]
        return self._text_tokenizer.encode(items)

    def _submit(self, texts: Sequence[str], kind: str, want: str, show_progress: bool) -> Any:
        ids, truncated = self._prepare(texts, kind)
        if truncated:
            self._warn_truncation()
        pool_start = 0 if self.config.pool_prefix else self._prefix_lengths[kind]
        starts = [min(pool_start, len(row) - 1) for row in ids] if pool_start else None
        progress = None
        bar = None
        if show_progress and ids:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(ids), desc="Encoding", unit="text")
            progress = bar.update
        future = self._batcher.submit(ids, want=want, pool_starts=starts, progress=progress)
        if bar is not None:
            future.add_done_callback(lambda _f: bar.close())
        return future

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

    def _run_batch(
        self, batch: list[BatchItem], need_pooled: bool, need_tokens: bool
    ) -> tuple[np.ndarray | None, list[np.ndarray] | None]:
        longest = max(len(item.ids) for item in batch)
        if self.device.type == "cuda":
            longest = (longest + 7) // 8 * 8
        input_ids = torch.full((len(batch), longest), self._pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), longest), dtype=torch.bool)
        for row, item in enumerate(batch):
            input_ids[row, : len(item.ids)] = torch.tensor(item.ids, dtype=torch.long)
            attention[row, : len(item.ids)] = True
        input_ids = input_ids.to(self.device, non_blocking=True)
        attention = attention.to(self.device, non_blocking=True)
        with torch.inference_mode():
            hidden = self._model(
                input_ids=input_ids, attention_mask=attention.long()
            ).last_hidden_state
            pooled = None
            if need_pooled:
                pool_mask = attention
                if any(item.pool_start for item in batch):
                    pool_mask = attention.clone()
                    for row, item in enumerate(batch):
                        pool_mask[row, : item.pool_start] = False
                pooled = self._head(hidden, pool_mask).float().cpu().numpy()
            tokens = None
            if need_tokens:
                host = hidden.float().cpu().numpy()
                tokens = [host[row, : len(item.ids)].copy() for row, item in enumerate(batch)]
        return pooled, tokens

    # ---------------------------------------------------------------------------------- saving
    def save_pretrained(self, directory: str | os.PathLike[str]) -> Path:
        """Save encoder weights, tokenizer, pooling/Dense head and settings to *directory*.

        The folder loads back with :meth:`from_pretrained` to identical vectors; trained
        attention pooling is saved with it.
        """
        from safetensors.torch import save_file

        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self._model.save_pretrained(str(path), safe_serialization=True)
        self.tokenizer.save_pretrained(str(path))
        attention = self._head.pooler.attention
        settings = {
            "format": 1,
            "pooling": list(self.config.pooling),
            "normalize": self.config.normalize,
            "max_length": self.config.max_length,
            "lowercase": self.config.lowercase,
            "pool_prefix": self.config.pool_prefix,
            "prompts": {
                "query": self.config.query_prefix,
                "document": self.config.document_prefix,
            },
            "attention_hidden_size": attention.hidden_size if attention is not None else 0,
            "dense": [
                {
                    "in_features": d.linear.in_features,
                    "out_features": d.linear.out_features,
                    "bias": d.linear.bias is not None,
                    "activation": f"torch.nn.{d.activation_name}",
                }
                for d in self._head.dense_layers
            ],
        }
        (path / OWN_CONFIG).write_text(json.dumps(settings, indent=2) + "\n")
        state = {
            k: v.detach().float().cpu().contiguous() for k, v in self._head.state_dict().items()
        }
        if state:
            save_file(state, str(path / OWN_HEAD_WEIGHTS))
        else:
            (path / OWN_HEAD_WEIGHTS).unlink(missing_ok=True)
        return path


# ------------------------------------------------------------------------------------ helpers
def _compute_dtype(model: torch.nn.Module) -> torch.dtype:
    dtypes = [p.dtype for p in model.parameters()]
    # With float16, `wo` layers stay float32; the compute dtype is the most common one.
    return max(set(dtypes), key=dtypes.count)


def _tokenizer_limit(tokenizer: Any) -> int:
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 2 <= limit <= 100_000:
        return limit
    return 512


def _load_tokenizer(spec: CheckpointSpec) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(spec.transformer_dir))
    except (OSError, ValueError, TypeError) as err:
        raise ModelLoadError(
            f"Expected a loadable T5 tokenizer in {spec.transformer_dir}, found an error: {err}. "
            "Save the tokenizer next to the model, or copy spiece.model from the original "
            "checkpoint."
        ) from err


def _load_model(spec: CheckpointSpec, dtype: torch.dtype, device: torch.device) -> Any:
    from safetensors import SafetensorError
    from transformers import MT5EncoderModel, T5EncoderModel
    from transformers.utils import logging as hf_logging_module

    hf_logging: Any = hf_logging_module

    model_cls: Any = MT5EncoderModel if spec.model_type == "mt5" else T5EncoderModel
    bar_enabled = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        model = model_cls.from_pretrained(
            str(spec.transformer_dir),
            dtype=dtype,
            attn_implementation="sdpa",
        )
    except pickle.UnpicklingError as err:  # torch.load(weights_only=True) refused the file
        raise UnsafeCheckpointError(
            f"Refused to load the weights in {spec.transformer_dir}: expected a pickle of "
            "tensors only, found other objects (loading them would execute code from the file) "
            "or a corrupt file. Use model.safetensors from a trusted copy of the checkpoint."
        ) from err
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as err:
        raise ModelLoadError(
            f"Expected loadable T5 weights in {spec.transformer_dir}, found an error: "
            f"{type(err).__name__}: {err}. The checkpoint is incomplete or corrupt: download or "
            "save it again."
        ) from err
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar_enabled:
            hf_logging.enable_progress_bar()
    return model.to(device)


def _build_head(spec: CheckpointSpec, pooling: str | Sequence[str] | None) -> EmbeddingHead:
    modes = spec.pooling if pooling is None else normalize_pooling_modes(pooling)
    pooler = Pooler(modes, spec.d_model, attention_hidden_size=spec.attention_hidden_size)
    denses = [
        DenseLayer(d.in_features, d.out_features, bias=d.bias, activation=d.activation)
        for d in spec.denses
    ]
    head = EmbeddingHead(pooler, denses, normalize=spec.normalize)
    if spec.layout == "t5-vectors" and spec.head_weights is not None:
        from safetensors.torch import load_file

        state = load_file(str(spec.head_weights))
        if pooling is not None and modes != spec.pooling:
            state = {k: v for k, v in state.items() if not k.startswith("pooler.")}
        _load_into(
            head, state, strict=pooling is None or modes == spec.pooling, where=spec.head_weights
        )
    for dense, dense_spec in zip(denses, spec.denses, strict=True):
        if dense_spec.folder is not None:
            _load_into(
                dense, read_state_dict(dense_spec.folder), strict=True, where=dense_spec.folder
            )
    return head


def _load_into(
    module: torch.nn.Module, state: dict[str, torch.Tensor], *, strict: bool, where: Path
) -> None:
    try:
        module.load_state_dict({k: v.float() for k, v in state.items()}, strict=strict)
    except RuntimeError as err:
        raise ModelLoadError(
            f"Expected weights in {where} to match the module's config, found a mismatch: {err}"
        ) from err
