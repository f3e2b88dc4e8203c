"""Open-loop load on the embedded store: offered vs achieved rate, latency percentiles, errors.

A fixed offered load (``--rate`` queries/s for ``--duration`` s, default 1,000 q/s for 60 s) of
``similarity_search`` calls runs against a ``T5QdrantVectorStore`` over embedded Qdrant
(qdrant-client local mode, in memory or ``--storage disk``; or Qdrant Edge, ``--storage edge``,
the default embedded backend for new folders) holding a pre-ingested corpus
(``--corpus`` paragraphs of CPython's ``pydoc_data.topics``).

* **Open loop** -- query *i* is due at ``start + i / rate`` whatever happened to the earlier ones.
  Its latency is measured from that due time, not from when it was actually handed to a worker,
  so time spent queued behind a saturated system is counted (no coordinated omission). A query
  still unfinished ``--drain`` seconds after the last one was due counts as unfinished.
* **Modes** -- ``--mode threads`` (default): a dispatcher thread hands each due query to a pool of
  ``--workers`` threads calling ``similarity_search``. ``--mode async``: one event loop starts an
  ``asimilarity_search`` task per due query (embedded Qdrant then searches inline on the loop,
  while the query embedding awaits the encoder's micro-batcher).
* **Coalescing** -- a forward hook counts the encoder's forward passes: queries per forward pass
  says how many concurrent queries the micro-batcher merged.
* **Model** -- by default the T5-base-shaped benchmark checkpoint of ``_common.py`` (random
  weights; cached under ``--workdir``); ``--tiny`` uses a tiny checkpoint (d_model 32) to check
  the harness itself, or ``--model`` any hub id or folder.

Run ``python benchmarks/load.py`` for the full run, or ``--tiny --rate 100 --duration 3`` for a
quick check. A Markdown table goes to stdout (``--json PATH`` also writes the numbers), progress
to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from _common import (
    build_checkpoint,
    corpus_paragraphs,
    environment_lines,
    markdown_table,
    percentile,
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------


@dataclass
class Recorder:
    """Latencies from due time, errors, and how late the dispatcher sent each query."""

    due: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    send_lag: list[float] = field(default_factory=list)
    last_done: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def done(self, due_at: float, error: BaseException | None) -> None:
        now = time.perf_counter()
        with self.lock:
            self.last_done = max(self.last_done, now)
            if error is None:
                self.latencies.append(now - due_at)
            else:
                self.errors[f"{type(error).__name__}: {str(error)[:80]}"] += 1


@dataclass
class Result:
    mode: str
    offered_rate: float
    duration_s: float
    due: int
    succeeded: int
    errors: int
    unfinished: int
    achieved_rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    send_lag_p99_ms: float
    forward_passes: int
    queries_per_forward: float
    error_kinds: dict[str, int]


def summarize(
    mode: str, rate: float, duration: float, start: float, recorder: Recorder, forwards: int
) -> Result:
    lat = recorder.latencies
    succeeded = len(lat)
    errors = sum(recorder.errors.values())
    elapsed = max(recorder.last_done - start, duration) if succeeded else duration
    ms = [x * 1e3 for x in lat]
    return Result(
        mode=mode,
        offered_rate=rate,
        duration_s=duration,
        due=recorder.due,
        succeeded=succeeded,
        errors=errors,
        unfinished=recorder.due - succeeded - errors,
        achieved_rate=succeeded / elapsed,
        p50_ms=percentile(ms, 50) if ms else float("nan"),
        p90_ms=percentile(ms, 90) if ms else float("nan"),
        p99_ms=percentile(ms, 99) if ms else float("nan"),
        max_ms=max(ms) if ms else float("nan"),
        send_lag_p99_ms=percentile([x * 1e3 for x in recorder.send_lag], 99)
        if recorder.send_lag
        else float("nan"),
        forward_passes=forwards,
        queries_per_forward=(succeeded + errors) / forwards if forwards else float("nan"),
        error_kinds=dict(recorder.errors.most_common(5)),
    )


# --------------------------------------------------------------------------------------------
# Load generators
# --------------------------------------------------------------------------------------------


def run_threads(
    store: Any, queries: Sequence[str], args: argparse.Namespace
) -> tuple[float, Recorder]:
    """Dispatch due queries to a thread pool; latency from each query's due time."""
    recorder = Recorder()
    total = int(args.rate * args.duration)
    pool = ThreadPoolExecutor(max_workers=args.workers, thread_name_prefix="load")
    pending: list[Any] = []

    def one(query: str, due_at: float) -> None:
        try:
            store.similarity_search(query, k=args.k)
        except Exception as err:  # counted, never raised
            recorder.done(due_at, err)
        else:
            recorder.done(due_at, None)

    start = time.perf_counter() + 0.05
    for i in range(total):
        due_at = start + i / args.rate
        delay = due_at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        recorder.send_lag.append(max(0.0, time.perf_counter() - due_at))
        pending.append(pool.submit(one, queries[i % len(queries)], due_at))
        recorder.due += 1
    deadline = start + args.duration + args.drain
    for future in pending:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            break
        try:
            future.result(timeout=remaining)
        except Exception:  # timeouts: counted as unfinished
            break
    pool.shutdown(wait=False, cancel_futures=True)
    return start, recorder


