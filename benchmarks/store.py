"""Embedded store: t5-vectors on Qdrant Edge against Chroma, FAISS and langchain-qdrant.

The systems (:mod:`_store_systems`), over the same texts and vectors, on disk, each phase of each
system in its own process:

* **t5-vectors / Edge** -- ``T5QdrantVectorStore(embedding, path=...)`` (Qdrant Edge);
* **t5-vectors / local mode** -- the same class on a folder qdrant-client's local mode wrote;
* **langchain-qdrant / local mode** -- ``QdrantVectorStore`` over ``QdrantClient(path=...)``;
* **Chroma** -- langchain-chroma, ``persist_directory``, a cosine collection;
* **FAISS** -- langchain-community, a flat index (exact search), ``save_local`` / ``load_local``.

Vectors (``--vectors``): ``real`` (default) are realistic and precomputed (:mod:`_store_vectors`:
real English docstring paragraphs through a T5-base-sized checkpoint with **random-initialised
weights**), and every system embeds through the same lookup table (text -> cached vector), so
the model costs nothing and the store is what is measured. ``fake`` uses LangChain's
``DeterministicFakeEmbedding(size=768)`` (a seeded normal vector per text, computed on each
call) for every system, as in issue 23's first comparison; recall is then measured on those
vectors, which have no neighbourhood structure. Phases:

* ``ingest`` -- ``add_texts`` in batches of ``--batch`` (1,000) with metadata, then whatever
  makes the store durable and ready (t5-vectors: ``index.close()``, which builds the HNSW index
  of what was written; langchain-qdrant and Chroma: ``client.close()``; FAISS: ``save_local``):
  texts/s over all of it, the index builds alone, the folder's size;
* ``search`` -- in a fresh process: the library's import (timed apart), then open the folder and
  answer the first query (time to first answer), then ``similarity_search(query, k=10)`` with
  held-out query texts: q/s and p50/p99 from 1 thread, q/s from 8 threads, recall@10 against
  exact search (numpy over all document vectors, cosine), the process's peak RSS (``VmHWM``);
* ``files`` -- ingest ``--n-files`` Python modules (first 10,000 characters each) through
  ``t5_vectors.files`` (the CLI's path) with a tiny encoder (768-d Dense head), then again in a
  new process: the second run finds every chunk stored unchanged and writes nothing (model load
  timed apart);
* ``engine`` -- Qdrant Edge alone (``EdgeBackend``) over the same vectors, for the defaults:
  index build time, search q/s (1 thread) and recall@10 for HNSW ``m`` / ``ef_construct``,
  int8 scalar quantization with rescoring, and the search beam ``hnsw_ef``.

Run ``python benchmarks/store.py --docs 20000,100000 --skip engine,files`` (``--systems
t5-edge,chroma`` etc.); Markdown to stdout, progress and raw results to stderr. The vectors are
encoded once and cached under ``--workdir``. Needs the ``bench`` dependency group (chromadb,
langchain-chroma, faiss-cpu, langchain-community, langchain-qdrant).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # Chroma: no telemetry attempts

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

# The phases import nothing heavy here (``_common`` imports torch): a serving phase's RSS is
# the system's own.
from _store_systems import (
    LABELS,
    SYSTEMS,
    K,
    add_batch,
    fake_embeddings,
    import_system,
    make_durable,
    open_store,
    peak_rss_mb,
    release,
    result_index,
    rss_mb,
    table_embeddings,
    timed_builds,
)
from _store_t5 import files_folder, phase_engine, phase_files
from _store_vectors import cached_vectors

DEFAULT_SYSTEMS = ("t5-edge", "lc-local", "chroma", "faiss")
PEERS = ("lc-local", "chroma", "faiss")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def _metadata(i: int) -> dict[str, Any]:
    return {"source": f"file-{i // 13}.py", "chunk": i % 13, "i": i}


def _embeddings(
    args: argparse.Namespace, *, documents: bool
) -> tuple[Any, np.ndarray, np.ndarray, list[str], list[str]]:
    """Real vectors: a lookup table (over queries, and documents when ``documents``) and data.

    Document vectors are memory-mapped: a process that never touches them does not count them
    in its RSS.
    """
    docs_v, queries_v, docs, queries = cached_vectors(
        args.workdir, args.docs, args.queries, mmap=True
    )
    if documents:
        table = table_embeddings(docs + queries, np.vstack([docs_v, queries_v]))
    else:
        table = table_embeddings(queries, np.asarray(queries_v))
    return table, docs_v, queries_v, docs, queries


def exact_top_k(docs_v: np.ndarray, queries_v: np.ndarray) -> np.ndarray:
    """Exact top-K document indices per query by cosine (rows are normalised here)."""
    docs_v = np.asarray(docs_v, dtype=np.float32)
    queries_v = np.asarray(queries_v, dtype=np.float32)
    docs_v = docs_v / np.linalg.norm(docs_v, axis=1, keepdims=True)
    queries_v = queries_v / np.linalg.norm(queries_v, axis=1, keepdims=True)
    top = np.empty((len(queries_v), K), dtype=np.int64)
    for i in range(0, len(queries_v), 100):
        scores = queries_v[i : i + 100] @ docs_v.T
        top[i : i + 100] = np.argsort(-scores, axis=1)[:, :K]
    return top


def prepare_queries(args: argparse.Namespace, vectors: str) -> tuple[Path, Path]:
    """The held-out queries (texts; vectors for ``real``) and their exact top-K, on disk.

    A serving process reads these small files only, never the corpus. Returns the texts file
    (the vectors lie beside it, ``.npy``) and the top-K file.
    """
    name = f"{vectors}-{args.docs}-{args.queries}"
    queries_file = args.workdir / f"queries-{name}.json"
    truth_file = args.workdir / f"truth-{name}.npy"
    docs_v, queries_v, docs, queries = cached_vectors(args.workdir, args.docs, args.queries)
    if vectors == "fake":
        fake = fake_embeddings()
        docs_v = np.asarray(fake.embed_documents(docs), dtype=np.float32)
        queries_v = np.asarray(fake.embed_documents(queries), dtype=np.float32)
    np.save(truth_file, exact_top_k(docs_v, queries_v))
    np.save(queries_file.with_suffix(".npy"), np.asarray(queries_v, dtype=np.float32))
    queries_file.write_text(json.dumps(queries))
    return queries_file, truth_file


def phase_ingest(args: argparse.Namespace) -> dict[str, Any]:
    import_system(args.system)  # start-up, not ingest: every system imports before the clock
    if args.vectors == "fake":
        _, _, docs, _ = cached_vectors(args.workdir, args.docs, args.queries, mmap=True)
        embedding = fake_embeddings()
    else:
        embedding, _, _, docs, _ = _embeddings(args, documents=True)
    folder = Path(args.store)
    load = [load_average()]
    start = time.perf_counter()
    store = open_store(args.system, folder, embedding, create=True)
    builds: list[float] = [] if store is None else timed_builds(args.system, store)
    for i in range(0, len(docs), args.batch):
        batch = range(i, min(len(docs), i + args.batch))
        store = add_batch(
            args.system, store, embedding, [docs[j] for j in batch], [_metadata(j) for j in batch]
        )
    written = time.perf_counter()
    make_durable(args.system, store, folder)
    end = time.perf_counter()
    load.append(load_average())
    return {
        "docs": len(docs),
        "total_s": end - start,
        "texts_per_s": len(docs) / (end - start),
        "add_s": written - start,
        "durable_s": end - written,
        "build_s": sum(builds),
        "builds": len(builds),
        "build_each_s": [round(b, 2) for b in builds],
        "folder_mb": folder_mb(folder),
        "peak_rss_mb": peak_rss_mb(),
        "load": load,
    }


def _rate(call: Callable[[int], None], n: int, threads: int) -> float:
    counter = iter(range(n))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            call(i)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return n / (time.perf_counter() - start)


def phase_search(args: argparse.Namespace) -> dict[str, Any]:
    load = [load_average()]
    start = time.perf_counter()
    import_system(args.system)
    import_s = time.perf_counter() - start
    queries: list[str] = json.loads(Path(args.queries_file).read_text())
    if args.vectors == "fake":
        embedding = fake_embeddings()
    else:
        embedding = table_embeddings(queries, np.load(Path(args.queries_file).with_suffix(".npy")))
    truth = np.load(args.truth)
    rss_imported = rss_mb()
    start = time.perf_counter()
    store = open_store(args.system, Path(args.store), embedding, create=False)
    store.similarity_search(queries[0], k=K)
    first_answer_s = time.perf_counter() - start
    for q in queries[1:20]:  # warm-up
        store.similarity_search(q, k=K)
    latencies: list[float] = []
    recall = 0.0
    for i, q in enumerate(queries):
        t = time.perf_counter()
        found = store.similarity_search(q, k=K)
        latencies.append(time.perf_counter() - t)
        recall += len({result_index(d) for d in found} & set(truth[i].tolist())) / K
    rate1 = len(queries) / sum(latencies)
    rate8 = _rate(
        lambda i: store.similarity_search(queries[i % len(queries)], k=K),
        args.threaded_factor * len(queries),
        8,
    )
    result = {
        "queries": len(queries),
        "import_s": import_s,
        "first_answer_s": first_answer_s,
        "qps_1": rate1,
        "p50_ms": 1000 * percentile(latencies, 50),
        "p99_ms": 1000 * percentile(latencies, 99),
        "qps_8": rate8,
        "recall_at_10": recall / len(queries),
        "peak_rss_mb": peak_rss_mb(),
        "rss_after_import_mb": rss_imported,
        "rss_end_mb": rss_mb(),
        "torch_loaded": "torch" in sys.modules,
    }
    release(args.system, store)
    load.append(load_average())
    result["load"] = load
    return result


PHASES = {
    "ingest": phase_ingest,
    "search": phase_search,
    "engine": phase_engine,
    "files": phase_files,
}


def run_phase(args: argparse.Namespace, phase: str, **extra: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", phase, "--docs", str(args.docs)]
    command += ["--queries", str(args.queries), "--workdir", str(args.workdir)]
    command += ["--vectors", args.vectors, "--batch", str(args.batch)]
    command += ["--threaded-factor", str(args.threaded_factor)]
    for key, value in extra.items():
        command += [f"--{key.replace('_', '-')}", value]
    log(f"$ {' '.join(command[1:])}")
    root = str(Path(__file__).resolve().parent.parent)  # this checkout's t5_vectors, not another
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    out = subprocess.run(command, check=False, capture_output=True, text=True, env=env)
    if out.returncode:
        sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"phase {phase} failed ({out.returncode})")
    sys.stderr.write(out.stderr[-2000:])
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    log(f"{phase} {extra.get('system', '')}: {json.dumps(result)}")  # kept if a later phase fails
    return result


def systems_section(args: argparse.Namespace, tmp: Path, table: Callable[..., str]) -> None:
    """Ingest and serve every system at ``args.docs``; print the tables and the targets."""
    queries_file, truth = prepare_queries(args, args.vectors)
    results: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for system in args.systems.split(","):
        store = str(tmp / f"store-{system}-{args.docs}")
        ingest = run_phase(args, "ingest", system=system, store=store)
        search = run_phase(
            args,
            "search",
            system=system,
            store=store,
            truth=str(truth),
            queries_file=str(queries_file),
        )
        results[system] = (ingest, search)
    print(json.dumps({k: list(v) for k, v in results.items()}), file=sys.stderr)
    rows, details = [], []
    for system, (ing, sea) in results.items():
        rows.append(
            [
                LABELS[system],
                f"{ing['texts_per_s']:,.0f}",
                f"{sea['qps_1']:,.1f}",
                f"{sea['p50_ms']:.2f} / {sea['p99_ms']:.2f}",
                f"{sea['qps_8']:,.1f}",
                f"{sea['recall_at_10']:.4f}",
                f"{sea['peak_rss_mb']:,.0f}",
                f"{1000 * sea['first_answer_s']:,.0f}",
            ]
        )
        details.append(
            [
                LABELS[system],
                f"{ing['total_s']:.1f}",
                f"{ing['build_s']:.1f} ({ing['builds']})",
                f"{ing['durable_s']:.1f}",
                f"{ing['peak_rss_mb']:,.0f}",
                f"{ing['folder_mb']:,.0f}",
                f"{sea['import_s']:.2f}",
                f"{sea['rss_after_import_mb']:,.0f}",
                "yes" if sea["torch_loaded"] else "no",
                "{:.1f}-{:.1f} / {:.1f}-{:.1f}".format(*ing["load"], *sea["load"]),
            ]
        )
    print(
        f"### Systems at {args.docs:,} texts x 768 ({args.vectors} vectors, {sea['queries']} "
        f"held-out queries, k={K}), each phase in its own process\n"
    )
    print(
        table(
            [
                "system",
                "ingest texts/s",
                "search q/s, 1 thread",
                "p50 / p99 ms",
                "q/s, 8 threads",
                "recall@10",
                "serving peak RSS MB",
                "first answer ms (open + 1st search)",
            ],
            rows,
        )
    )
    print()
    print(
        table(
            [
                "system",
                "ingest s",
                "of which index builds s (n)",
                "durable step s",
                "ingest peak RSS MB",
                "folder MB",
                "import s",
                "RSS after import MB",
                "torch loaded",
                "load avg ingest / search",
            ],
            details,
        )
    )
    print()
    if "t5-edge" in results and any(p in results for p in PEERS):
        print(table(["axis", "t5-vectors / Edge", "best peer", "ratio", "target", "met"],
                    target_rows(results)))  # fmt: skip
        print()


TARGETS = (
    # (axis, phase, key, higher is better, target ratio against the best peer)
    ("ingest texts/s", 0, "texts_per_s", True, 1.5),
    ("search q/s, 1 thread", 1, "qps_1", True, 2.0),
    ("search q/s, 8 threads", 1, "qps_8", True, 2.0),
    ("serving peak RSS MB", 1, "peak_rss_mb", False, 1.0),
    ("first answer ms", 1, "first_answer_s", False, None),
)


def target_rows(results: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> list[list[str]]:
    """Issue 23's targets: t5-vectors / Edge against the best peer on each axis."""
    ours = results["t5-edge"]
    peers = {s: r for s, r in results.items() if s in PEERS}
    rows = []
    for axis, phase, key, higher, goal in TARGETS:
        pick = max if higher else min
        best = pick(peers, key=lambda s: peers[s][phase][key])
        mine, theirs = ours[phase][key], peers[best][phase][key]
        scale = 1000.0 if key == "first_answer_s" else 1.0
        ratio = mine / theirs if theirs else float("nan")
        if goal is None:
            target, met = "", ""
        elif higher:
            target, met = f">= {goal}x", "yes" if ratio >= goal else f"no ({ratio / goal:.2f})"
        else:
            target, met = f"<= {goal}x", "yes" if ratio <= goal else f"no ({goal / ratio:.2f})"
        rows.append(
            [
                axis,
                f"{scale * mine:,.1f}",
                f"{LABELS[best].split(' (')[0]}: {scale * theirs:,.1f}",
                f"{ratio:.2f}x",
                target,
                met,
            ]
        )
    recall = ours[1]["recall_at_10"]
    rows.append(
        ["recall@10", f"{recall:.4f}", "", "", ">= 0.98", "yes" if recall >= 0.98 else "no"]
    )
    return rows


