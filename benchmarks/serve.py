"""``t5-vectors serve`` against the same calls in process: throughput, latency, overload.

Three parts, one collection (``--corpus`` paragraphs of CPython's ``pydoc_data.topics``, ingested
into a fresh embedded store first), one model (the T5-base-shaped random checkpoint of
``_common.py`` by default; ``--tiny`` checks the harness):

1. **Closed loop, in process**: ``--clients`` asyncio tasks (1, 8, 64) each calling
   ``T5Encoder.aencode([query], kind="query")`` (the embeddings call) or
   ``QdrantIndex.asearch(query, k=4)`` (the search call) back to back for ``--seconds``.
2. **Closed loop, served**: the same number of clients, on one event loop in this process
   (:class:`RawHttp`, a minimal keep-alive HTTP/1.1 client), against ``t5-vectors serve``
   running in a subprocess: ``POST /v1/embeddings`` (one query, ``input_type: "query"``,
   base64 as the openai client asks) and ``POST /search``. Parts 1 and 2 are interleaved:
   each (call, clients) cell runs in process and served back to back, ``--repeat`` rounds, so
   each ratio's two sides share the machine's drifting load; medians are reported. Served
   throughput over in-process throughput is the ratio the issue targets (>= 0.8x at 64
   clients). The client shares this machine's cores with the server.
3. **Overload, open loop**: ``/search`` requests due at a fixed rate (query *i* due at
   ``start + i / rate``; latency from the due time, so queueing is counted) at half the
   sustained served rate ("unloaded") and at twice it, against servers started with each
   ``--limits`` value of ``--max-concurrent``; and, for comparison, in-process ``asearch`` at
   twice its own sustained rate, which has no admission at all. Reported: accepted p50/p99,
   share refused (429), and accepted p99 over the unloaded p99 (target <= 2x).

Run ``python benchmarks/serve.py`` (about 10 minutes on 2 cores), or ``--tiny --seconds 3`` to
check the harness. A Markdown report goes to stdout (``--json PATH`` also writes the numbers),
progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from _common import build_checkpoint, corpus_paragraphs, environment_lines, markdown_table

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = "bench"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


@dataclass
class Result:
    """One run: what was asked, what came back, latencies of the accepted calls."""

    name: str
    clients: int | None = None
    offered: float | None = None
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    load: str = ""

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000

    @property
    def refused(self) -> float:
        total = sum(self.statuses.values())
        return self.statuses.get("429", 0) / total if total else 0.0

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("latencies")
        data |= {"done": self.done, "rate": self.rate, "p50_ms": self.p(50), "p99_ms": self.p(99)}
        return data | {"refused": self.refused, "statuses": dict(self.statuses)}


Call = Callable[[str], Awaitable[str]]
"""One call with a query; returns a status ("200", "429", an error name)."""


async def closed_loop(name: str, call: Call, queries: Sequence[str], clients: int,
                      seconds: float) -> Result:  # fmt: skip
    """*clients* tasks calling back to back for *seconds*."""
    result = Result(name, clients=clients)
    rng = random.Random(clients)
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            query = rng.choice(queries)
            start = time.perf_counter()
            status = await call(query)
            result.statuses[status] += 1
            if status == "200":
                result.latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    result.seconds = time.perf_counter() - started
    result.load = load()
    return result


async def open_loop(name: str, call: Call, queries: Sequence[str], rate: float,
                    seconds: float) -> Result:  # fmt: skip
    """Calls due at *rate* per second for *seconds*; latency counted from each due time."""
    result = Result(name, offered=rate)
    rng = random.Random(int(rate))
    tasks: list[asyncio.Task[None]] = []

    async def one(query: str, due: float) -> None:
        status = await call(query)
        result.statuses[status] += 1
        if status == "200":
            result.latencies.append(time.perf_counter() - due)

    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(rng.choice(queries), due)))
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - start  # until the last call was answered
    result.load = load()
    return result


# --------------------------------------------------------------------------------------------
# In process and served
# --------------------------------------------------------------------------------------------


def in_process_calls(encoder: Any, index: Any, k: int) -> dict[str, Call]:
    async def embed(query: str) -> str:
        await encoder.aencode([query], kind="query")
        return "200"

    async def search(query: str) -> str:
        await index.asearch(query, k=k)
        return "200"

    return {"embeddings": embed, "search": search}


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: the load generator.

    httpx's async client spends more CPU per request than the server under test on 2 shared
    cores (a first run measured its queueing, not the server's: client-side latency p99 20 s
    while the server's own histogram had every request under 5 s), so the load is sent with
    this: one request per connection at a time, idle connections reused, responses read by
    ``Content-Length`` (the server always sends it).
    """

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.host, self.port = host.strip("[]"), int(port)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        payload = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        while True:
            reused = bool(self._idle)
            if reused:
                reader, writer = self._idle.pop()
            else:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            writer.write(head + payload)
            line = await reader.readline()
            if line or not reused:
                break
            writer.close()  # the server closed an idle connection (keep-alive timeout): retry
        status = int(line.split()[1])
        length, close = 0, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        content = await reader.readexactly(length)
        if close:
            writer.close()
        else:
            self._idle.append((reader, writer))
        return status, content

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


