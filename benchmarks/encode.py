"""Embedding throughput of t5-vectors against the usual ways of running a T5 sentence encoder.

What is measured, in one run, on one T5-base-shaped checkpoint the script builds itself
(``t5_vectors.testing.build_sentence_transformers_checkpoint``: d_model 768, 12 layers, 12 heads,
d_ff 3072, ReLU "v1_0", mean pooling + Dense 768 + Normalize, max_seq_length 256, random weights,
cached under ``--workdir``):

* **Matmul ceiling** -- GFLOP/s of back-to-back large square ``torch.matmul`` calls on the device
  (fp32 and bf16, plus fp16 on CUDA), timed for a few seconds per dtype before *and* after the
  systems run; the best call of either window is the ceiling. "Share of ceiling" divides a
  system's achieved model FLOP/s by the ceiling of the dtype it computes in.
* **Ceiling of the model's own shapes** (the issue-28 measure) -- GFLOP/s of one layer's four
  projections (``qkv``, ``o``, ``wi``, ``wo``: the checkpoint's shapes, at the CPU token budget
  of 1,024 rows, or 8,192 on CUDA) run back to back in each dtype: ``F.linear`` in float32 and
  bf16, and on CPU the encoder's own int8 layer (``Int8Linear``: int8 weights per output
  channel, activations quantized per token) as ``qint8``. Rows named ``... @ model shapes``.
  Each t5-vectors row's **linear share** = linear-layer FLOPs per token (2 x the projection and
  Dense weights) x tokens/s / the model-shape ceiling of its dtype; int8 rows also show their
  share of the float32 one. So the figure travels between machines.
* **Model FLOPs** -- per text ``2 * non_embedding_params * n + 4 * layers * n^2 * d_model`` (+ the
  Dense head), with ``n`` the *unpadded* token count, so padding a system does counts against it.
* **Corpus** -- ``--docs`` paragraphs of real English (CPython's ``pydoc_data.topics``, about
  1,800 distinct ones), sampled with ``--seed``; lengths run from a few words to the 256-token
  truncation limit. Past the distinct ones the shuffled pool repeats, each copy numbered. Default
  256 on CPU (T5-base fp32 on 2 cores does a few hundred tokens/s; the default run, two timed
  passes per system, takes about 10 minutes there), 24,000 on CUDA (a GPU pass over 1,800 short
  paragraphs is too short to time).
* **Table 1, corpus throughput** -- every system is loaded and warmed up on a few texts, then each
  embeds the whole corpus in ``--repeats`` full timed passes, round-robin across the systems so
  they share the machine's slow and fast stretches, and the fastest pass is kept: docs/s,
  unpadded tokens/s, share of ceiling, and cosine (mean, min, min after centering) of each vector
  to the sentence-transformers fp32 vector for the same text.
  Systems: ``t5-vectors`` (``T5Encoder.encode``, dtype "auto" where it is not float32,
  "float32", and the explicit "int8" on CPU); sentence-transformers (``encode(batch_size=32)``,
  fp32 = the reference; plus bf16 on CPUs with native bf16, fp16 and bf16 on CUDA);
  ``langchain-huggingface`` (``HuggingFaceEmbeddings.embed_documents``, where installed); and
  the naive loop
  (transformers ``T5EncoderModel``, one text at a time, mean pool + Dense + normalize), timed on
  the first ``--naive-docs`` texts only.
* **Table 2, concurrent queries** -- ``--query-threads`` threads (32) each make
  ``--queries-per-thread`` single ``embed_query(text)`` calls with short corpus texts:
  ``T5Embeddings(encoder=enc)`` against ``HuggingFaceEmbeddings``; queries/s and p50/p99 latency,
  the forward passes the burst took, how many were replayed CUDA graphs, and their mean texts
  (``T5Encoder.stats()``), and the CPU time the process used during the burst (queries per
  CPU-second).
* **Table 3, lone queries** -- ``--lone-queries`` single calls one after another from one thread
  after ``T5Encoder.warmup()``: p50/p99 latency (on CUDA also with ``cuda_graphs=False``).
* **Attention kernel (CUDA)** -- which SDPA kernel t5-vectors' bulk pass ran, from the
  ``torch.profiler`` kernel names (the memory-efficient, cuDNN, flash or math backend).

Without LangChain (a GPU machine with only torch, transformers and sentence-transformers) the
script still runs: tables 2 and 3 call ``T5Encoder.encode([q], kind="query")`` and
sentence-transformers' ``encode([q])`` (what ``T5Embeddings`` and ``HuggingFaceEmbeddings`` run),
and the langchain-huggingface row of table 1 is left out. ``t5_vectors`` is imported from this
source tree (``_common`` puts it on ``sys.path``). ``--tiny`` swaps in a tiny checkpoint for a
smoke run whose figures mean nothing.

Run it with ``make bench`` (= ``python benchmarks/encode.py``) or, e.g.::

    .venv/bin/python benchmarks/encode.py --device cuda --out bench_out/results.md
    .venv/bin/python benchmarks/encode.py --docs 32 --repeats 1 --skip t5-vectors,queries
    .venv/bin/python benchmarks/encode.py --docs 512 --threads 2 --skip naive
    python3 benchmarks/encode.py --device cuda --queries-per-thread 16 --lone-queries 200

Tables go to stdout (and are appended to ``--out``); progress goes to stderr. The weights are
random, so cosines measure numerical agreement, not embedding quality; the fp32 reference is
checked for inf/NaN and for collapse (all texts pointing the same way) and the result is printed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np
import torch
from _common import (
    CHECKPOINT_SPEC,
    TINY_SPEC,
    Ceiling,
    LatencyStats,
    ModelShape,
    attention_backend,
    attention_kernels,
    build_checkpoint,
    centered_cosine_to_reference,
    corpus_flops,
    corpus_paragraphs,
    cosine_to_reference,
    dtype_name,
    environment_lines,
    fmt_cos,
    fmt_rate,
    fmt_share,
    fmt_speedup,
    free_memory,
    length_summary,
    markdown_table,
    matmul_ceiling,
    read_model_shape,
    reference_health,
    resolve_device,
    sample_corpus,
    synchronize,
    timed,
    token_counts,
    unit_rows,
    usable_cpus,
)

SYSTEMS = ("t5-vectors", "sentence-transformers", "langchain-huggingface", "naive", "queries")
ST_BATCH_SIZE = 32
WARMUP_TEXTS = 8
DEFAULT_CPU_DOCS = 256
DEFAULT_CUDA_DOCS = 24_000
UNSTEADY_RATIO = 1.25
_START = time.perf_counter()


# --------------------------------------------------------------------------------------------
# CLI and output
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Embedding throughput: t5-vectors vs sentence-transformers, "
        "langchain-huggingface and a naive transformers loop.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto")
    parser.add_argument(
        "--docs",
        type=int,
        default=None,
        help=f"corpus size in paragraphs (default: {DEFAULT_CPU_DOCS} on CPU, "
        f"{DEFAULT_CUDA_DOCS:,} on CUDA); past the ~1,800 distinct ones they repeat, numbered",
    )
    parser.add_argument("--seed", type=int, default=0, help="corpus sampling seed")
    parser.add_argument("--workdir", type=Path, default=Path("bench_out"))
    parser.add_argument(
        "--skip",
        default="",
        help=f"comma list of systems to skip, from: {', '.join(SYSTEMS)} "
        "(sentence-transformers fp32 always runs: it is the reference)",
    )
    parser.add_argument("--threads", type=int, default=usable_cpus(), help="torch intra-op threads")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed passes per system, round-robin, fastest kept (default: 2 on CPU, 5 on CUDA)",
    )
    parser.add_argument("--naive-docs", type=int, default=64, help="docs timed for the naive loop")
    parser.add_argument("--query-threads", type=int, default=32)
    parser.add_argument("--queries-per-thread", type=int, default=8)
    parser.add_argument(
        "--query-max-tokens", type=int, default=48, help="corpus texts this short serve as queries"
    )
    parser.add_argument(
        "--lone-queries",
        type=int,
        default=64,
        help="single queries timed one after another, one caller (table 3)",
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="a tiny checkpoint instead of the T5-base-shaped one: a smoke run, its figures "
        "measure nothing",
    )
    parser.add_argument(
        "--matmul-size", type=int, default=None, help="square matmul size (2048 CPU, 8192 CUDA)"
    )
    parser.add_argument(
        "--matmul-seconds", type=float, default=3.0, help="timed window per dtype (each time)"
    )
    parser.add_argument("--out", type=Path, default=None, help="also append the tables here")
    args = parser.parse_args(argv)
    args.skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    unknown = args.skip - set(SYSTEMS)
    if unknown:
        parser.error(f"--skip: unknown system(s) {sorted(unknown)}; choose from {SYSTEMS}")
    positive = ("docs", "repeats", "threads", "naive_docs", "query_threads", "queries_per_thread")
    for name in (*positive, "lone_queries"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')}: expected a positive integer, found {value}")
    return args


def apply_device_defaults(args: argparse.Namespace, device: str) -> None:
    """Fill the defaults that depend on the device (a GPU pass over 256 texts is too short)."""
    cuda = device.startswith("cuda")
    if args.docs is None:
        args.docs = DEFAULT_CUDA_DOCS if cuda else DEFAULT_CPU_DOCS
    if args.repeats is None:
        args.repeats = 5 if cuda else 2


class Report:
    """Markdown goes to stdout as it is produced and, at the end, is appended to ``--out``."""

    def __init__(self, out: Path | None) -> None:
        self.out = out
        self.chunks: list[str] = []

    def emit(self, text: str = "") -> None:
        print(text, flush=True)
        self.chunks.append(text)

    def save(self) -> None:
        if self.out is None:
            return
        self.out.parent.mkdir(parents=True, exist_ok=True)
        with self.out.open("a", encoding="utf-8") as handle:
            handle.write("\n".join(self.chunks) + "\n\n")
        log(f"tables appended to {self.out}")


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


def quiet_libraries() -> None:
    """Silence weight-loading progress bars and advisory warnings from the libraries under test."""
    import warnings

    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)


# --------------------------------------------------------------------------------------------
# Benchmark setup
# --------------------------------------------------------------------------------------------


@dataclass
class Bench:
    """Everything every system is measured against."""

    device: str
    path: Path
    spec: dict[str, Any]
    shape: ModelShape
    max_seq_length: int
    texts: list[str]
    counts: list[int]
    ceiling_start: dict[str, Ceiling]
    tokenizer: Any
    args: argparse.Namespace

    ceiling_end: dict[str, Ceiling] | None = None

    @property
    def warmup_texts(self) -> list[str]:
        return self.texts[:WARMUP_TEXTS]

    @property
    def matmul_size(self) -> int:
        return int(self.args.matmul_size or (8192 if self.device == "cuda" else 2048))

    def measure_ceiling(self) -> dict[str, Ceiling]:
        size, seconds = self.matmul_size, self.args.matmul_seconds
        log(f"matmul ceiling: {size}x{size}, {seconds:g}s per dtype")
        ceilings = matmul_ceiling(self.device, size, seconds)
        rows = 8192 if self.device == "cuda" else 1024
        log(f"matmul ceiling at the model's shapes ({rows} rows), {seconds:g}s per dtype")
        projections = read_projections(self.path)
        for name in [*ceilings, *([] if self.device == "cuda" else ["qint8"])]:
            ceilings[f"{name}{AT_MODEL}"] = projection_gflops(
                self.device, name, projections, rows, seconds
            )
        return ceilings

    def peak_gflops(self, dtype: str) -> float:
        """Best matmul GFLOP/s of *dtype* seen in either window (NaN if not measured)."""
        windows = [self.ceiling_start, self.ceiling_end or {}]
        bests = [w[dtype].best for w in windows if dtype in w]
        return max(bests) if bests else float("nan")


AT_MODEL = " @ model shapes"


@dataclass(frozen=True)
class Projections:
    """One encoder layer's projections as ``(in, out)`` shapes, the layer count and the Dense."""

    shapes: tuple[tuple[int, int], ...]
    layers: int
    dense_params: int

    @property
    def linear_flops_per_token(self) -> int:
        """2 x every projection weight and the Dense head: the linear-layer FLOPs per token."""
        per_layer = sum(n_in * n_out for n_in, n_out in self.shapes)
        return 2 * (self.layers * per_layer + self.dense_params)


