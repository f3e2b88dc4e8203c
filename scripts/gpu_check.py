"""GPU checks of the encoder on the T5-base-shaped benchmark checkpoint, for one device session.

Run by ``scripts/gpu_check.sh`` (which also runs the CUDA tests and ``benchmarks/encode.py``); needs
only torch, transformers and sentence-transformers, with ``t5_vectors`` from this source tree.
Each section is timed and guarded on its own, so one failure does not cost the others:

1. **graphs vs eager** -- lone queries through CUDA graphs against the same encoder without them
   (bf16 and fp32): cosine and largest difference.
2. **cosine to fp32** -- corpus vectors of t5-vectors (bf16 ``auto``, fp32) against
   sentence-transformers fp32 (the issue asks >= 0.999 for bf16).
3. **no host sync** -- one bulk batch through the fused forward, pooling and the runner's launch
   under ``torch.cuda.set_sync_debug_mode("error")``.
4. **kernels** -- a profile of one bulk forward pass: the attention backend, the top kernels by
   GPU time and how many kernels a pass launches (bulk, a lone query eager, a graph replay).
5. **variants** -- GPU time of one bulk forward (about 64k tokens, real corpus lengths) under each
   SDPA backend and with exact vs fused norms, as TFLOP/s and share of the bf16 ceiling measured
   here; then ``encode()`` of the whole corpus, whose share next to the forward's shows what
   tokenizing, staging and the pipeline cost.
6. **lone-query latency** -- p50/p99 of single queries, with and without graphs.
7. **tokenizer** -- tokens/s of the encoder's tokenizer on the corpus (is it the bound?).

Writes ``check.md`` and ``check.json`` under ``--out``. Never claims more than it measured.
``--device cpu --tiny`` runs every section on CPU with a tiny checkpoint (graphs and sync checks
become no-ops there): a smoke run that keeps this script working between device sessions; its
figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(1, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import (  # noqa: E402
    attention_backend,
    attention_kernels,
    build_checkpoint,
    corpus_flops,
    matmul_gflops,
    read_model_shape,
    sample_corpus,
)

from t5_vectors import T5Encoder  # noqa: E402
from t5_vectors.encoder._batching import BatchItem  # noqa: E402
from t5_vectors.encoder._forward import FastT5Forward  # noqa: E402
from t5_vectors.encoder._graphs import GraphCache  # noqa: E402
from t5_vectors.encoder._runner import BatchRunner, stage_batch  # noqa: E402
from t5_vectors.encoder.tokenize import TextTokenizer  # noqa: E402

RESULTS: dict[str, Any] = {}
LINES: list[str] = []
_START = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _START:6.1f}s] {message}", file=sys.stderr, flush=True)


def emit(line: str = "") -> None:
    print(line, flush=True)
    LINES.append(line)


def section(name: str, fn: Callable[[], None]) -> None:
    log(f"section: {name}")
    started = time.perf_counter()
    try:
        fn()
        RESULTS.setdefault("sections", {})[name] = "ok"
    except Exception as exc:  # reported, and the next section runs
        RESULTS.setdefault("sections", {})[name] = f"failed: {type(exc).__name__}: {exc}"
        emit(f"**{name} failed**: `{type(exc).__name__}: {exc}`")
        traceback.print_exc()
    emit(f"({name}: {time.perf_counter() - started:.1f}s)")
    emit()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return (a64 * b64).sum(1) / (np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1))


class Check:
    """The checkpoint, corpus and loaded encoders shared by the sections."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.device = torch.device(args.device)
        self.cuda = self.device.type == "cuda"
        self.path, _ = build_checkpoint(args.workdir, tiny=args.tiny)
        self.shape = read_model_shape(self.path)
        self.texts = sample_corpus(args.docs, 0, repeat=True)
        self.bf16 = self.encoder("bfloat16")
        self.bf16_eager = self.encoder("bfloat16", cuda_graphs=False)
        self.fp32 = self.encoder("float32")
        lengths = [len(ids) for ids in self.bf16.tokenize(self.texts)]
        self.lengths = lengths
        self.queries = [t for t, n in zip(self.texts, lengths, strict=True) if n <= 48][:300]

    def encoder(self, dtype: str, cuda_graphs: bool | None = None) -> T5Encoder:
        return T5Encoder.from_pretrained(
            self.path, device=self.device, dtype=dtype, cuda_graphs=cuda_graphs
        )

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    # --------------------------------------------------------------------- 1. graphs vs eager
    def graphs_vs_eager(self) -> None:
        emit("### 1. CUDA graphs vs the eager pass (lone queries)")
        emit()
        fp32_eager = self.encoder("float32", cuda_graphs=False)
        rows = []
        for name, graphs, eager in (
            ("bfloat16", self.bf16, self.bf16_eager),
            ("float32", self.fp32, fp32_eager),
        ):
            captured = graphs.warmup()
            before = graphs.stats()
            ours = np.concatenate([graphs.encode([q], kind="query") for q in self.queries])
            replays = (graphs.stats() - before).graph_replays
            theirs = np.concatenate([eager.encode([q], kind="query") for q in self.queries])
            cos = cosines(ours, theirs)
            diff = float(np.abs(ours - theirs).max())
            RESULTS[f"graphs_vs_eager_{name}"] = {
                "queries": len(self.queries),
                "graphs_captured": captured,
                "graph_replays": replays,
                "cos_min": float(cos.min()),
                "max_abs_diff": diff,
            }
            rows.append(
                f"| {name} | {len(self.queries)} | {captured} | {replays} | {cos.min():.6f} | "
                f"{diff:.2e} |"
            )
        fp32_eager.close()
        emit("| dtype | queries | graphs captured | replays | cos min | max abs diff |")
        emit("| :--- | ---: | ---: | ---: | ---: | ---: |")
        for row in rows:
            emit(row)

    # ------------------------------------------------------------------- 2. cosine to fp32
    def cosine_to_fp32(self) -> None:
        from sentence_transformers import SentenceTransformer

        emit("### 2. Cosine to sentence-transformers fp32 (corpus)")
        emit()
        texts = self.texts[: self.args.cos_docs]
        reference = SentenceTransformer(str(self.path), device=str(self.device)).encode(
            texts, batch_size=64, convert_to_numpy=True
        )
        emit("| t5-vectors | texts | cos mean | cos min |")
        emit("| :--- | ---: | ---: | ---: |")
        for name, encoder in (("bfloat16 (auto)", self.bf16), ("float32", self.fp32)):
            cos = cosines(encoder.encode(texts), reference)
            RESULTS[f"cos_to_fp32_{name.split()[0]}"] = {
                "mean": float(cos.mean()),
                "min": float(cos.min()),
            }
            emit(f"| {name} | {len(texts)} | {cos.mean():.6f} | {cos.min():.6f} |")

    # ---------------------------------------------------------------------- 3. no host sync
    def no_host_sync(self) -> None:
        emit("### 3. No host synchronisation in the pass")
        emit()
        encoder = self.bf16
        fast = FastT5Forward(encoder.model)
        pad = int(encoder.tokenizer.pad_token_id)
        rows = encoder.tokenize(self.texts[:256])
        items = [BatchItem(None, i, row, 0) for i, row in enumerate(rows)]  # type: ignore[arg-type]

        def forward(ids: torch.Tensor, mask: torch.Tensor, padded: bool) -> torch.Tensor:
            return fast(ids, mask, padded=padded)  # type: ignore[no-any-return]

        cache = GraphCache(fast, encoder.head, self.device, pad_id=pad, capture=self.cuda)
        runner = BatchRunner(forward, encoder.head, device=self.device, pad_id=pad, graphs=cache)
        runner.launch(items, True, False).collect()  # warm
        runner.launch(items[:4], True, False).collect()  # captures its bucket
        self.sync()
        outcome = {}
        for name, batch in (("bulk (eager)", items), ("4 texts (graph)", items[:4])):
            if self.cuda:
                torch.cuda.set_sync_debug_mode("error")
            try:
                handle = runner.launch(batch, True, False)
                outcome[name] = "no sync" if self.cuda else "ran (no sync check on CPU)"
            except RuntimeError as exc:
                outcome[name] = f"SYNC: {exc}"
                continue
            finally:
                if self.cuda:
                    torch.cuda.set_sync_debug_mode(0)
            handle.collect()
        RESULTS["no_host_sync"] = outcome
        for name, verdict in outcome.items():
            emit(f"- {name}: {verdict}")

    # ---------------------------------------------------------------------------- 4. kernels
    def bulk_batch(self, tokens: int = 65536) -> tuple[torch.Tensor, torch.Tensor, int]:
        """About *tokens* padded tokens of real corpus lengths, longest first (as batched)."""
        order = sorted(range(len(self.texts)), key=lambda i: -self.lengths[i])
        picked: list[int] = []
        for index in order[len(order) // 4 :]:  # typical lengths, not only the longest
            width = max(self.lengths[picked[0]] if picked else 0, self.lengths[index])
            if width * (len(picked) + 1) > tokens or len(picked) >= 1024:
                break
            picked.append(index)
        rows = self.bf16.tokenize([self.texts[i] for i in picked])
        ids, mask = stage_batch(rows, pad_id=0, multiple=8)
        real = sum(len(r) for r in rows)
        return ids.to(self.device), mask.to(self.device), real

    def kernels(self) -> None:
        from torch.profiler import ProfilerActivity, profile

        emit("### 4. Kernels of one bulk forward pass (bf16)")
        emit()
        fast = FastT5Forward(self.bf16.model)
        head = self.bf16.head
        ids, mask, real = self.bulk_batch()
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if self.cuda else [])
        with torch.inference_mode():
            for _ in range(2):
                head(fast(ids, mask, padded=True), mask)
            self.sync()
            with profile(activities=activities) as prof:
                head(fast(ids, mask, padded=True), mask)
                self.sync()
        sort = "self_cuda_time_total" if self.cuda else "self_cpu_time_total"
        table = prof.key_averages().table(sort_by=sort, row_limit=25)
        (self.args.out / "profile.txt").write_text(table)
        launched = sum(1 for e in prof.events() if "CUDA" in str(getattr(e, "device_type", "")))
        kernels = attention_kernels(lambda: head(fast(ids, mask, padded=True), mask))
        backend = attention_backend(kernels)
        lone = self.lone_kernel_count(fast, head)
        RESULTS["kernels"] = {
            "batch": list(ids.shape),
            "real_tokens": real,
            "attention_backend": backend,
            "attention_kernels": kernels[:6],
            "kernels_per_bulk_pass": launched,
            "kernels_per_lone_query_eager": lone,
        }
        emit(f"- batch {tuple(ids.shape)}, {real:,} real tokens; attention backend: **{backend}**")
        for name, count in kernels[:6]:
            emit(f"  - `{name[:150]}` x {count}")
        emit(f"- GPU kernels per bulk pass: {launched}; per lone query (eager): {lone}")
        emit("- top kernels by GPU time: profile.txt")

    def lone_kernel_count(self, fast: FastT5Forward, head: Any) -> int:
        from torch.profiler import ProfilerActivity, profile

        ids = torch.randint(3, 100, (1, 16), device=self.device)
        mask = torch.ones_like(ids, dtype=torch.bool)
        activities = [ProfilerActivity.CUDA] if self.cuda else [ProfilerActivity.CPU]
        with torch.inference_mode():
            head(fast(ids, mask, padded=False), mask)
            self.sync()
            with profile(activities=activities) as prof:
                head(fast(ids, mask, padded=False), mask)
                self.sync()
        return sum(1 for e in prof.events() if "CUDA" in str(getattr(e, "device_type", "")))

    # --------------------------------------------------------------------------- 5. variants
    def variants(self) -> None:
        from torch.nn.attention import SDPBackend, sdpa_kernel

        emit("### 5. One bulk forward pass (bf16): variants, GPU time")
        emit()
        size, seconds = (8192, 3.0) if self.cuda else (512, 0.5)
        ceiling = matmul_gflops(str(self.device), torch.bfloat16, size, seconds, seconds / 3).best
        RESULTS["bf16_ceiling_gflops"] = ceiling
        ids, mask, real = self.bulk_batch()
        lengths = mask.sum(1).tolist()
        flops = corpus_flops(self.shape, lengths)
        fast = FastT5Forward(self.bf16.model)
        head = self.bf16.head
        backends = {
            "default": None,
            "memory-efficient": SDPBackend.EFFICIENT_ATTENTION,
            "cudnn": SDPBackend.CUDNN_ATTENTION,
            "math": SDPBackend.MATH,
        }
        rows = []
        for norm in ("fused", "exact"):
            fast.fused_norm = norm == "fused"
            for name, backend in backends.items():
                try:
                    seconds = self.pass_time(fast, head, ids, mask, backend, sdpa_kernel)
                except Exception as exc:  # a backend that refuses this input
                    rows.append(f"| {norm} | {name} | refused: {type(exc).__name__} | | |")
                    continue
                rate = flops / seconds / 1e12
                RESULTS.setdefault("variants", {})[f"{norm}/{name}"] = {
                    "ms": seconds * 1e3,
                    "tflops": rate,
                    "share": rate * 1e3 / ceiling,
                }
                rows.append(
                    f"| {norm} | {name} | {seconds * 1e3:.2f} | {rate:.1f} | "
                    f"{100 * rate * 1e3 / ceiling:.1f}% |"
                )
        fast.fused_norm = None
        emit(
            f"batch {tuple(ids.shape)}, {real:,} real tokens, {flops / 1e12:.2f} model TFLOP; "
            f"bf16 matmul ceiling measured here: {ceiling / 1e3:.0f} TFLOP/s"
        )
        emit()
        emit("| norms | SDPA backend | ms per pass | model TFLOP/s | share of ceiling |")
        emit("| :--- | :--- | ---: | ---: | ---: |")
        for row in rows:
            emit(row)
        emit()
        self.pipeline(ceiling)

    def pass_time(
        self,
        fast: FastT5Forward,
        head: Any,
        ids: torch.Tensor,
        mask: torch.Tensor,
        backend: Any,
        sdpa_kernel: Any,
        repeats: int = 5,
    ) -> float:
        import contextlib

        context = sdpa_kernel([backend]) if backend is not None else contextlib.nullcontext()
        with torch.inference_mode(), context:
            head(fast(ids, mask, padded=True), mask)  # warm-up, and refusal shows here
            self.sync()
            if not self.cuda:
                started = time.perf_counter()
                for _ in range(repeats):
                    head(fast(ids, mask, padded=True), mask)
                return (time.perf_counter() - started) / repeats
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(repeats):
                head(fast(ids, mask, padded=True), mask)
            end.record()
            torch.cuda.synchronize()
        return float(start.elapsed_time(end)) / 1e3 / repeats

    def pipeline(self, ceiling: float) -> None:
        """``encode()`` of the whole corpus: tokens/s and share of the bf16 ceiling."""
        encoder = self.bf16
        texts = self.texts
        encoder.encode(texts[:2048])  # warm
        self.sync()
        started = time.perf_counter()
        encoder.encode(texts)
        encode_s = time.perf_counter() - started
        tokens = sum(self.lengths)
        flops = corpus_flops(self.shape, self.lengths)
        RESULTS["encode_bf16"] = {
            "texts": len(texts),
            "tokens": tokens,
            "seconds": encode_s,
            "tokens_per_s": tokens / encode_s,
            "share": flops / encode_s / (ceiling * 1e9),
        }
        emit(
            f"- `encode()` of {len(texts):,} texts ({tokens:,} tokens), bf16: {encode_s:.2f} s, "
            f"{tokens / encode_s:,.0f} tokens/s, {100 * flops / encode_s / (ceiling * 1e9):.1f}% "
            "of the bf16 ceiling (model FLOPs of unpadded tokens)"
        )

    # ----------------------------------------------------------------- 6. lone-query latency
    def latency(self) -> None:
        emit("### 6. Lone queries: latency per call (one caller, after warmup())")
        emit()
        emit("| encoder | calls | p50 ms | p99 ms | max ms | graph replays |")
        emit("| :--- | ---: | ---: | ---: | ---: | ---: |")
        for name, encoder in (("bf16, CUDA graphs", self.bf16), ("bf16, eager", self.bf16_eager)):
            encoder.warmup()
            for query in self.queries[:10]:
                encoder.encode([query], kind="query")
            before = encoder.stats()
            times = []
            for query in self.queries:
                started = time.perf_counter()
                encoder.encode([query], kind="query")
                times.append(time.perf_counter() - started)
            replays = (encoder.stats() - before).graph_replays
            p50, p99 = (float(np.percentile(times, q)) * 1e3 for q in (50, 99))
            RESULTS[f"lone_{name}"] = {"p50_ms": p50, "p99_ms": p99, "replays": replays}
            emit(
                f"| {name} | {len(times)} | {p50:.2f} | {p99:.2f} | {1e3 * max(times):.2f} | "
                f"{replays} |"
            )

    # --------------------------------------------------------------------------- 7. tokenizer
    def tokenizer(self) -> None:
        emit("### 7. Tokenizer throughput (the encoder's, on the corpus)")
        emit()
        tokenizer = TextTokenizer(self.bf16.tokenizer, max_length=self.bf16.max_length)
        tokenizer.encode(self.texts[:256])
        started = time.perf_counter()
        ids, _ = tokenizer.encode(self.texts)
        seconds = time.perf_counter() - started
        tokens = sum(len(row) for row in ids)
        RESULTS["tokenizer_tokens_per_s"] = tokens / seconds
        rate = tokens / seconds
        emit(f"- {len(self.texts):,} texts, {tokens:,} tokens in {seconds:.2f} s: {rate:,.0f}/s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out" / "gpu_check")
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench_out")
    parser.add_argument("--docs", type=int, default=24_000)
    parser.add_argument("--cos-docs", type=int, default=4_000)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--tiny", action="store_true", help="tiny checkpoint: a smoke run")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: torch sees no CUDA GPU here (--device cpu --tiny: a smoke run)")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    where = torch.cuda.get_device_name(0) if args.device == "cuda" else "CPU (smoke run)"
    emit(f"## GPU check: {where}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    if args.tiny:
        emit("**--tiny: a smoke run of the script; no figure below means anything.**")
    emit()
    log("loading the T5-base-shaped checkpoint (built on first use)")
    check = Check(args)
    tokens = sum(check.lengths)
    emit(f"- corpus: {len(check.texts):,} texts, {tokens:,} tokens; checkpoint {check.path}")
    emit()
    section("graphs vs eager", check.graphs_vs_eager)
    section("cosine to fp32", check.cosine_to_fp32)
    section("no host sync", check.no_host_sync)
    section("kernels", check.kernels)
    section("variants", check.variants)
    section("lone-query latency", check.latency)
    section("tokenizer", check.tokenizer)
    for encoder in (check.bf16, check.bf16_eager, check.fp32):
        encoder.close()
    (args.out / "check.md").write_text("\n".join(LINES) + "\n")
    (args.out / "check.json").write_text(json.dumps(RESULTS, indent=2, default=str))
    failed = [name for name, state in RESULTS["sections"].items() if state != "ok"]
    log(f"done; failed sections: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