def served_calls(http: RawHttp, k: int) -> dict[str, Call]:
    async def post(path: str, body: dict[str, Any]) -> str:
        try:
            status, _ = await http.post(path, body)
        except (OSError, asyncio.IncompleteReadError) as error:
            return type(error).__name__
        return str(status)

    async def embed(query: str) -> str:
        body = {"input": query, "model": "t5", "encoding_format": "base64", "input_type": "query"}
        return await post("/v1/embeddings", body)

    async def search(query: str) -> str:
        return await post("/search", {"query": query, "k": k})

    return {"embeddings": embed, "search": search}


class Server:
    """``t5-vectors serve`` in a subprocess; stopped with SIGTERM (exit 0 expected)."""

    def __init__(self, args: argparse.Namespace, model: Path, store: Path, limit: int) -> None:
        argv = [sys.executable, "-m", "t5_vectors", "serve", "--collection", COLLECTION,
                "--qdrant-path", str(store), "--model", str(model), "--device", args.device,
                "--dtype", args.dtype, "--port", "0", "--max-concurrent", str(limit),
                "--read-only"]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
        )
        assert self.process.stderr is not None
        for line in self.process.stderr:
            found = re.search(r" at (http://[^\s:]+:\d+):", line)
            if found:
                self.url = found.group(1)
                # Keep reading stderr so the server never blocks on a full pipe.
                threading.Thread(target=self.process.stderr.read, daemon=True).start()
                return
        raise SystemExit(f"the server did not start (exit {self.process.wait()})")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=300)


async def closed_runs(
    args: argparse.Namespace, model: Path, stores: tuple[Path, Path], queries: Sequence[str]
) -> list[Result]:
    """In-process and served closed loops, interleaved, ``--repeat`` times.

    The machine's other load drifts over seconds: each (call, clients) cell runs in process and
    served back to back (in alternating order), so the two sides of a ratio share the drift.
    The in-process side opens a copy of the store (an embedded folder opens in one process).
    """
    from t5_vectors import QdrantIndex, T5Encoder

    encoder = T5Encoder.from_pretrained(str(model), device=args.device, dtype=args.dtype)
    index = QdrantIndex(
        encoder, collection_name=COLLECTION, create_if_missing=False, storage=stores[0]
    )
    server = Server(args, model, stores[1], max(args.clients))
    log(f"server at {server.url}, --max-concurrent {max(args.clients)}")
    http = RawHttp(server.url)
    results: list[Result] = []
    try:
        sides = {"in-process": in_process_calls(encoder, index, args.k),
                 "served": served_calls(http, args.k)}  # fmt: skip
        for calls in sides.values():
            for call in calls.values():
                for _ in range(args.warmup):
                    await call(queries[0])
        for repeat in range(args.repeat):
            order = list(sides) if repeat % 2 == 0 else list(reversed(sides))
            for name in ("embeddings", "search"):
                for clients in args.clients:
                    for side in order:
                        result = await closed_loop(
                            f"{side} {name}", sides[side][name], queries, clients, args.seconds
                        )
                        log(_line(result))
                        results.append(result)
    finally:
        http.close()
        await index.aclose()
        encoder.close()
        _stopped(server)
    return results