def read_projections(path: Path) -> Projections:
    """The projections of the checkpoint at *path* (its ``config.json``)."""
    config = json.loads((path / "config.json").read_text())
    d_model, d_ff = int(config["d_model"]), int(config["d_ff"])
    inner = int(config["num_heads"]) * int(config["d_kv"])
    gated = str(config.get("feed_forward_proj", "relu")).startswith("gated")
    shapes = ((d_model, 3 * inner), (inner, d_model), (d_model, d_ff * (2 if gated else 1)))
    return Projections(
        (*shapes, (d_ff, d_model)), int(config["num_layers"]), read_model_shape(path).dense_params
    )


def projection_gflops(
    device: str, dtype: str, projections: Projections, rows: int, seconds: float
) -> Ceiling:
    """GFLOP/s of one layer's projections back to back, *rows* tokens, in *dtype*.

    ``"qint8"`` runs the encoder's own int8 layer (activations quantized per token inside).
    """
    from t5_vectors.encoder._int8 import Int8Linear

    generator = torch.Generator().manual_seed(0)
    calls: list[Callable[[], Any]] = []
    for n_in, n_out in projections.shapes:
        weight = torch.randn(n_out, n_in, generator=generator) / n_in**0.5
        x = torch.randn(rows, n_in, generator=generator)
        if dtype == "qint8":
            layer = Int8Linear(weight)
            calls.append(lambda layer=layer, x=x: layer(x))
        else:
            torch_dtype = getattr(torch, dtype)
            w, a = weight.to(device, torch_dtype), x.to(device, torch_dtype)
            calls.append(lambda w=w, a=a: torch.nn.functional.linear(a, w))
    times: list[float] = []
    with torch.inference_mode():
        for window, keep in ((seconds / 3, False), (seconds, True)):
            window_start = time.perf_counter()
            count = 0
            while count < 3 or time.perf_counter() - window_start < window:
                start = time.perf_counter()
                for call in calls:
                    call()
                synchronize(device)
                count += 1
                if keep:
                    times.append(time.perf_counter() - start)
    flops = 2.0 * rows * sum(n_in * n_out for n_in, n_out in projections.shapes)
    return Ceiling(flops / min(times) / 1e9, flops / float(np.median(times)) / 1e9, len(times))


