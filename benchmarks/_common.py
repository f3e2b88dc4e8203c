"""Shared helpers for the t5-vectors benchmarks: checkpoint, corpus, FLOP model, tables.

Nothing here times an embedding system; :mod:`encode` does that. These helpers build (or reuse)
the benchmark checkpoint, sample the offline corpus, measure the matmul ceiling of the device,
count model FLOPs from unpadded token counts, compare vectors by cosine, name the attention
kernels a CUDA pass ran, and render Markdown.

Importing this module puts the repository root on ``sys.path``, so the benchmarks run
``t5_vectors`` from this source tree, installed or not (a GPU machine with only torch,
transformers and sentence-transformers needs nothing else).
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(1, str(REPO_ROOT))  # after the script's own folder

# --------------------------------------------------------------------------------------------
# Checkpoint
# --------------------------------------------------------------------------------------------

#: T5-base-shaped sentence-transformers folder (as sentence-t5-base), random weights.
CHECKPOINT_SPEC: dict[str, Any] = {
    "d_model": 768,
    "num_layers": 12,
    "num_heads": 12,
    "d_ff": 3072,
    "dense_out": 768,
    "variant": "v1_0",
    "max_seq_length": 256,
    "seed": 0,
    # A sentencepiece vocabulary trained on the benchmark corpus itself, so that texts are about
    # as many tokens long as with a real T5 vocabulary (~1.5 tokens per word, not ~4).
    "vocab_size": 8000,
}
#: A tiny checkpoint of the same layout, for smoke runs of the scripts (``--tiny``): its
#: figures measure nothing.
TINY_SPEC: dict[str, Any] = {
    **CHECKPOINT_SPEC,
    "d_model": 64,
    "num_layers": 2,
    "num_heads": 4,
    "d_ff": 128,
    "dense_out": 32,
    "max_seq_length": 64,
    "vocab_size": 1000,
}
_SPEC_FILE = "bench_checkpoint.json"
_REQUIRED_FILES = ("modules.json", "model.safetensors", "config.json", "2_Dense/config.json")


def build_checkpoint(workdir: Path, *, tiny: bool = False) -> tuple[Path, bool]:
    """Return the benchmark checkpoint under *workdir*, building it unless a matching one exists.

    The second element is ``True`` when an existing folder was reused. *tiny* builds
    :data:`TINY_SPEC` instead of the T5-base-shaped :data:`CHECKPOINT_SPEC`.
    """
    spec = TINY_SPEC if tiny else CHECKPOINT_SPEC
    path = workdir / ("st5-tiny-random" if tiny else "st5-base-random")
    spec_path = path / _SPEC_FILE
    complete = all((path / name).exists() for name in (*_REQUIRED_FILES, _SPEC_FILE))
    if complete and json.loads(spec_path.read_text()) == spec:
        return path, True
    from t5_vectors.testing import build_sentence_transformers_checkpoint

    build_sentence_transformers_checkpoint(path, tokenizer_sentences=corpus_paragraphs(), **spec)
    spec_path.write_text(json.dumps(spec, indent=2))
    return path, False


@dataclass(frozen=True)
class ModelShape:
    """What the FLOP model needs to know about the checkpoint."""

    num_layers: int
    d_model: int
    non_embedding_params: int
    dense_params: int
    vocab_size: int


def read_model_shape(path: Path) -> ModelShape:
    """Count parameters from the safetensors headers (no weights are loaded).

    Non-embedding parameters exclude the token embedding and the relative-position bias (a table
    lookup, not a matmul); everything else in the encoder is a per-token matmul weight (or a
    layer-norm scale, which is negligible).
    """
    from safetensors import safe_open

    config = json.loads((path / "config.json").read_text())
    non_embedding = 0
    with safe_open(str(path / "model.safetensors"), framework="pt") as handle:
        for name in handle.keys():  # noqa: SIM118 - safe_open is not a Mapping
            if "embed_tokens" in name or name == "shared.weight":
                continue
            if "relative_attention_bias" in name:
                continue
            non_embedding += int(np.prod(handle.get_slice(name).get_shape()))
    dense_cfg = json.loads((path / "2_Dense" / "config.json").read_text())
    return ModelShape(
        num_layers=int(config["num_layers"]),
        d_model=int(config["d_model"]),
        non_embedding_params=non_embedding,
        dense_params=int(dense_cfg["in_features"]) * int(dense_cfg["out_features"]),
        vocab_size=int(config["vocab_size"]),
    )


def text_flops(shape: ModelShape, tokens: int) -> float:
    """Forward FLOPs for one text of *tokens* (unpadded) tokens.

    ``2 * params * n`` for the matmuls, ``4 * L * n^2 * d_model`` for QK^T and attention x V, and
    ``2 * dense_params`` for the Dense head applied once to the pooled vector.
    """
    matmuls = 2.0 * shape.non_embedding_params * tokens
    attention = 4.0 * shape.num_layers * tokens * tokens * shape.d_model
    return matmuls + attention + 2.0 * shape.dense_params


def corpus_flops(shape: ModelShape, token_counts: Iterable[int]) -> float:
    return sum(text_flops(shape, n) for n in token_counts)


# --------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------

_RULE_LINE = re.compile(r"^\s*([*=\-~^+#_])\1{3,}\s*$")


def _clean_paragraph(paragraph: str) -> str:
    """Drop reStructuredText underline rules (``*****``, ``=====``) and outer whitespace."""
    lines = [line for line in paragraph.splitlines() if not _RULE_LINE.match(line)]
    return "\n".join(lines).strip()


def corpus_paragraphs() -> list[str]:
    """Every distinct paragraph (>= 3 words, with letters) of CPython's ``pydoc_data.topics``."""
    from pydoc_data.topics import topics

    seen: set[str] = set()
    paragraphs: list[str] = []
    for key in sorted(topics):
        for raw in re.split(r"\n\s*\n", topics[key]):
            text = _clean_paragraph(raw)
            if len(text.split()) < 3 or not re.search(r"[A-Za-z]{2}", text) or text in seen:
                continue
            seen.add(text)
            paragraphs.append(text)
    return paragraphs