def run_async(
    store: Any, queries: Sequence[str], args: argparse.Namespace
) -> tuple[float, Recorder]:
    """One event loop; a task per due query calling ``asimilarity_search``."""
    recorder = Recorder()
    total = int(args.rate * args.duration)

    async def one(query: str, due_at: float) -> None:
        try:
            await store.asimilarity_search(query, k=args.k)
        except Exception as err:
            recorder.done(due_at, err)
        else:
            recorder.done(due_at, None)

    async def main() -> float:
        start = time.perf_counter() + 0.05
        tasks = []
        for i in range(total):
            due_at = start + i / args.rate
            delay = due_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            recorder.send_lag.append(max(0.0, time.perf_counter() - due_at))
            tasks.append(asyncio.create_task(one(queries[i % len(queries)], due_at)))
            recorder.due += 1
        remaining = start + args.duration + args.drain - time.perf_counter()
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=max(0.0, remaining))
            for task in late:
                task.cancel()
        return start

    return asyncio.run(main()), recorder


# --------------------------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------------------------


def load_encoder(args: argparse.Namespace) -> Any:
    from t5_vectors import T5Encoder

    if args.tiny:
        from t5_vectors.testing import build_sentence_transformers_checkpoint

        path = args.workdir / "load-tiny"
        if not (path / "modules.json").exists():
            build_sentence_transformers_checkpoint(path, seed=0)
        name: str | Path = path
    elif args.model:
        name = args.model
    else:
        name, reused = build_checkpoint(args.workdir)
        log(f"benchmark checkpoint {'reused' if reused else 'built'} at {name}")
    return T5Encoder.from_pretrained(name, device=args.device, dtype=args.dtype)


def make_store(encoder: Any, args: argparse.Namespace, corpus: Sequence[str]) -> Any:
    from qdrant_client import QdrantClient

    from t5_vectors import T5QdrantVectorStore

    if args.storage == "edge" and not args.url:
        import tempfile

        store = T5QdrantVectorStore(
            encoder, path=tempfile.mkdtemp(prefix="t5v-load-edge-"), collection_name="load"
        )
        return _ingest(store, corpus)
    if args.url:
        client = QdrantClient(url=args.url, timeout=60)
    elif args.storage == "disk":
        import tempfile

        client = QdrantClient(path=tempfile.mkdtemp(prefix="t5v-load-"))
    else:
        client = QdrantClient(":memory:")
    store = T5QdrantVectorStore(encoder, client=client, collection_name="load")
    return _ingest(store, corpus)


def _ingest(store: Any, corpus: Sequence[str]) -> Any:
    from langchain_core.documents import Document

    documents = [
        Document(page_content=text, metadata={"source": "pydoc_data.topics", "n": i})
        for i, text in enumerate(corpus)
    ]
    started = time.perf_counter()
    report = store.index.ingest(documents)
    log(f"ingested {report.written} documents in {time.perf_counter() - started:.1f} s")
    return store