def prepare(args: argparse.Namespace, device: str, report: Report) -> Bench:
    from transformers import AutoTokenizer

    path, reused = build_checkpoint(args.workdir, tiny=args.tiny)
    log(f"checkpoint {'reused' if reused else 'built'} at {path}")
    spec = TINY_SPEC if args.tiny else CHECKPOINT_SPEC
    shape = read_model_shape(path)
    max_len = int(spec["max_seq_length"])
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    texts = sample_corpus(args.docs, args.seed, repeat=True)
    counts = token_counts(tokenizer, texts, max_len)
    bench = Bench(device, path, spec, shape, max_len, texts, counts, {}, tokenizer, args)
    report_setup(bench, report)
    bench.ceiling_start = bench.measure_ceiling()
    return bench


def report_setup(bench: Bench, report: Report) -> None:
    shape, counts, tokenizer = bench.shape, bench.counts, bench.tokenizer
    words = sum(len(text.split()) for text in bench.texts)
    untruncated = token_counts(tokenizer, bench.texts, 10**9)
    truncated = sum(full > bench.max_seq_length for full in untruncated)
    report.emit("## t5-vectors encode benchmark")
    report.emit()
    for line in environment_lines(bench.device):
        report.emit(line)
    spec = bench.spec
    report.emit(
        f"- checkpoint: `{bench.path}` -- sentence-t5-base layout, random weights "
        f"(d_model {shape.d_model}, {shape.num_layers} layers, {spec['num_heads']} "
        f"heads, d_ff {spec['d_ff']}, ReLU v1_0, mean pool + Dense "
        f"{spec['dense_out']} + Normalize); "
        f"{shape.non_embedding_params / 1e6:.1f} M non-embedding encoder params"
        + (" -- **--tiny: a smoke run, no figure below means anything**" if bench.args.tiny else "")
    )
    distinct = min(len(bench.texts), len(corpus_paragraphs()))
    repeated = ""
    if distinct < len(bench.texts):
        repeated = f", {distinct} distinct, repeated and numbered"
    report.emit(
        f"- corpus: {len(bench.texts)} paragraphs of `pydoc_data.topics`{repeated} "
        f"(seed {bench.args.seed}); "
        f"tokens per text (model tokenizer, truncated at {bench.max_seq_length}): "
        f"{length_summary(counts)}; {sum(counts):,} tokens in all; {truncated} texts truncated"
    )
    report.emit(
        f"- tokenizer: a {len(tokenizer)}-piece sentencepiece trained on the corpus gives "
        f"{sum(untruncated) / max(words, 1):.2f} tokens per whitespace word (a real T5 vocabulary "
        "gives about 1.3-1.5)"
    )
    report.emit(
        f"- model FLOPs for one corpus pass (unpadded): {corpus_flops(shape, counts) / 1e12:.2f} "
        f"TFLOP = 2 x params x tokens + 4 x L x n^2 x d_model per text (+ Dense)"
    )
    report.emit()


def report_ceiling(bench: Bench, report: Report) -> None:
    size, end = bench.matmul_size, bench.ceiling_end or {}
    report.emit(
        f"Matmul ceiling, GFLOP/s ({size}x{size} @ {size}x{size}, "
        f"{bench.args.matmul_seconds:g}s of back-to-back calls per dtype after a warm-up, "
        "before and after the systems ran; best call and median call):"
    )
    report.emit()
    headers = ["dtype", "before: best", "before: median", "after: best", "after: median", "ceiling"]
    rows = []
    for name, before in bench.ceiling_start.items():
        after = end.get(name)
        rows.append(
            [
                name,
                f"{before.best:,.0f}",
                f"{before.median:,.0f}",
                f"{after.best:,.0f}" if after else "n/a",
                f"{after.median:,.0f}" if after else "n/a",
                f"{bench.peak_gflops(name):,.0f}",
            ]
        )
    report.emit(markdown_table(headers, rows))
    report.emit()
    unsteady = unsteady_dtypes(bench)
    if unsteady:
        report.emit(
            f"**Unsteady machine**: {', '.join(unsteady)} matmul speed varied by more than "
            f"{UNSTEADY_RATIO - 1:.0%} between calls or windows (shared or throttled CPUs). "
            "Single-pass throughputs below carry that noise; use --repeats to average it out."
        )
        report.emit()


def unsteady_dtypes(bench: Bench) -> list[str]:
    """Dtypes whose best matmul call beat a window's median by more than ``UNSTEADY_RATIO``."""
    unsteady = []
    for name, before in bench.ceiling_start.items():
        windows = [before, *([bench.ceiling_end[name]] if bench.ceiling_end else [])]
        if bench.peak_gflops(name) > UNSTEADY_RATIO * min(w.median for w in windows):
            unsteady.append(name)
    return unsteady


