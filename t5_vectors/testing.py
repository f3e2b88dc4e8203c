"""Build tiny T5 checkpoints on disk, offline, in well under a second.

Used by the test-suite and the benchmarks, and handy for trying t5-vectors without hub access
(:func:`build_demo_checkpoint` is what ``t5-vectors ... --demo-model DIR`` builds)::

    from t5_vectors.testing import build_demo_checkpoint
    path = build_demo_checkpoint("/tmp/tiny-t5")
    encoder = T5Encoder.from_pretrained(path)

The folders are written exactly as the hub has them: a raw T5 checkpoint (``config.json``,
``model.safetensors``, ``spiece.model`` + tokenizer files), or a sentence-transformers layout
(``modules.json``, ``sentence_bert_config.json``, ``1_Pooling/config.json``, ``2_Dense/config.json``
+ weights, and ``Normalize`` listed in ``modules.json`` with no ``3_Normalize`` folder). Weights are
random: these checkpoints are for exercising code paths and measuring speed, not for quality.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Literal

import torch

Variant = Literal["v1_0", "v1_1"]

SAMPLE_SENTENCES: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog.",
    "Vector databases store embeddings and search them by similarity.",
    "T5 is an encoder-decoder transformer trained on a mixture of tasks.",
    "Retrieval augmented generation feeds retrieved passages to a language model.",
    "Qdrant keeps points with vectors and a JSON payload in collections.",
    "Sentence embeddings map a whole text to one fixed-size vector.",
    "Tokenizers split text into pieces; sentencepiece learns them from raw text.",
    "A batch of short queries can share one forward pass on the accelerator.",
    "Mean pooling averages the token vectors, ignoring the padding positions.",
    "LangChain documents carry page content and a metadata dictionary.",
    "Cosine similarity compares the directions of two vectors.",
    "Hello world! Numbers like 42 and 3.14 appear in text, too.",
    "Ingestion jobs read files, split them into chunks and upload the vectors.",
    "An agent may issue many small retrieval calls at the same time.",
    "Bfloat16 keeps the exponent range of float32 with fewer mantissa bits.",
    "Contextual token embeddings depend on every other token in the text.",
)


def train_sentencepiece(
    directory: str | Path,
    *,
    vocab_size: int = 256,
    sentences: tuple[str, ...] | list[str] = SAMPLE_SENTENCES,
) -> Path:
    """Train a T5-style unigram ``spiece.model`` (pad=0, eos=1, unk=2, no bos) into *directory*."""
    import sentencepiece as spm

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        # A tiny corpus is repeated so the trainer sees enough text for its vocabulary.
        sentence_iterator=iter(list(sentences) * max(1, 128 // max(len(sentences), 1))),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    path = directory / "spiece.model"
    path.write_bytes(model.getvalue())
    return path


def _t5_config(
    variant: Variant,
    vocab_size: int,
    d_model: int,
    num_layers: int,
    num_heads: int,
    d_ff: int,
    d_kv: int | None,
) -> Any:
    from transformers import T5Config

    gated = variant == "v1_1"
    config_cls: Any = T5Config
    return config_cls(
        vocab_size=vocab_size,
        d_model=d_model,
        d_kv=d_kv if d_kv is not None else max(d_model // num_heads, 1),
        d_ff=d_ff,
        num_layers=num_layers,
        num_decoder_layers=num_layers,
        num_heads=num_heads,
        feed_forward_proj="gated-gelu" if gated else "relu",
        tie_word_embeddings=not gated,
        dropout_rate=0.0,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )


def _save_tokenizer(
    directory: Path, vocab_size: int, sentences: tuple[str, ...] | list[str] | None
) -> int:
    """Train and save a T5 tokenizer; returns the tokenizer's full vocabulary size."""
    from transformers import T5Tokenizer

    for stale in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (directory / stale).unlink(missing_ok=True)
    train_sentencepiece(directory, vocab_size=vocab_size, sentences=sentences or SAMPLE_SENTENCES)
    tokenizer = T5Tokenizer.from_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return len(tokenizer)