def query_pool(paragraphs: Sequence[str], n: int, seed: int) -> list[str]:
    """Short queries: the first 4-12 words of random paragraphs."""
    rng = random.Random(seed)
    pool = []
    for _ in range(n):
        words = rng.choice(paragraphs).split()
        pool.append(" ".join(words[: rng.randint(4, 12)]))
    return pool


def closed_loop_rate(call: Any, threads: int, seconds: float) -> float:
    """Calls per second of ``call(i)`` from *threads* threads looping for *seconds*."""
    stop = time.perf_counter() + seconds
    counts = [0] * threads

    def loop(worker: int) -> None:
        i = worker
        while time.perf_counter() < stop:
            call(i)
            i += threads
            counts[worker] += 1

    pool = [threading.Thread(target=loop, args=(w,)) for w in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def ceilings(
    store: Any, encoder: Any, queries: Sequence[str], args: argparse.Namespace
) -> list[str]:
    """Closed-loop rates of each half alone: where a saturated run spends its time."""
    vectors = encoder.encode(list(queries[:100]), kind="query")
    name = store.index.collection_name
    if args.storage == "edge" and not args.url:
        from t5_vectors.storage.base import Nearest, QueryPlan

        backend = store.index.backend
        alone = (
            "Qdrant Edge alone (`EdgeBackend.query`, precomputed vector)",
            lambda i: backend.query(
                name, QueryPlan(Nearest(vectors[i % len(vectors)]), limit=args.k)
            ),
        )
    else:
        client = store.index.client
        alone = (
            "Qdrant alone (`query_points`, precomputed vector)",
            lambda i: client.query_points(
                name, query=vectors[i % len(vectors)], limit=args.k, with_payload=True
            ),
        )
    parts = {
        "encoder alone (`encode([query])`)": lambda i: encoder.encode(
            [queries[i % len(queries)]], kind="query"
        ),
        alone[0]: alone[1],
        "Qdrant through t5-vectors (`similarity_search_by_vector`)": lambda i: (
            store.similarity_search_by_vector(vectors[i % len(vectors)].tolist(), k=args.k)
        ),
        "both (`similarity_search`)": lambda i: store.similarity_search(
            queries[i % len(queries)], k=args.k
        ),
    }
    rows = []
    for label, call in parts.items():
        for threads in (1, args.workers):
            log(f"ceiling: {label}, {threads} threads ...")
            rate = closed_loop_rate(call, threads, args.ceiling_seconds)
            rows.append([label, str(threads), f"{rate:,.0f}"])
    return [
        f"\n### Closed-loop ceilings ({args.ceiling_seconds:g} s each)\n",
        markdown_table(["part", "threads", "calls/s"], rows),
    ]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="offered queries per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of offered load")
    parser.add_argument("--mode", choices=("threads", "async", "both"), default="threads")
    parser.add_argument("--workers", type=int, default=64, help="threads in the pool (threads)")
    parser.add_argument("--corpus", type=int, default=2000, help="documents ingested first")
    parser.add_argument("--k", type=int, default=4, help="documents per search")
    parser.add_argument("--queries", type=int, default=500, help="distinct query texts")
    parser.add_argument("--drain", type=float, default=30.0, help="seconds to finish late ones")
    parser.add_argument("--warmup", type=int, default=20, help="serial queries before timing")
    parser.add_argument("--storage", choices=("memory", "disk", "edge"), default="memory")
    parser.add_argument("--url", default=None, help="a Qdrant server instead of embedded Qdrant")
    parser.add_argument(
        "--ceiling-seconds",
        type=float,
        default=5.0,
        help="closed-loop seconds for each ceiling (encoder alone, Qdrant alone); 0 skips",
    )
    parser.add_argument("--model", default=None, help="hub id or folder (default: benchmark one)")
    parser.add_argument(
        "--freeze-gc",
        action="store_true",
        help="gc.freeze() after loading, as a server would (full collections skip the imports)",
    )
    parser.add_argument("--tiny", action="store_true", help="tiny checkpoint: checks the harness")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=Path("bench_out"))
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.workers < 1 or args.corpus < 1:
        parser.error("--rate, --duration, --workers and --corpus must be positive")
    return args