# --------------------------------------------------------------------------------------------
# Table 1: corpus throughput
# --------------------------------------------------------------------------------------------


@dataclass
class EncodeRun:
    """The best of the timed passes of one system over the first ``docs`` corpus texts."""

    system: str
    dtype: str
    docs: int
    seconds: float = float("nan")
    vectors: np.ndarray | None = None
    error: str | None = None
    passes: list[float] = field(default_factory=list)
    #: CPU time of the whole process during each pass (all threads).
    cpu_passes: list[float] = field(default_factory=list)


@dataclass
class Loaded:
    """A loaded, warmed-up system: its compute dtype, its encode function and how to free it."""

    dtype: str
    encode: Callable[[list[str]], Any]
    close: Callable[[], None] = lambda: None


def encoder_dtype(encoder: Any, requested: str) -> str:
    """The dtype a t5-vectors encoder actually computes in (falls back to *requested*)."""
    for attribute in ("dtype", "torch_dtype", "compute_dtype"):
        value = getattr(encoder, attribute, None)
        if value is not None:
            return dtype_name(value)
    model = getattr(encoder, "model", None)
    if isinstance(model, torch.nn.Module):
        return dtype_name(next(model.parameters()).dtype)
    return requested


def load_t5_vectors(bench: Bench, dtype: str) -> Loaded:
    from t5_vectors import T5Encoder

    encoder = T5Encoder.from_pretrained(str(bench.path), device=bench.device, dtype=dtype)
    return Loaded(encoder_dtype(encoder, dtype), encoder.encode, encoder.close)


def load_sentence_transformers(bench: Bench, dtype: torch.dtype) -> Loaded:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(bench.path), device=bench.device)
    if dtype == torch.float16:
        model.half()
    elif dtype != torch.float32:
        model.to(dtype)

    def encode(texts: list[str]) -> np.ndarray:
        return model.encode(texts, batch_size=ST_BATCH_SIZE, convert_to_numpy=True)

    return Loaded(dtype_name(dtype), encode)


def load_langchain(bench: Bench) -> Loaded:
    from langchain_huggingface import HuggingFaceEmbeddings

    embeddings = HuggingFaceEmbeddings(
        model_name=str(bench.path), model_kwargs={"device": bench.device}
    )
    return Loaded("float32", embeddings.embed_documents)


