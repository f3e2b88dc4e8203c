"""Encoder settings, counters and the truncation warning."""

from __future__ import annotations

from dataclasses import dataclass

from t5_vectors._checks import check_positive_int
from t5_vectors.encoder.pooling import normalize_pooling_modes
from t5_vectors.errors import InvalidInputError


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
            them before a forward pass (a lone caller never waits, and no wait is longer
            than forward passes have been taking).
        tokenize_chunk: a call with more texts than this is tokenized in chunks by a
            background thread, so forward passes start on the first chunk while the rest are
            tokenized.
        cuda_graphs: replay small batches as captured CUDA graphs (CUDA only; see
            :mod:`t5_vectors.encoder._graphs`).
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
    tokenize_chunk: int = 4096
    cuda_graphs: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "pooling", normalize_pooling_modes(self.pooling))
        for name in ("max_length", "token_budget", "max_batch_size", "tokenize_chunk"):
            check_positive_int(name, getattr(self, name))
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
        if not isinstance(self.cuda_graphs, bool):
            raise InvalidInputError(
                f"cuda_graphs: expected True, False or None, found {self.cuda_graphs!r}."
            )


@dataclass(frozen=True)
class EncoderStats:
    """Counters of an encoder's worker (see :meth:`T5Encoder.stats`).

    Attributes:
        forward_passes: forward passes run (failed ones included).
        texts: texts in those passes.
        graph_replays: of those passes, the ones replayed as CUDA graphs.
    """

    forward_passes: int
    texts: int
    graph_replays: int = 0

    def __sub__(self, other: EncoderStats) -> EncoderStats:
        return EncoderStats(
            self.forward_passes - other.forward_passes,
            self.texts - other.texts,
            self.graph_replays - other.graph_replays,
        )