def build_t5_checkpoint(
    directory: str | Path,
    *,
    variant: Variant = "v1_1",
    d_model: int = 32,
    num_layers: int = 2,
    num_heads: int = 4,
    d_ff: int = 64,
    d_kv: int | None = None,
    vocab_size: int = 256,
    tokenizer_sentences: tuple[str, ...] | list[str] | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    encoder_only: bool = False,
    scale: float = 1.0,
    outlier_channels: int = 0,
    outlier_scale: float = 100.0,
) -> Path:
    """Write a random-weight T5 checkpoint as the hub has them, with its tokenizer.

    ``variant="v1_0"`` is the original T5 (ReLU feed-forward, tied embeddings); ``"v1_1"`` is the
    v1.1 / lm-adapt / flan family (gated-GELU, untied). With ``encoder_only=False`` (default) the
    full encoder-decoder is saved, as ``google/t5-*`` checkpoints are. ``dtype=torch.float16``
    stores half-precision weights; ``scale`` multiplies every weight (large values reproduce T5's
    fp16 overflow).

    ``outlier_channels`` > 0 injects activation outliers as trained T5 v1.1 checkpoints have
    them (:func:`inject_activation_outliers`): that many channels of the encoder's hidden
    states, and as many of its feed-forward states, run ``outlier_scale`` times larger at the
    inputs of the projections, while the weights compensate so the float32 function is the
    same as without them. It stresses int8 recipes the way trained weights do.
    """
    from transformers import T5EncoderModel, T5ForConditionalGeneration

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    full_vocab = _save_tokenizer(directory, vocab_size, tokenizer_sentences)
    config = _t5_config(variant, full_vocab, d_model, num_layers, num_heads, d_ff, d_kv)
    torch.manual_seed(seed)
    model_cls = T5EncoderModel if encoder_only else T5ForConditionalGeneration
    model: Any = model_cls(config)
    if scale != 1.0:
        with torch.no_grad():
            for param in model.parameters():
                param.mul_(scale)
    if outlier_channels:
        inject_activation_outliers(
            model, channels=outlier_channels, factor=outlier_scale, seed=seed
        )
    model = model.to(dtype)
    _quiet_save(model, directory)
    if variant == "v1_1" and not encoder_only:
        _untie_lm_head(directory, seed)
    return directory


def inject_activation_outliers(
    model: Any, *, channels: int = 2, factor: float = 100.0, seed: int = 0
) -> tuple[list[int], list[int]]:
    """Give a T5 encoder activation outliers without changing what it computes (in place).

    Trained T5 checkpoints (v1.1 and flan most of all) carry a few channels whose activations
    at the projections' inputs are tens to hundreds of times the others: the cause of T5's
    float16 overflow (transformers keeps ``wo`` in float32 for it) and the known hazard for
    int8 activations. Here, in every encoder block, *channels* hidden channels (the same ones
    in each block, as in trained models) get their RMS-norm weights multiplied by *factor* and
    the matching input columns of ``q``, ``k``, ``v`` and ``wi`` divided by it; *channels*
    feed-forward channels get their ``wi`` rows (the linear half ``wi_1`` of a gated layer)
    multiplied by *factor* and the matching input columns of ``wo`` divided by it. ReLU and the
    gate's product commute with a positive scale, so the float32 function is unchanged up to
    rounding while the inputs of every projection carry outliers of *factor* x.

    Returns:
        The hidden channels and the feed-forward channels that were scaled.
    """
    encoder = model.encoder if hasattr(model, "encoder") else model
    config = model.config
    generator = torch.Generator().manual_seed(seed + 7)
    hidden = torch.randperm(int(config.d_model), generator=generator)[:channels].tolist()
    inner = torch.randperm(int(config.d_ff), generator=generator)[:channels].tolist()
    with torch.no_grad():
        for block in encoder.block:
            attention = block.layer[0]
            feed_forward = block.layer[1]
            dense = feed_forward.DenseReluDense
            attention.layer_norm.weight[hidden] *= factor
            feed_forward.layer_norm.weight[hidden] *= factor
            projections = [attention.SelfAttention.q, attention.SelfAttention.k]
            projections.append(attention.SelfAttention.v)
            gated = hasattr(dense, "wi_0")
            projections += [dense.wi_0, dense.wi_1] if gated else [dense.wi]
            for linear in projections:
                linear.weight[:, hidden] /= factor
            (dense.wi_1 if gated else dense.wi).weight[inner, :] *= factor
            dense.wo.weight[:, inner] /= factor
    return hidden, inner


def _quiet_save(model: Any, directory: Path) -> None:
    from transformers.utils import logging as hf_logging_module

    hf_logging: Any = hf_logging_module
    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(str(directory), safe_serialization=True)
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def _untie_lm_head(directory: Path, seed: int) -> None:
    """Make the files look like hub v1.1 checkpoints: an own ``lm_head`` and an untied config.

    transformers 5 always ties T5 embeddings when saving; google/t5-v1_1-* and lm-adapt
    checkpoints on the hub carry ``"tie_word_embeddings": false`` and a separate lm_head.weight.
    """
    from safetensors.torch import load_file, save_file

    weights = directory / "model.safetensors"
    state = load_file(str(weights))
    shared = state["shared.weight"]
    generator = torch.Generator().manual_seed(seed + 100)
    state["lm_head.weight"] = torch.randn(shared.shape, generator=generator).to(shared.dtype)
    save_file(state, str(weights), metadata={"format": "pt"})
    config_path = directory / "config.json"
    config = json.loads(config_path.read_text())
    config["tie_word_embeddings"] = False
    config_path.write_text(json.dumps(config, indent=2))