def load_dense(path: Path, device: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The ``2_Dense`` head of a sentence-transformers folder as a plain function."""
    folder = path / "2_Dense"
    config = json.loads((folder / "config.json").read_text())
    if (folder / "model.safetensors").exists():
        from safetensors.torch import load_file

        state = load_file(str(folder / "model.safetensors"))
    else:
        state = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    weight = state["linear.weight"].to(device)
    bias = state["linear.bias"].to(device) if "linear.bias" in state else None
    activation = config.get("activation_function", "torch.nn.modules.activation.Tanh")
    if activation.endswith("Identity"):
        return lambda x: torch.nn.functional.linear(x, weight, bias)
    if activation.endswith("Tanh"):
        return lambda x: torch.tanh(torch.nn.functional.linear(x, weight, bias))
    raise NotImplementedError(f"naive loop: Dense activation {activation!r}")


def load_t5_model(bench: Bench) -> tuple[Any, Any]:
    """transformers' tokenizer and fp32 ``T5EncoderModel`` for the checkpoint."""
    from transformers import AutoTokenizer, T5EncoderModel

    tokenizer = AutoTokenizer.from_pretrained(str(bench.path))
    model = T5EncoderModel.from_pretrained(str(bench.path), dtype=torch.float32)
    return tokenizer, model.to(bench.device).eval()


def load_naive(bench: Bench) -> Loaded:
    """transformers ``T5EncoderModel`` fp32, one text per forward, mean pool + Dense + normalize."""
    tokenizer, model = load_t5_model(bench)
    dense = load_dense(bench.path, bench.device)

    def encode(texts: list[str]) -> np.ndarray:
        vectors = []
        with torch.inference_mode():
            for text in texts:
                batch = tokenizer(
                    text, return_tensors="pt", truncation=True, max_length=bench.max_seq_length
                ).to(bench.device)
                hidden = model(**batch).last_hidden_state  # (1, n, d): no padding, plain mean
                vector = torch.nn.functional.normalize(dense(hidden.mean(dim=1)), dim=-1)
                vectors.append(vector.float().cpu().numpy())
        return np.concatenate(vectors)

    return Loaded("float32", encode)


@dataclass
class System:
    """One table-1 row: how to load it, and (once loaded) the loaded system or its error."""

    name: str
    dtype: str
    docs: int
    load: Callable[[], Loaded]
    loaded: Loaded | None = None
    run: EncodeRun | None = None

    def fail(self, stage: str, exc: Exception) -> None:
        message = f"{type(exc).__name__}: {exc}"
        log(f"  {self.name} ({self.dtype}) failed while {stage}: {message}")
        self.run = EncodeRun(self.name, self.dtype, self.docs, error=f"{stage}: {message}")
        self.release()

    def release(self) -> None:
        if self.loaded is not None:
            self.loaded.close()
            self.loaded = None


def encode_plan(bench: Bench) -> list[System]:
    """Table-1 systems in order; the sentence-transformers fp32 reference always runs, first."""
    skip, n = bench.args.skip, len(bench.texts)
    st = "sentence-transformers"
    plan = [System(st, "float32", n, lambda: load_sentence_transformers(bench, torch.float32))]
    if "t5-vectors" not in skip:
        for dtype in t5_vectors_dtypes(bench.device):
            plan.append(System("t5-vectors", dtype, n, lambda d=dtype: load_t5_vectors(bench, d)))
    if st not in skip:
        for low in low_precision_dtypes(bench.device):
            loader = lambda d=low: load_sentence_transformers(bench, d)  # noqa: E731
            plan.append(System(st, dtype_name(low), n, loader))
    if "langchain-huggingface" not in skip:
        if module_available("langchain_huggingface"):
            loader = lambda: load_langchain(bench)  # noqa: E731
            plan.append(System("langchain-huggingface", "float32", n, loader))
        else:
            log("langchain-huggingface is not installed: its table-1 row is left out")
    if "naive" not in skip:
        docs = min(bench.args.naive_docs, n)
        plan.append(System("naive loop", "float32", docs, lambda: load_naive(bench)))
    return plan


def t5_vectors_dtypes(device: str) -> list[str]:
    """ "auto" (when it is not plain float32 here), float32, and the explicit int8 on CPU."""
    from t5_vectors.encoder.precision import resolve_dtype

    dtypes = ["float32"]
    if resolve_dtype("auto", torch.device(device)) != torch.float32:
        dtypes.insert(0, "auto")
    if not device.startswith("cuda"):
        dtypes.append("int8")
    return dtypes


def low_precision_dtypes(device: str) -> list[torch.dtype]:
    """sentence-transformers' other rows: fp16 and bf16 on CUDA, bf16 on CPUs that have it."""
    from t5_vectors.encoder.precision import cpu_has_native_bf16

    if device.startswith("cuda"):
        return [torch.float16, torch.bfloat16]
    return [torch.bfloat16] if cpu_has_native_bf16() else []


def load_and_warm(bench: Bench, system: System) -> None:
    log(f"table 1: loading {system.name} ({system.dtype}), warm-up on {WARMUP_TEXTS} texts")
    try:
        system.loaded = system.load()
        system.loaded.encode(bench.warmup_texts)
        synchronize(bench.device)
    except Exception as exc:  # report, don't hide: the row says what went wrong
        system.fail("loading", exc)
        return
    system.run = EncodeRun(system.name, system.loaded.dtype, system.docs)


def timed_pass(bench: Bench, system: System) -> None:
    """Time one pass over the system's texts; keep the fastest pass and the first vectors."""
    if system.loaded is None or system.run is None or system.run.error is not None:
        return
    texts = bench.texts[: system.docs]
    cpu_start = time.process_time()
    try:
        seconds, vectors = timed(lambda: system.loaded.encode(texts), bench.device)
    except Exception as exc:
        system.fail("encoding", exc)
        return
    run = system.run
    run.cpu_passes.append(time.process_time() - cpu_start)
    run.passes.append(seconds)
    run.seconds = min(run.passes)
    if run.vectors is None:
        run.vectors = np.asarray(vectors, dtype=np.float32)
    log(f"  {system.name} ({run.dtype}): {system.docs} docs in {seconds:.1f}s")


def run_encode_systems(bench: Bench) -> list[EncodeRun]:
    """Load and warm every system, then time ``--repeats`` round-robin passes (best is kept).

    All systems stay loaded so the passes can interleave: on a machine whose speed drifts, each
    system then samples the same stretches of time instead of one system getting a slow one.
    """
    plan = encode_plan(bench)
    for system in plan:
        load_and_warm(bench, system)
    for repeat in range(bench.args.repeats):
        log(f"table 1: timed pass {repeat + 1} of {bench.args.repeats}")
        for system in plan:
            timed_pass(bench, system)
    for system in plan:
        system.release()
    free_memory(bench.device)
    return [system.run for system in plan if system.run is not None]


def encode_row(bench: Bench, run: EncodeRun, reference: EncodeRun, mean: np.ndarray) -> list[str]:
    label = run.system
    if run.docs < len(bench.texts):
        label += f" (first {run.docs} of {len(bench.texts)} docs)"
    if run.system == reference.system and run.dtype == reference.dtype:
        label += " (reference)"
    if run.error is not None or run.vectors is None:
        return [label, run.dtype, f"failed: {run.error}", *["n/a"] * 12]
    counts = bench.counts[: run.docs]
    flops = corpus_flops(bench.shape, counts)
    tokens_per_s = sum(counts) / run.seconds
    # int8 rows are measured against the float32 ceiling (no int8 matmul ceiling is timed).
    ceiling = bench.peak_gflops("float32" if run.dtype == "qint8" else run.dtype) * 1e9
    linear = read_projections(bench.path).linear_flops_per_token * tokens_per_s / 1e9
    linear_share = fmt_share(linear / bench.peak_gflops(run.dtype + AT_MODEL))
    if run.dtype == "qint8":
        linear_share += f" ({fmt_share(linear / bench.peak_gflops('float32' + AT_MODEL))} of fp32)"
    cos = cosine_to_reference(run.vectors, reference.vectors)
    centered = centered_cosine_to_reference(run.vectors, reference.vectors, mean)
    ref_tokens_per_s = sum(bench.counts[: reference.docs]) / reference.seconds
    return [
        label,
        run.dtype,
        fmt_rate(run.docs / run.seconds),
        fmt_rate(tokens_per_s),
        f"{linear:,.1f}",
        linear_share,
        fmt_share(flops / run.seconds / ceiling),
        fmt_cos(float(np.mean(cos))),
        fmt_cos(float(np.min(cos))),
        fmt_cos(float(np.min(centered))),
        fmt_speedup(tokens_per_s / ref_tokens_per_s),
        fmt_speedup(min(reference.cpu_passes) / min(run.cpu_passes)),
        f"{int(np.size(run.vectors) - np.isfinite(run.vectors).sum())}",
        " / ".join(f"{seconds:.1f}" for seconds in run.passes),
        " / ".join(f"{seconds:.1f}" for seconds in run.cpu_passes),
    ]


def report_encode(bench: Bench, runs: list[EncodeRun], report: Report) -> None:
    reference = runs[0]
    if reference.vectors is None:
        report.emit(f"**The fp32 reference failed ({reference.error}); no cosines.**")
        return
    report_reference_health(bench, reference.vectors, report)
    mean = unit_rows(reference.vectors).mean(axis=0)
    headers = [
        "system",
        "dtype",
        "docs/s",
        "tokens/s",
        "linear GFLOP/s",
        "linear share (model shapes)",
        "share of ceiling",
        "cos mean",
        "cos min",
        "centered cos min",
        "speed-up vs sentence-transformers",
        "speed-up in CPU time",
        "non-finite",
        "pass times (s)",
        "pass CPU times (s)",
    ]
    rows = [encode_row(bench, run, reference, mean) for run in runs]
    report.emit(f"### Corpus throughput ({len(bench.texts)} docs, {sum(bench.counts):,} tokens)")
    report.emit()
    report.emit(markdown_table(headers, rows))
    report.emit()
    report.emit(
        "tokens/s counts unpadded tokens; linear GFLOP/s = linear-layer FLOPs per token (2 x "
        "projection and Dense weights) x tokens/s; linear share = that / the row dtype's ceiling "
        "at the model's shapes (qint8: of the int8 layer's, and in brackets of float32's); "
        "share of ceiling = model FLOP/s (attention included) / square matmul ceiling of the "
        "row's dtype (qint8: of the float32 ceiling); cosines are against the "
        "sentence-transformers fp32 vector of the same text "
        "(centered: after subtracting the reference corpus mean direction); speed-up = tokens/s "
        "ratio to sentence-transformers fp32 (= docs/s ratio on the full corpus); sentence-"
        f"transformers and langchain-huggingface use batch_size {ST_BATCH_SIZE}; "
        f"{passes_note(bench.args.repeats)}; pass times lists every timed pass in run order, and "
        "pass CPU times the CPU time the process used in each (all threads); speed-up in CPU "
        "time = the reference's least CPU time per pass / the row's (on a machine shared with "
        "other work a pass's wall time includes time the process was not scheduled)."
    )
    report.emit()


def passes_note(repeats: int) -> str:
    if repeats == 1:
        return "one timed pass per system after warm-up (--repeats 1)"
    return f"fastest of {repeats} round-robin timed passes per system (--repeats {repeats})"


def report_reference_health(bench: Bench, reference: np.ndarray, report: Report) -> None:
    health = reference_health(reference)
    peak = activation_peak(bench)
    verdict = (
        "**DEGENERATE**: inf/NaN or all texts collapse to one direction; read the cosines with care"
        if health.degenerate
        else "finite and not collapsed"
    )
    report.emit(f"fp32 reference check: {verdict}.")
    report.emit()
    report.emit(
        f"- non-finite values: {health.non_finite}; vector norms {health.norm_min:.4f} .. "
        f"{health.norm_max:.4f}"
    )
    report.emit(
        f"- cosine between *different* texts: mean {health.pairwise_cos_mean:.3f}, min "
        f"{health.pairwise_cos_min:.3f}, max {health.pairwise_cos_max:.3f} -- random weights make "
        "the space anisotropic, so a plain cosine to the reference near this level means nothing; "
        "the centered column removes the shared direction"
    )
    if peak is not None:
        report.emit(
            f"- largest |hidden state| after any encoder block (fp32, longest texts): {peak:,.1f} "
            "(fp16 overflows past 65,504)"
        )
    report.emit()


def activation_peak(bench: Bench, n_texts: int = 4) -> float | None:
    """Largest absolute T5 block output over the *n_texts* longest texts, fp32 (untimed)."""
    try:
        tokenizer, model = load_t5_model(bench)
    except Exception as exc:
        log(f"activation probe skipped: {type(exc).__name__}: {exc}")
        return None
    peaks: list[float] = []

    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        hidden = output[0] if isinstance(output, tuple) else output
        peaks.append(float(hidden.abs().max()))

    handles = [block.register_forward_hook(hook) for block in model.encoder.block]
    longest = sorted(range(len(bench.texts)), key=lambda i: -bench.counts[i])[:n_texts]
    with torch.inference_mode():
        for index in longest:
            batch = tokenizer(
                bench.texts[index],
                return_tensors="pt",
                truncation=True,
                max_length=bench.max_seq_length,
            ).to(bench.device)
            model(**batch)
    for handle in handles:
        handle.remove()
    del model
    free_memory(bench.device)
    return max(peaks) if peaks else None


# --------------------------------------------------------------------------------------------
# Table 2: concurrent single queries
# --------------------------------------------------------------------------------------------


def query_texts(bench: Bench) -> list[list[str]]:
    """Per-thread query lists: short corpus texts (<= --query-max-tokens), round-robin."""
    args = bench.args
    pool = [t for t, n in zip(bench.texts, bench.counts, strict=True) if n <= args.query_max_tokens]
    if not pool:  # tiny corpora: fall back to the first words of each text
        pool = [" ".join(text.split()[:8]) for text in bench.texts]
    per_thread = args.queries_per_thread
    return [
        [pool[(thread * per_thread + call) % len(pool)] for call in range(per_thread)]
        for thread in range(args.query_threads)
    ]


def hammer(embed_query: Callable[[str], Any], plan: list[list[str]], device: str) -> LatencyStats:
    """All threads start together; each times its own calls; wall time covers the whole burst."""
    barrier = threading.Barrier(len(plan) + 1)
    latencies: list[list[float]] = [[] for _ in plan]
    failures: list[str] = []

    def worker(index: int) -> None:
        barrier.wait()
        for text in plan[index]:
            start = time.perf_counter()
            try:
                embed_query(text)
            except Exception as exc:  # counted and reported, not raised
                failures.append(f"{type(exc).__name__}: {exc}")
                continue
            latencies[index].append(time.perf_counter() - start)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(plan))]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    cpu_start = time.process_time()
    for thread in threads:
        thread.join()
    synchronize(device)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    if failures:
        log(f"  {len(failures)} failed calls, first: {failures[0]}")
    flat = [value for per_thread in latencies for value in per_thread]
    return LatencyStats(sum(map(len, plan)), len(failures), wall, flat, cpu_seconds=cpu)