def sample_corpus(n_docs: int, seed: int, *, repeat: bool = False) -> list[str]:
    """A deterministic random sample of *n_docs* paragraphs.

    Fewer if the pool is smaller, unless *repeat*: then the shuffled pool is cycled, each
    later copy of a paragraph prefixed with its copy number (``"(2) "``), so that a GPU gets a
    corpus long enough to time (the pool has about 1,800 paragraphs).
    """
    pool = corpus_paragraphs()
    rng = random.Random(seed)
    if not repeat or n_docs <= len(pool):
        return rng.sample(pool, min(n_docs, len(pool)))
    order = rng.sample(pool, len(pool))
    return [
        order[i % len(pool)] if i < len(pool) else f"({i // len(pool) + 1}) {order[i % len(pool)]}"
        for i in range(n_docs)
    ]


def token_counts(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[int]:
    """Unpadded token counts (special tokens included) after truncation at *max_length*."""
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
    return [len(ids) for ids in encoded["input_ids"]]


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def length_summary(counts: Sequence[int]) -> str:
    return (
        f"min {min(counts)} / median {percentile(counts, 50):.0f} / p90 "
        f"{percentile(counts, 90):.0f} / max {max(counts)}"
    )


# --------------------------------------------------------------------------------------------
# Device, environment, matmul ceiling
# --------------------------------------------------------------------------------------------


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch.cuda.is_available() is False on this machine")
    return name


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def attention_kernels(run: Callable[[], Any]) -> list[tuple[str, int]]:
    """The CUDA kernels that *run* launched whose names say attention, with their counts.

    Profiled with ``torch.profiler``; names of the memory-efficient kernel hold ``fmha`` or
    ``efficient``, flash ``flash``, cuDNN ``cudnn``; the math fallback shows no such kernel,
    only matmuls and a softmax (:func:`attention_backend` says which).
    """
    from torch.profiler import ProfilerActivity, profile

    cuda = torch.cuda.is_available()
    with profile(activities=[ProfilerActivity.CUDA if cuda else ProfilerActivity.CPU]) as prof:
        run()
        if cuda:
            torch.cuda.synchronize()
    keys = ("fmha", "attention", "attn", "flash", "softmax", "sdpa", "cudnn")
    counts: dict[str, int] = {}
    for event in prof.events():
        if "CUDA" not in str(getattr(event, "device_type", "")):
            continue
        name = str(event.name)
        if any(key in name.lower() for key in keys):
            counts[name] = counts.get(name, 0) + 1
    return sorted(counts.items(), key=lambda item: -item[1])


def attention_backend(kernels: Sequence[tuple[str, int]]) -> str:
    """``"cudnn"``, ``"flash"``, ``"memory-efficient"`` or ``"math"`` from kernel names."""
    names = " ".join(name.lower() for name, _count in kernels)
    if "cudnn" in names:
        return "cudnn"
    if "flash" in names:
        return "flash"
    if "fmha" in names or "efficient" in names or "mem_eff" in names:
        return "memory-efficient"
    return "math" if "softmax" in names else "none seen"


def free_memory(device: str) -> None:
    import gc

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags(wanted: Sequence[str] = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")) -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    return [flag for flag in wanted if flag in flags]


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment_lines(device: str) -> list[str]:
    """Markdown bullet lines describing the machine and library versions."""
    import transformers

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    cpu = f"{cpu_model()}, {usable_cpus()} usable CPUs, flags: {' '.join(cpu_flags()) or 'n/a'}"
    lines = [
        f"- date: {now}",
        f"- python {platform.python_version()} on {platform.platform()}",
        f"- CPU: {cpu}",
    ]
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        lines.append(
            f"- GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB, "
            f"CUDA {torch.version.cuda}, "
            f"TF32 matmul allowed: {torch.backends.cuda.matmul.allow_tf32}"
        )
    lines += [
        f"- device: `{device}`, torch intra-op threads: {torch.get_num_threads()}",
        f"- torch {torch.__version__}, transformers {transformers.__version__}, "
        f"sentence-transformers {package_version('sentence-transformers')}, "
        f"langchain-huggingface {package_version('langchain-huggingface')}, "
        f"t5-vectors {package_version('t5-vectors')}",
    ]
    return lines


DTYPE_NAMES: dict[torch.dtype, str] = {
    torch.float32: "float32",
    torch.bfloat16: "bfloat16",
    torch.float16: "float16",
}


def dtype_name(dtype: Any) -> str:
    """``torch.bfloat16`` / ``"bf16"`` / ``"bfloat16"`` -> ``"bfloat16"``."""
    if isinstance(dtype, torch.dtype):
        return DTYPE_NAMES.get(dtype, str(dtype).removeprefix("torch."))
    text = str(dtype).removeprefix("torch.").lower()
    aliases = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16"}
    return aliases.get(text, text)


def ceiling_dtypes(device: str) -> list[torch.dtype]:
    """Dtypes whose matmul ceiling is measured: bfloat16 on CPU only where it is native.

    Without AVX512-BF16/AMX, torch emulates bf16 matmul at ~2% of the fp32 rate; timing it
    would take minutes and compare nothing (t5-vectors' "auto" is float32 there).
    """
    from t5_vectors.encoder.precision import cpu_has_native_bf16

    if device.startswith("cuda"):
        return [torch.float32, torch.bfloat16, torch.float16]
    return [torch.float32, torch.bfloat16] if cpu_has_native_bf16() else [torch.float32]


@dataclass(frozen=True)
class Ceiling:
    """Matmul GFLOP/s of one dtype: the best call and the median call of a timed window."""

    best: float
    median: float
    calls: int


def matmul_gflops(
    device: str, dtype: torch.dtype, size: int, seconds: float, warmup_seconds: float
) -> Ceiling:
    """Time back-to-back ``size x size @ size x size`` matmuls for *seconds* after a warm-up.

    Windows in seconds (not a fixed rep count) because shared/virtual CPUs change speed over
    seconds; the best call is the ceiling, the median shows how steady the machine was.
    """
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
    times: list[float] = []
    with torch.inference_mode():
        for window, keep in ((warmup_seconds, False), (seconds, True)):
            window_start = time.perf_counter()
            calls = 0
            while calls < 3 or time.perf_counter() - window_start < window:
                start = time.perf_counter()
                torch.matmul(a, b)
                synchronize(device)
                calls += 1
                if keep:
                    times.append(time.perf_counter() - start)
    flops = 2.0 * size**3
    return Ceiling(flops / min(times) / 1e9, flops / float(np.median(times)) / 1e9, len(times))


def matmul_ceiling(device: str, size: int, seconds: float) -> dict[str, Ceiling]:
    """Per dtype name (``"float32"``, ``"bfloat16"``, and ``"float16"`` on CUDA)."""
    return {
        dtype_name(dtype): matmul_gflops(device, dtype, size, seconds, warmup_seconds=seconds / 3)
        for dtype in ceiling_dtypes(device)
    }


# --------------------------------------------------------------------------------------------
# Vectors
# --------------------------------------------------------------------------------------------


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0.0, 1.0, norms)


def cosine_to_reference(vectors: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Row-wise cosine between *vectors* and the first ``len(vectors)`` reference rows."""
    reference = reference[: len(vectors)]
    return np.sum(unit_rows(vectors) * unit_rows(reference), axis=1)


def centered_cosine_to_reference(
    vectors: np.ndarray, reference: np.ndarray, mean: np.ndarray
) -> np.ndarray:
    """Cosine after subtracting the reference corpus mean from both (removes the shared direction).

    Random-weight encoders are anisotropic: every text points roughly the same way, so the plain
    cosine to the reference flatters a system. Centering removes that common component.
    """
    reference = reference[: len(vectors)]
    return cosine_to_reference(unit_rows(vectors) - mean, unit_rows(reference) - mean)


@dataclass(frozen=True)
class ReferenceHealth:
    """Sanity facts about the fp32 reference vectors."""

    non_finite: int
    norm_min: float
    norm_max: float
    pairwise_cos_mean: float
    pairwise_cos_min: float
    pairwise_cos_max: float

    @property
    def degenerate(self) -> bool:
        return self.non_finite > 0 or self.pairwise_cos_min > 0.99


def reference_health(reference: np.ndarray, max_rows: int = 512) -> ReferenceHealth:
    """Non-finite count, norms, and cosine between *different* texts (anisotropy)."""
    finite = np.isfinite(reference).all(axis=1)
    norms = np.linalg.norm(reference[finite], axis=1) if finite.any() else np.zeros(1)
    rows = unit_rows(reference[finite][:max_rows])
    sims = rows @ rows.T
    off_diagonal = sims[~np.eye(len(rows), dtype=bool)] if len(rows) > 1 else np.ones(1)
    return ReferenceHealth(
        non_finite=int(np.size(reference) - np.isfinite(reference).sum()),
        norm_min=float(norms.min()),
        norm_max=float(norms.max()),
        pairwise_cos_mean=float(off_diagonal.mean()),
        pairwise_cos_min=float(off_diagonal.min()),
        pairwise_cos_max=float(off_diagonal.max()),
    )


# --------------------------------------------------------------------------------------------
# Timing and Markdown
# --------------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], device: str) -> tuple[float, Any]:
    """Seconds taken by ``fn()`` (device synchronized on both ends) and its result."""
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return time.perf_counter() - start, result


@dataclass
class LatencyStats:
    calls: int
    failures: int
    wall_seconds: float
    latencies: list[float] = field(default_factory=list)
    #: CPU time the whole process used during the run (all threads), when measured.
    cpu_seconds: float | None = None

    @property
    def per_cpu_second(self) -> float:
        """Successful calls per CPU-second: the work done per unit of CPU, whatever share of a
        busy machine the process was scheduled."""
        if not self.cpu_seconds:
            return float("nan")
        return (self.calls - self.failures) / self.cpu_seconds

    @property
    def per_second(self) -> float:
        return (self.calls - self.failures) / self.wall_seconds if self.wall_seconds else 0.0

    def latency_ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1e3 if self.latencies else float("nan")


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; the first column is left-aligned, the rest right."""
    align = [":---"] + ["---:"] * (len(headers) - 1)
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def fmt_rate(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_share(value: float) -> str:
    return "n/a" if value != value else f"{100.0 * value:.1f}%"


def fmt_cos(value: float) -> str:
    return "n/a" if value != value else f"{value:.4f}"


def fmt_speedup(value: float) -> str:
    return "n/a" if value != value else f"{value:.2f}x"