class GcPauses:
    """Generation-2 garbage collections seen since :meth:`reset`, and their durations."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self._started: float | None = None
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.durations.append(time.perf_counter() - self._started)
            self._started = None

    def reset(self) -> None:
        self.durations.clear()

    def summary(self) -> str:
        if not self.durations:
            return "none"
        return (
            f"{len(self.durations)}, {sum(self.durations) * 1e3:,.0f} ms in all, longest "
            f"{max(self.durations) * 1e3:,.0f} ms"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    paragraphs = corpus_paragraphs()
    corpus = [paragraphs[i % len(paragraphs)] for i in range(args.corpus)]
    encoder = load_encoder(args)
    forwards = [0]
    encoder.model.register_forward_hook(lambda *_: forwards.__setitem__(0, forwards[0] + 1))
    store = make_store(encoder, args, corpus)
    queries = query_pool(paragraphs, args.queries, args.seed)
    for query in queries[: args.warmup]:
        store.similarity_search(query, k=args.k)
    if args.freeze_gc:  # what a server does once it has loaded: no more scans of the imports
        gc.collect()
        gc.freeze()
    pauses = GcPauses()
    ceiling_lines = ceilings(store, encoder, queries, args) if args.ceiling_seconds > 0 else []
    results = []
    gc_lines: list[str] = []
    for mode in ("threads", "async") if args.mode == "both" else (args.mode,):
        log(f"{mode}: offering {args.rate:g} q/s for {args.duration:g} s ...")
        before = forwards[0]
        pauses.reset()
        start, recorder = (run_threads if mode == "threads" else run_async)(store, queries, args)
        gc_lines.append(f"{mode}: {pauses.summary()}")
        results.append(
            summarize(mode, args.rate, args.duration, start, recorder, forwards[0] - before)
        )
    encoder.close()

    where = f"the Qdrant server at {args.url}" if args.url else "embedded Qdrant"
    print(f"## Open-loop load: similarity_search on {where}\n")
    print("\n".join(environment_lines(str(encoder.device))))
    print(
        f"- model: {encoder!r}\n- corpus: {args.corpus} documents, {args.storage} storage; "
        f"k={args.k}; {len(queries)} distinct queries; workers {args.workers}\n"
        f"- command: `python benchmarks/load.py {' '.join(sys.argv[1:])}`\n"
    )
    rows = [
        [
            r.mode,
            f"{r.offered_rate:,.0f}",
            f"{r.achieved_rate:,.0f}",
            f"{r.due:,}",
            f"{r.succeeded:,}",
            f"{r.errors:,}",
            f"{r.unfinished:,}",
            f"{r.p50_ms:,.1f}",
            f"{r.p90_ms:,.1f}",
            f"{r.p99_ms:,.1f}",
            f"{r.max_ms:,.1f}",
            f"{r.queries_per_forward:.1f}",
        ]
        for r in results
    ]
    headers = [
        "mode",
        "offered q/s",
        "achieved q/s",
        "due",
        "ok",
        "errors",
        "unfinished",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "queries / forward",
    ]
    print(markdown_table(headers, rows))
    print(
        "\nFull (generation 2) garbage collections while offering load, which stop every "
        f"thread{' (gc.freeze() after loading)' if args.freeze_gc else ''}: "
        + "; ".join(gc_lines)
        + "."
    )
    for r in results:
        if r.error_kinds:
            print(f"\n{r.mode} errors: {r.error_kinds}")
    print(
        "\nLatency counts from each query's due time (open loop), so queueing is included. "
        f"Dispatcher lag p99: {', '.join(f'{r.mode} {r.send_lag_p99_ms:.1f} ms' for r in results)}."
    )
    for line in ceiling_lines:
        print(line)
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