@dataclass
class QueryRun:
    system: str
    dtype: str
    stats: LatencyStats | None = None
    error: str | None = None
    forward_passes: int | None = None  # of the burst, when the system counts them
    texts: int | None = None
    graph_replays: int | None = None  # of those passes, replayed CUDA graphs (t5-vectors)
    baseline: bool = False  # the row the others are compared with


def module_available(name: str) -> bool:
    """Whether *name* imports here: LangChain packages are optional (a GPU machine may have only
    torch, transformers and sentence-transformers)."""
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def t5_query_function(encoder: Any) -> tuple[Callable[[str], Any], str]:
    """``T5Embeddings.embed_query`` where LangChain is installed, else what it runs:
    ``T5Encoder.encode([text], kind="query")`` as a list."""
    if module_available("langchain_core"):
        from t5_vectors import T5Embeddings

        return T5Embeddings(encoder=encoder).embed_query, "t5-vectors T5Embeddings"
    return (
        lambda text: encoder.encode([text], kind="query")[0].tolist()
    ), "t5-vectors T5Encoder.encode([q])"


def baseline_query_function(bench: Bench) -> tuple[Callable[[str], Any], str]:
    """``HuggingFaceEmbeddings.embed_query`` where installed, else what it runs:
    sentence-transformers ``encode([text])`` as a list (fp32, one forward pass per call)."""
    if module_available("langchain_huggingface"):
        from langchain_huggingface import HuggingFaceEmbeddings

        embeddings = HuggingFaceEmbeddings(
            model_name=str(bench.path), model_kwargs={"device": bench.device}
        )
        return embeddings.embed_query, "langchain-huggingface"
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(bench.path), device=bench.device)
    return (
        lambda text: model.encode([text], convert_to_numpy=True)[0].tolist()
    ), "sentence-transformers encode([q])"