def build_sentence_transformers_checkpoint(
    directory: str | Path,
    *,
    variant: Variant = "v1_0",
    d_model: int = 32,
    num_layers: int = 2,
    num_heads: int = 4,
    d_ff: int = 64,
    dense_out: int | None = 24,
    dense_bias: bool = False,
    activation: str | None = "torch.nn.modules.linear.Identity",
    dense_format: Literal["safetensors", "bin"] = "safetensors",
    pooling: str | tuple[str, ...] = "mean",
    normalize: bool = True,
    max_seq_length: int = 64,
    module_types: Literal["old", "new"] = "old",
    prompts: dict[str, str] | None = None,
    vocab_size: int = 256,
    tokenizer_sentences: tuple[str, ...] | list[str] | None = None,
    seed: int = 0,
) -> Path:
    """Write a sentence-transformers T5 folder laid out like ``sentence-t5-base`` / ``gtr-t5-base``.

    The root holds an encoder-only T5 checkpoint and its tokenizer; ``1_Pooling`` uses the legacy
    ``pooling_mode_*`` keys; ``2_Dense`` (omitted when *dense_out* is ``None``) stores
    ``linear.weight`` (+ ``linear.bias``) as ``model.safetensors`` or a ``pytorch_model.bin`` state
    dict. ``activation=None`` leaves ``activation_function`` out of the config (meaning Tanh).
    ``module_types`` picks ``sentence_transformers.models.*`` names (as on the hub) or the module
    paths newer sentence-transformers releases write.
    """
    directory = Path(directory)
    build_t5_checkpoint(
        directory,
        variant=variant,
        d_model=d_model,
        num_layers=num_layers,
        num_heads=num_heads,
        d_ff=d_ff,
        vocab_size=vocab_size,
        tokenizer_sentences=tokenizer_sentences,
        seed=seed,
        encoder_only=True,
    )
    names = {
        "old": {
            "Transformer": "sentence_transformers.models.Transformer",
            "Pooling": "sentence_transformers.models.Pooling",
            "Dense": "sentence_transformers.models.Dense",
            "Normalize": "sentence_transformers.models.Normalize",
        },
        "new": {
            "Transformer": "sentence_transformers.base.modules.transformer.Transformer",
            "Pooling": "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
            "Dense": "sentence_transformers.base.modules.dense.Dense",
            "Normalize": "sentence_transformers.base.modules.normalize.Normalize",
        },
    }[module_types]
    modules: list[dict[str, object]] = [
        {"idx": 0, "name": "0", "path": "", "type": names["Transformer"]},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": names["Pooling"]},
    ]
    (directory / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False}, indent=2)
    )
    config_st: dict[str, object] = {"__version__": {"sentence_transformers": "2.2.0"}}
    if prompts:
        config_st["prompts"] = prompts
    (directory / "config_sentence_transformers.json").write_text(json.dumps(config_st, indent=2))

    modes = (pooling,) if isinstance(pooling, str) else tuple(pooling)
    (directory / "1_Pooling").mkdir(exist_ok=True)
    (directory / "1_Pooling" / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": d_model,
                "pooling_mode_cls_token": "cls" in modes,
                "pooling_mode_mean_tokens": "mean" in modes,
                "pooling_mode_max_tokens": "max" in modes,
                "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens" in modes,
            },
            indent=2,
        )
    )
    if dense_out is not None:
        pooled_dim = d_model * len(modes)
        dense_dir = directory / "2_Dense"
        dense_dir.mkdir(exist_ok=True)
        dense_config: dict[str, object] = {
            "in_features": pooled_dim,
            "out_features": dense_out,
            "bias": dense_bias,
        }
        if activation is not None:
            dense_config["activation_function"] = activation
        (dense_dir / "config.json").write_text(json.dumps(dense_config, indent=2))
        generator = torch.Generator().manual_seed(seed + 1)
        state = {"linear.weight": torch.randn(dense_out, pooled_dim, generator=generator) * 0.2}
        if dense_bias:
            state["linear.bias"] = torch.randn(dense_out, generator=generator) * 0.1
        if dense_format == "safetensors":
            from safetensors.torch import save_file

            save_file(state, str(dense_dir / "model.safetensors"))
        else:
            torch.save(state, dense_dir / "pytorch_model.bin")
        modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": names["Dense"]})
    if normalize:
        # As on the hub: Normalize is listed, but no 3_Normalize folder exists on disk.
        modules.append(
            {
                "idx": len(modules),
                "name": str(len(modules)),
                "path": f"{len(modules)}_Normalize",
                "type": names["Normalize"],
            }
        )
    (directory / "modules.json").write_text(json.dumps(modules, indent=2))
    return directory


DEMO_MAX_LENGTH = 256
"""The demo model's ``max_length`` in tokens: the CLI's default chunk size, so that
``--demo-model`` chunks files at the size a real model is asked for (a config value: it costs
nothing to build)."""


def build_demo_checkpoint(directory: str | Path) -> Path:
    """Write the model ``--demo-model DIR`` uses: a tiny random-weight sentence-transformers T5.

    It is :func:`build_sentence_transformers_checkpoint` with ``max_seq_length`` set to
    :data:`DEMO_MAX_LENGTH`, built offline: 24-dimensional vectors that carry no meaning, and a
    sentencepiece vocabulary (at most 256 pieces) learnt from :data:`SAMPLE_SENTENCES`, so its
    tokens are shorter than a real model's and a chunk of 256 tokens holds fewer characters.
    """
    return build_sentence_transformers_checkpoint(directory, max_seq_length=DEMO_MAX_LENGTH)