def engine_section(args: argparse.Namespace, tmp: Path, table: Callable[..., str]) -> None:
    """Qdrant Edge alone over the real vectors: index parameters, recall and q/s."""
    _, truth = prepare_queries(args, "real")
    rows = []
    for config in args.configs.split(";"):
        r = run_phase(
            args,
            "engine",
            store=str(tmp / f"engine-{config}-{args.docs}"),
            config=config,
            efs=args.efs,
            oversampling=args.oversampling,
            truth=str(truth),
        )
        for row in r["rows"]:
            rows.append(
                [
                    r["config"],
                    f"{r['build_s']:.1f}",
                    str(row["hnsw_ef"]),
                    str(row["oversampling"] or ""),
                    f"{row['recall']:.4f}",
                    f"{row['qps']:.0f}",
                ]
            )
    print("### Qdrant Edge alone: index parameters (m, ef_construct, quantization)\n")
    headers = ["m,ef_construct,quant", "build s", "hnsw_ef", "oversampling", "recall@10"]
    print(table([*headers, "q/s (1 thread)"], rows))
    print()


def files_section(args: argparse.Namespace, tmp: Path, table: Callable[..., str]) -> None:
    """The no-op re-ingest of ``--n-files`` files through ``t5_vectors.files``."""
    folder = files_folder(args.workdir, args.n_files)
    rows = []
    for system in ("t5-edge", "t5-local"):
        if system not in args.systems.split(","):
            continue
        store = str(tmp / f"files-{system}")
        first = run_phase(args, "files", system=system, store=store, files=str(folder))
        again = run_phase(args, "files", system=system, store=store, files=str(folder))
        rows.append(
            [
                LABELS[system],
                f"{first['files']:,} / {first['chunks']:,}",
                f"{first['ingest_s']:.1f}",
                f"{again['ingest_s']:.2f}",
                f"{again['model_load_s']:.2f}",
                f"{again['written']} / {again['skipped']:,}",
                f"{again['peak_rss_mb']:.0f}",
            ]
        )
    print(
        f"### No-op re-ingest of {args.n_files:,} files through `t5_vectors.files` "
        "(the CLI's path)\n"
    )
    headers = ["system", "files / chunks", "first ingest s", "re-ingest s (no-op)"]
    headers += ["model load s", "re-ingest written / skipped", "re-ingest peak RSS MB"]
    print(table(headers, rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", default="20000", help="comma list of corpus sizes")
    parser.add_argument("--queries", type=int, default=500, help="held-out queries per size")
    parser.add_argument("--workdir", type=Path, default=Path("bench_out"))
    parser.add_argument("--skip", default="", help="comma list of: engine, systems, files")
    parser.add_argument(
        "--systems", default=",".join(DEFAULT_SYSTEMS), help=f"comma list of {', '.join(SYSTEMS)}"
    )
    parser.add_argument("--vectors", choices=("real", "fake"), default="real")
    parser.add_argument("--batch", type=int, default=1000, help="texts per add_texts call")
    parser.add_argument(
        "--threaded-factor", type=int, default=2, help="8-thread queries per held-out query"
    )
    parser.add_argument(
        "--configs", default="16,100,none;16,100,int8;32,200,none", help="m,ef_construct,quant;..."
    )
    parser.add_argument("--efs", default="64,128,256")
    parser.add_argument(
        "--oversampling", default="1,2,4", help="quantized configs: candidates per result"
    )
    parser.add_argument("--phase", choices=tuple(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--system", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--truth", help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", help=argparse.SUPPRESS)
    parser.add_argument("--files", help=argparse.SUPPRESS)
    parser.add_argument("--n-files", type=int, default=2000, help="files for the re-ingest")
    args = parser.parse_args()
    sizes = [int(n) for n in str(args.docs).split(",")]
    if args.phase:
        args.docs = sizes[0]
        print(json.dumps(PHASES[args.phase](args)))
        return 0
    unknown = set(args.systems.split(",")) - set(SYSTEMS)
    if unknown:
        parser.error(f"--systems: unknown {sorted(unknown)}; expected some of {SYSTEMS}")
    from _common import environment_lines, markdown_table  # torch: the parent process only

    skip = set(filter(None, args.skip.split(",")))
    print(f"## Embedded store (`python benchmarks/store.py {' '.join(sys.argv[1:])}`)\n")
    for line in environment_lines("cpu"):
        print(line)
    versions = ", ".join(f"{name} {package_version(name)}" for name in BENCH_PACKAGES)
    print(f"- {versions}")
    print(f"- load average at start: {Path('/proc/loadavg').read_text().split()[:3]}")
    print()
    args.workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for size in sizes:
            args.docs = size
            if "engine" not in skip:
                engine_section(args, Path(tmp), markdown_table)
            if "systems" not in skip:
                systems_section(args, Path(tmp), markdown_table)
        if "files" not in skip:
            files_section(args, Path(tmp), markdown_table)
    return 0


BENCH_PACKAGES = (
    "qdrant-edge-py",
    "qdrant-client",
    "langchain-qdrant",
    "chromadb",
    "langchain-chroma",
    "faiss-cpu",
    "langchain-community",
)


def package_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    raise SystemExit(main())