def lone(embed_query: Callable[[str], Any], texts: list[str], device: str) -> LatencyStats:
    """One caller, one query at a time: each call's latency (the result is on the host)."""
    latencies = []
    start = time.perf_counter()
    cpu_start = time.process_time()
    for text in texts:
        call = time.perf_counter()
        embed_query(text)
        latencies.append(time.perf_counter() - call)
    synchronize(device)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return LatencyStats(len(texts), 0, wall, latencies, cpu_seconds=cpu)


def lone_texts(bench: Bench) -> list[str]:
    flat = [text for texts in query_texts(bench) for text in texts]
    return [flat[i % len(flat)] for i in range(bench.args.lone_queries)]


def query_t5_vectors(
    bench: Bench, plan: list[list[str]], *, cuda_graphs: bool | None = None, burst: bool = True
) -> tuple[QueryRun | None, QueryRun]:
    """t5-vectors' burst (table 2) and lone-query (table 3) runs, after ``warmup()``."""
    from t5_vectors import T5Encoder

    encoder = T5Encoder.from_pretrained(
        str(bench.path), device=bench.device, dtype="auto", cuda_graphs=cuda_graphs
    )
    embed, label = t5_query_function(encoder)
    if encoder.config.cuda_graphs:
        label += ", CUDA graphs"
    elif bench.device.startswith("cuda"):
        label += ", no CUDA graphs"
    dtype = encoder_dtype(encoder, "auto")
    try:
        captured = encoder.warmup()
        log(f"  warmup(): {captured} CUDA graphs captured")
        for text in bench.warmup_texts[:3]:
            embed(text)
        before = encoder.stats()
        lone_run = QueryRun(label, dtype, lone(embed, lone_texts(bench), bench.device))
        passes = encoder.stats() - before
        lone_run.forward_passes, lone_run.texts = passes.forward_passes, passes.texts
        lone_run.graph_replays = passes.graph_replays
        burst_run = None
        if burst:
            before = encoder.stats()
            stats = hammer(embed, plan, bench.device)
            passes = encoder.stats() - before
            burst_run = QueryRun(label, dtype, stats)
            burst_run.forward_passes, burst_run.texts = passes.forward_passes, passes.texts
            burst_run.graph_replays = passes.graph_replays
    finally:
        encoder.close()
    return burst_run, lone_run


def query_baseline(bench: Bench, plan: list[list[str]]) -> tuple[QueryRun, QueryRun]:
    embed, label = baseline_query_function(bench)
    for text in bench.warmup_texts[:3]:
        embed(text)
    # Lone queries first, so that they do not run in the wake of the burst: in one CPU run
    # (load average 19) lone calls after the burst took about 1 s each, 10x a forward pass.
    lone_run = QueryRun(label, "float32", lone(embed, lone_texts(bench), bench.device))
    lone_run.baseline = True
    lone_run.forward_passes = lone_run.texts = bench.args.lone_queries
    stats = hammer(embed, plan, bench.device)
    # embed_query runs sentence-transformers' encode([text]): one forward pass per call.
    burst_run = QueryRun(label, "float32", stats, baseline=True)
    burst_run.forward_passes = burst_run.texts = stats.calls - stats.failures
    return burst_run, lone_run


def run_queries(bench: Bench) -> tuple[list[QueryRun], list[QueryRun]]:
    """Table 2 (concurrent burst) and table 3 (lone queries), t5-vectors first."""
    plan = query_texts(bench)
    bursts: list[QueryRun] = []
    lones: list[QueryRun] = []
    runners: list[tuple[str, Callable[[], tuple[QueryRun | None, QueryRun]]]] = []
    if "t5-vectors" not in bench.args.skip:
        runners.append(("t5-vectors", lambda: query_t5_vectors(bench, plan)))
        if bench.device.startswith("cuda"):  # the same without graphs: what they change
            runners.append(
                (
                    "t5-vectors without CUDA graphs",
                    lambda: query_t5_vectors(bench, plan, cuda_graphs=False, burst=False),
                )
            )
    runners.append(("baseline", lambda: query_baseline(bench, plan)))
    for name, runner in runners:
        log(f"tables 2-3: {name}, lone queries, then {len(plan)} threads x {len(plan[0])} calls")
        try:
            burst_run, lone_run = runner()
        except Exception as exc:
            log(f"  {name} failed: {type(exc).__name__}: {exc}")
            failed = QueryRun(name, "n/a", error=f"{type(exc).__name__}: {exc}")
            failed.baseline = name == "baseline"
            bursts.append(failed)
            lones.append(failed)
            continue
        finally:
            free_memory(bench.device)
        if burst_run is not None:
            bursts.append(burst_run)
        lones.append(lone_run)
    return bursts, lones