async def overload_runs(
    args: argparse.Namespace,
    model: Path,
    stores: tuple[Path, Path],
    queries: Sequence[str],
    sustained: dict[str, float],
) -> list[Result]:
    """Open loops at 0.5x and 2x the sustained served rate, per ``--max-concurrent`` value."""
    results: list[Result] = []
    for limit in args.limits:
        server = Server(args, model, stores[1], limit)
        log(f"server at {server.url}, --max-concurrent {limit}")
        http = RawHttp(server.url)
        try:
            search = served_calls(http, args.k)["search"]
            for _ in range(args.warmup):
                await search(queries[0])
            for share in (0.5, 2.0):
                result = await open_loop(
                    f"served /search, --max-concurrent {limit}, {share:g}x",
                    search, queries, share * sustained["served"], args.overload_seconds,
                )  # fmt: skip
                log(_line(result))
                results.append(result)
        finally:
            http.close()
            _stopped(server)
    from t5_vectors import QdrantIndex, T5Encoder

    encoder = T5Encoder.from_pretrained(str(model), device=args.device, dtype=args.dtype)
    index = QdrantIndex(
        encoder, collection_name=COLLECTION, create_if_missing=False, storage=stores[0]
    )
    try:
        search = in_process_calls(encoder, index, args.k)["search"]
        for _ in range(args.warmup):
            await search(queries[0])
        result = await open_loop(
            "in-process asearch, no admission, 2x", search, queries,
            2 * sustained["in-process"], args.overload_seconds,
        )  # fmt: skip
        log(_line(result))
        results.append(result)
    finally:
        await index.aclose()
        encoder.close()
    return results


def _stopped(server: Server) -> None:
    status = server.stop()
    log(f"server stopped with exit status {status}")
    if status != 0:
        raise SystemExit(f"the server exited with {status} after SIGTERM")


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def sustained_rates(closed: Sequence[Result], clients: int) -> dict[str, float]:
    """Median search rate at *clients* clients, per side."""
    rates: dict[str, float] = {}
    for side in ("in-process", "served"):
        runs = [r for r in closed if r.name == f"{side} search" and r.clients == clients]
        rates[side] = median([r.rate for r in runs])
    return rates


def _line(result: Result) -> str:
    return (
        f"{result.name} clients={result.clients} offered={result.offered} -> "
        f"{result.rate:.1f}/s p50 {result.p(50):.1f} ms p99 {result.p(99):.1f} ms "
        f"refused {result.refused:.1%} load {result.load}"
    )


# --------------------------------------------------------------------------------------------
# Setup and report
# --------------------------------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> tuple[Path, tuple[Path, Path], list[str]]:
    """The model, two copies of a fresh store holding the corpus, and the query pool."""
    from t5_vectors import QdrantIndex, T5Encoder

    if args.tiny:
        from t5_vectors.testing import build_sentence_transformers_checkpoint

        model = args.workdir / "serve-tiny"
        if not (model / "modules.json").is_file():
            build_sentence_transformers_checkpoint(model)
    else:
        model, reused = build_checkpoint(args.workdir)
        log(f"checkpoint {model} ({'reused' if reused else 'built'})")
    paragraphs = corpus_paragraphs()
    rng = random.Random(args.seed)
    corpus = rng.sample(paragraphs, min(args.corpus, len(paragraphs)))
    store = args.workdir / "serve-store"
    shutil.rmtree(store, ignore_errors=True)
    encoder = T5Encoder.from_pretrained(str(model), device=args.device, dtype=args.dtype)
    started = time.perf_counter()
    with QdrantIndex(encoder, collection_name=COLLECTION, storage=store) as index:
        index.ingest(corpus)
    encoder.close()
    log(f"ingested {len(corpus)} paragraphs in {time.perf_counter() - started:.1f} s")
    served = args.workdir / "serve-store-served"
    shutil.rmtree(served, ignore_errors=True)
    shutil.copytree(store, served)
    queries = [" ".join(p.split()[:12]) for p in rng.sample(paragraphs, args.queries)]
    return model, (store, served), queries