def report_queries(bench: Bench, runs: list[QueryRun], report: Report) -> None:
    plan = query_texts(bench)
    lengths = token_counts_for(bench, [text for texts in plan for text in texts])
    baseline = next((r for r in runs if r.baseline and r.stats), None)
    headers = [
        "system",
        "dtype",
        "calls",
        "failed",
        "queries/s",
        "p50 ms",
        "p99 ms",
        "speed-up",
        "forward passes",
        "graph replays",
        "texts / pass",
        "CPU s",
        "queries / CPU s",
        "speed-up per CPU s",
        "share of ceiling",
    ]
    burst_flops = corpus_flops(bench.shape, lengths)
    rows = []
    for run in runs:
        if run.stats is None:
            rows.append([run.system, run.dtype, f"failed: {run.error}", *["n/a"] * 12])
            continue
        passes = str(run.forward_passes) if run.forward_passes is not None else "n/a"
        per_pass = (
            f"{run.texts / run.forward_passes:.1f}"
            if run.forward_passes and run.texts is not None
            else "n/a"
        )
        speedup = run.stats.per_second / baseline.stats.per_second if baseline else float("nan")
        cpu_speedup = (
            run.stats.per_cpu_second / baseline.stats.per_cpu_second if baseline else float("nan")
        )
        rows.append(
            [
                run.system,
                run.dtype,
                str(run.stats.calls),
                str(run.stats.failures),
                fmt_rate(run.stats.per_second),
                f"{run.stats.latency_ms(50):.1f}",
                f"{run.stats.latency_ms(99):.1f}",
                fmt_speedup(speedup),
                passes,
                str(run.graph_replays) if run.graph_replays is not None else "n/a",
                per_pass,
                f"{run.stats.cpu_seconds:.1f}" if run.stats.cpu_seconds is not None else "n/a",
                fmt_rate(run.stats.per_cpu_second),
                fmt_speedup(cpu_speedup),
                fmt_share(burst_share(bench, run, burst_flops)),
            ]
        )
    report.emit(
        f"### Concurrent queries ({len(plan)} threads x {len(plan[0])} single embed_query calls)"
    )
    report.emit()
    report.emit(markdown_table(headers, rows))
    report.emit()
    report.emit(
        f"queries are corpus texts of <= {bench.args.query_max_tokens} tokens "
        f"({length_summary(lengths)} tokens); queries/s = successful calls / wall time of the "
        "burst; latency per call as each thread saw it; speed-up = queries/s ratio to "
        f"{baseline.system if baseline else 'the baseline'} (where langchain-huggingface is not "
        "installed, sentence-transformers' encode([q]), which its embed_query runs); forward "
        "passes = passes the burst took (t5-vectors: counted by `T5Encoder.stats()`, graph "
        "replays = those replayed as CUDA graphs; the baseline runs one per call), texts / pass "
        "= their mean batch; CPU s = CPU time of the whole process during the burst (all "
        "threads), so queries / CPU s is the work per unit of CPU, independent of the share "
        "of a busy machine the process got (32 caller threads doing their own forward "
        "passes get more of an oversubscribed CPU than one worker thread); share of ceiling "
        "= the burst's model FLOPs (each query's unpadded tokens, as in table 1) / wall time "
        "/ the matmul ceiling "
        "of the row's dtype."
    )
    if baseline is not None:
        share = burst_share(bench, baseline, burst_flops)
        if share > 0:
            report.emit()
            report.emit(
                f"Bound: {baseline.system} ran this burst at {fmt_share(share)} of the "
                f"{baseline.dtype} matmul ceiling, so no {baseline.dtype} system can be more than "
                f"{1 / share:.1f}x faster on this machine (it would run at 100% of the ceiling); "
                "a larger speed-up needs a faster dtype (bf16 where the CPU has it) or fewer FLOPs."
            )
    report.emit()


def report_lone(bench: Bench, runs: list[QueryRun], report: Report) -> None:
    baseline = next((r for r in runs if r.baseline and r.stats), None)
    headers = ["system", "dtype", "calls", "p50 ms", "p99 ms", "mean ms", "max ms"]
    headers += ["p50 speed-up", "forward passes", "graph replays", "CPU s"]
    rows = []
    for run in runs:
        if run.stats is None:
            rows.append([run.system, run.dtype, f"failed: {run.error}", *["n/a"] * 8])
            continue
        stats = run.stats
        speedup = (
            baseline.stats.latency_ms(50) / stats.latency_ms(50)
            if baseline and baseline.stats
            else float("nan")
        )
        rows.append(
            [
                run.system,
                run.dtype,
                str(stats.calls),
                f"{stats.latency_ms(50):.2f}",
                f"{stats.latency_ms(99):.2f}",
                f"{1e3 * float(np.mean(stats.latencies)):.2f}",
                f"{1e3 * max(stats.latencies):.2f}",
                fmt_speedup(speedup),
                str(run.forward_passes) if run.forward_passes is not None else "n/a",
                str(run.graph_replays) if run.graph_replays is not None else "n/a",
                f"{stats.cpu_seconds:.1f}" if stats.cpu_seconds is not None else "n/a",
            ]
        )
    report.emit(f"### Lone queries (one caller, {bench.args.lone_queries} single calls in a row)")
    report.emit()
    report.emit(markdown_table(headers, rows))
    report.emit()
    report.emit(
        "the same short corpus texts as table 2, embedded one at a time by one thread after a "
        "warm-up (t5-vectors: `T5Encoder.warmup()`, which captures its CUDA graphs on a GPU); "
        "latency per call includes tokenizing and the copy back to the host; p50 speed-up = the "
        "baseline's p50 / the row's p50."
    )
    report.emit()


def report_attention(bench: Bench, report: Report) -> None:
    """Which SDPA kernel t5-vectors' bulk pass ran on CUDA (from the profiler's kernel names)."""
    from t5_vectors import T5Encoder

    encoder = T5Encoder.from_pretrained(str(bench.path), device=bench.device, dtype="auto")
    try:
        texts = bench.texts[:256]
        encoder.encode(texts)  # warm-up
        kernels = attention_kernels(lambda: encoder.encode(texts))
    finally:
        encoder.close()
        free_memory(bench.device)
    report.emit("### Attention kernel (t5-vectors, bulk pass on CUDA)")
    report.emit()
    report.emit(
        f"- backend: **{attention_backend(kernels)}** (torch.profiler kernel names while "
        f"encoding {len(texts)} corpus texts, dtype {encoder_dtype(encoder, 'auto')})"
    )
    for name, count in kernels[:8]:
        report.emit(f"- `{name[:160]}` x {count}")
    report.emit()


def burst_share(bench: Bench, run: QueryRun, flops: float) -> float:
    """The burst's model FLOP/s as a share of the matmul ceiling of the run's dtype."""
    if run.stats is None or run.stats.wall_seconds <= 0:
        return float("nan")
    dtype = "float32" if run.dtype in ("qint8", "int8") else run.dtype
    ceiling = bench.peak_gflops(dtype) * 1e9
    return flops / run.stats.wall_seconds / ceiling if ceiling > 0 else float("nan")


def token_counts_for(bench: Bench, texts: list[str]) -> list[int]:
    return token_counts(bench.tokenizer, texts, bench.max_seq_length)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_libraries()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    apply_device_defaults(args, device)
    report = Report(args.out)
    bench = prepare(args, device, report)
    runs = run_encode_systems(bench)
    bench.ceiling_end = bench.measure_ceiling()
    report_ceiling(bench, report)
    report_encode(bench, runs, report)
    if device.startswith("cuda") and "t5-vectors" not in args.skip:
        try:
            report_attention(bench, report)
        except Exception as exc:  # a profiler that does not run here must not cost the tables
            log(f"attention kernel probe failed: {type(exc).__name__}: {exc}")
    if "queries" not in args.skip:
        bursts, lones = run_queries(bench)
        report_queries(bench, bursts, report)
        report_lone(bench, lones, report)
    report.save()
    log(f"done in {time.perf_counter() - _START:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