def _percentiles(runs: Sequence[Result]) -> str:
    pooled = Result("pooled", latencies=[x for r in runs for x in r.latencies])
    return f"{pooled.p(50):.1f} / {pooled.p(99):.1f}"


def report(args: argparse.Namespace, closed: list[Result], overload: list[Result]) -> str:
    lines = ["## Serving: t5-vectors serve vs the same calls in process", ""]
    lines += environment_lines(args.device)
    lines += [
        f"- model: {'tiny test checkpoint' if args.tiny else 'T5-base-shaped random checkpoint'}"
        f", dtype {args.dtype}; corpus {args.corpus} paragraphs; queries: 12 words; k {args.k}",
        f"- closed loops {args.seconds:g} s each, {args.repeat} rounds (medians; each ratio "
        f"from runs back to back); overload runs {args.overload_seconds:g} s; "
        "client (one event loop, a minimal HTTP/1.1 client) and server share this machine",
        "",
    ]
    rows = []
    for call in ("embeddings", "search"):
        for clients in args.clients:
            here = [r for r in closed if r.name == f"in-process {call}" and r.clients == clients]
            there = [r for r in closed if r.name == f"served {call}" and r.clients == clients]
            ratios = [b.rate / a.rate for a, b in zip(here, there, strict=True)]
            rows.append([
                call, str(clients), f"{median([r.rate for r in here]):.1f}",
                f"{median([r.rate for r in there]):.1f}",
                f"{median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})",
                _percentiles(here), _percentiles(there),
                f"{here[0].load} .. {there[-1].load}",
            ])  # fmt: skip
    headers = ["call", "clients", "in-process q/s", "served q/s",
               "served / in-process (min-max)", "in-process p50 / p99 ms",
               "served p50 / p99 ms", "load 1/5 min"]  # fmt: skip
    lines += [markdown_table(headers, rows), ""]
    rows = []
    unloaded: dict[str, float] = {}
    for result in overload:
        key = result.name.rsplit(",", 1)[0]
        if result.name.endswith("0.5x"):
            unloaded[key] = result.p(99)
        ratio = (
            f"{result.p(99) / unloaded[key]:.2f}x"
            if key in unloaded and not result.name.endswith("0.5x")
            else ""
        )
        rows.append([
            result.name, f"{result.offered:.1f}", f"{result.rate:.1f}", f"{result.refused:.1%}",
            f"{result.p(50):.1f}", f"{result.p(99):.1f}", ratio, result.load,
        ])  # fmt: skip
    headers = ["open loop", "offered q/s", "accepted q/s", "refused (429)", "accepted p50 ms",
               "accepted p99 ms", "p99 / unloaded p99", "load 1/5 min"]  # fmt: skip
    lines.append(markdown_table(headers, rows))
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--clients", default="1,8,64", help="closed-loop client counts")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per closed loop")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of closed loops")
    parser.add_argument("--overload-seconds", type=float, default=15.0, help="per open loop")
    parser.add_argument("--limits", default="64,16", help="--max-concurrent values to overload")
    parser.add_argument("--corpus", type=int, default=500, help="paragraphs ingested first")
    parser.add_argument("--queries", type=int, default=500, help="distinct query texts")
    parser.add_argument("--k", type=int, default=4, help="results per search")
    parser.add_argument("--warmup", type=int, default=10, help="calls before each part")
    parser.add_argument("--tiny", action="store_true", help="tiny checkpoint: checks the harness")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=Path("bench_out"))
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    args.clients = [int(n) for n in args.clients.split(",")]
    args.limits = [int(n) for n in args.limits.split(",")]
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    model, stores, queries = prepare(args)
    closed = asyncio.run(closed_runs(args, model, stores, queries))
    sustained = sustained_rates(closed, max(args.clients))
    log(f"sustained search rates at {max(args.clients)} clients: {sustained}")
    overload = asyncio.run(overload_runs(args, model, stores, queries, sustained))
    print(report(args, closed, overload))
    if args.json is not None:
        numbers = {"closed": [r.summary() for r in closed],
                   "overload": [r.summary() for r in overload]}  # fmt: skip
        args.json.write_text(json.dumps(numbers, indent=2))


if __name__ == "__main__":
    main()
