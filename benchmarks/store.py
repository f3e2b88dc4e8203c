"""Embedded store: t5-vectors on Qdrant Edge against qdrant-client's local mode.

Three systems over the same documents and vectors, on disk, each phase in its own process:

* **t5-vectors / Edge** -- ``T5QdrantVectorStore`` over ``QdrantIndex(path=...)`` on a new
  folder (Qdrant Edge, the default embedded backend);
* **t5-vectors / local mode** -- the same classes on a folder qdrant-client's local mode wrote
  (``meta.json`` created first), which t5-vectors keeps opening with local mode;
* **langchain-qdrant / local mode** -- ``QdrantVectorStore.from_documents(..., path=...)``.

The vectors are realistic and precomputed (:mod:`_store_vectors`: real English docstring
paragraphs through a T5-base-sized checkpoint with **random-initialised weights**), and every
system embeds through the same lookup table (text -> cached vector), so the model costs nothing
and the store is what is measured. Phases:

* ``ingest`` -- write every document, then build the index (t5-vectors builds it at the end of
  ``ingest``; local mode has no index): documents/s over write plus build, and the build alone;
* ``search`` -- open the folder in a fresh process, ``similarity_search(query, k=10)`` with
  held-out query texts: q/s and p50/p99 from 1 thread, q/s from 8 threads, recall@10 against
  exact search (numpy over all document vectors), and the process's peak RSS (``VmHWM``);
* ``files`` -- ingest ``--n-files`` Python modules (first 10,000 characters each) through
  ``t5_vectors.files`` (the CLI's path) with a tiny encoder (768-d Dense head), then again in a
  new process: the second
  run finds every chunk stored unchanged and writes nothing (model load timed apart);
* ``engine`` -- Qdrant Edge alone (``EdgeBackend``) over the same vectors, for the defaults:
  index build time, search q/s (1 thread) and recall@10 for HNSW ``m`` / ``ef_construct``,
  int8 scalar quantization with rescoring, and the search beam ``hnsw_ef``.

Run ``python benchmarks/store.py --docs 20000`` (``--skip engine`` etc.); Markdown to stdout,
progress to stderr. The vectors are encoded once and cached under ``--workdir``.
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

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _common import environment_lines, markdown_table, percentile
from _store_vectors import cached_vectors

SYSTEMS = ("t5-edge", "t5-local", "lc-local")
LABELS = {
    "t5-edge": "t5-vectors / Qdrant Edge",
    "t5-local": "t5-vectors / local mode",
    "lc-local": "langchain-qdrant / local mode",
}
COLLECTION = "bench"
K = 10


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class TableEmbeddings:
    """LangChain ``Embeddings`` answering from the cached vectors (text -> vector)."""

    def __init__(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.table = {t: v for t, v in zip(texts, vectors, strict=True)}
        self.other = np.asarray(vectors[0])  # texts not in the table: t5-vectors' size probe

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.table.get(t, self.other).tolist() for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.table.get(text, self.other).tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)


def _embeddings(
    args: argparse.Namespace, *, documents: bool
) -> tuple[Any, np.ndarray, np.ndarray, list[str], list[str]]:
    """The lookup-table embedding (over queries, and documents when ``documents``) and data.

    Document vectors are memory-mapped: a serving process that never touches them does not
    count them in its RSS.
    """
    from langchain_core.embeddings import Embeddings

    docs_v, queries_v, docs, queries = cached_vectors(
        args.workdir, args.docs, args.queries, mmap=True
    )
    cls = type("Table", (TableEmbeddings, Embeddings), {})
    if documents:
        table = cls(docs + queries, np.vstack([docs_v, queries_v]))
    else:
        table = cls(queries, np.asarray(queries_v))
    return table, docs_v, queries_v, docs, queries


def exact_top_k(docs_v: np.ndarray, queries_v: np.ndarray) -> np.ndarray:
    """Exact top-K document indices per query (cosine: the vectors are unit rows)."""
    return np.argsort(-(np.asarray(queries_v) @ np.asarray(docs_v).T), axis=1)[:, :K]


def _documents(texts: Sequence[str]) -> list[Any]:
    from langchain_core.documents import Document

    return [
        Document(page_content=t, metadata={"source": f"file-{i // 13}.py", "chunk": i % 13})
        for i, t in enumerate(texts)
    ]


def _open(system: str, store: Path, embedding: Any, create: bool) -> Any:
    if system == "lc-local":
        from langchain_qdrant import QdrantVectorStore
        from qdrant_client import QdrantClient

        client = QdrantClient(path=str(store))
        return QdrantVectorStore(client=client, collection_name=COLLECTION, embedding=embedding)
    from t5_vectors import T5QdrantVectorStore

    if system == "t5-local" and create:
        from qdrant_client import QdrantClient

        QdrantClient(path=str(store)).close()  # a folder local mode wrote
    return T5QdrantVectorStore(embedding, path=str(store), collection_name=COLLECTION)


def phase_ingest(args: argparse.Namespace) -> dict[str, Any]:
    embedding, _, _, docs, _ = _embeddings(args, documents=True)
    documents = _documents(docs)
    store = Path(args.store)
    result: dict[str, Any] = {}
    # Library imports are start-up, not ingest: both systems import theirs before the clock.
    if args.system == "lc-local":
        import langchain_qdrant  # noqa: F401
    else:
        import t5_vectors.langchain  # noqa: F401
    start = time.perf_counter()
    if args.system == "lc-local":
        from langchain_qdrant import QdrantVectorStore

        vs = QdrantVectorStore.from_documents(
            documents, embedding, path=str(store), collection_name=COLLECTION
        )
        written = time.perf_counter()
        vs.client.close()
        result["build_s"] = 0.0
    else:
        vs = _open(args.system, store, embedding, create=True)
        index = vs.index
        builds: list[float] = []
        # The engine's index builds, wherever they run: at the end of the ingest, or inside an
        # upsert once DEFAULT_INDEX_AFTER points are unindexed (Qdrant Edge's optimize).
        backend = index.backend
        optimize = getattr(backend, "_optimize", None)
        if optimize is not None:

            def timed_optimize(*a: Any, **kw: Any) -> None:
                t = time.perf_counter()
                optimize(*a, **kw)
                builds.append(time.perf_counter() - t)

            backend._optimize = timed_optimize
        report = index.ingest(documents)
        written = time.perf_counter()
        assert report.written == len(documents), report
        index.close()
        result["build_s"] = sum(builds)
    end = time.perf_counter()
    result.update(
        docs=len(documents),
        total_s=end - start,
        docs_per_s=len(documents) / (end - start),
        close_s=end - written,
        peak_rss_mb=peak_rss_mb(),
    )
    return result


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
    embedding, _, _, docs, queries = _embeddings(args, documents=False)
    truth = np.load(args.truth)
    position = {t: i for i, t in enumerate(docs)}
    base_rss = peak_rss_mb()
    vs = _open(args.system, Path(args.store), embedding, create=False)
    for q in queries[:20]:  # warm-up (opens the store, loads segments)
        vs.similarity_search(q, k=K)
    latencies: list[float] = []
    recall = 0.0
    for i, q in enumerate(queries):
        t = time.perf_counter()
        found = vs.similarity_search(q, k=K)
        latencies.append(time.perf_counter() - t)
        ids = {position[d.page_content] for d in found}
        recall += len(ids & set(truth[i].tolist())) / K
    rate1 = len(queries) / sum(latencies)
    rate8 = _rate(
        lambda i: vs.similarity_search(queries[i % len(queries)], k=K), 2 * len(queries), 8
    )
    rss = peak_rss_mb()
    return {
        "queries": len(queries),
        "qps_1": rate1,
        "p50_ms": 1000 * percentile(latencies, 50),
        "p99_ms": 1000 * percentile(latencies, 99),
        "qps_8": rate8,
        "recall_at_10": recall / len(queries),
        "peak_rss_mb": rss,
        "rss_before_open_mb": base_rss,
    }


def phase_engine(args: argparse.Namespace) -> dict[str, Any]:
    """One Edge configuration: build, then recall and q/s at several hnsw_ef."""
    from t5_vectors.storage.base import (
        DenseVectorSpec,
        Hnsw,
        Nearest,
        Point,
        Quantization,
        QueryPlan,
        Schema,
        SearchParams,
    )
    from t5_vectors.storage.edge.backend import EdgeBackend

    _, docs_v, queries_v, _, _ = _embeddings(args, documents=False)
    truth = np.load(args.truth)
    m, ef_construct, quant = args.config.split(",")
    quantization = (
        Quantization("scalar", quantile=0.99, always_ram=True) if quant == "int8" else None
    )
    schema = Schema(
        dense={"": DenseVectorSpec(size=docs_v.shape[1])},
        hnsw=Hnsw(m=int(m), ef_construct=int(ef_construct)),
        quantization=quantization,
    )
    backend = EdgeBackend(args.store, index_after=None, quantization=None)  # as each config says
    backend.create(COLLECTION, schema)
    start = time.perf_counter()
    for i in range(0, len(docs_v), 256):
        backend.upsert(
            COLLECTION,
            [Point(j, {"": docs_v[j]}, {"i": j}) for j in range(i, min(len(docs_v), i + 256))],
        )
    upsert_s = time.perf_counter() - start
    start = time.perf_counter()
    backend.build_index(COLLECTION)
    build_s = time.perf_counter() - start
    rows = []
    efs = [int(e) for e in args.efs.split(",")]
    oversampling = [float(o) for o in args.oversampling.split(",")] if quantization else [None]
    settings = [(ef, o) for ef in efs for o in oversampling] + [(0, None)]
    for ef, over in settings:
        params = (
            SearchParams(exact=True)
            if ef == 0
            else SearchParams(hnsw_ef=ef, oversampling=over, rescore=True if over else None)
        )
        recall, t0 = 0.0, time.perf_counter()
        for i, q in enumerate(queries_v):
            hits = backend.query(
                COLLECTION, QueryPlan(Nearest(q), limit=K, params=params, with_payload=False)
            )
            recall += len({h.id for h in hits} & set(truth[i].tolist())) / K
        elapsed = time.perf_counter() - t0
        rows.append(
            {
                "hnsw_ef": ef or "exact",
                "oversampling": over,
                "recall": recall / len(queries_v),
                "qps": len(queries_v) / elapsed,
            }
        )
    stats = backend.stats(COLLECTION)
    backend.close()
    return {
        "config": args.config,
        "upsert_s": upsert_s,
        "build_s": build_s,
        "indexed": stats.indexed_vectors,
        "rows": rows,
    }


def _files_model(workdir: Path) -> Path:
    """A tiny T5 (d_model 32, 1 layer) with a 768-d Dense head and a corpus-trained vocabulary.

    The no-op re-ingest encodes nothing; the model only measures chunks (its tokenizer) and
    loads. The first ingest encodes every chunk, hence a tiny encoder.
    """
    from _common import corpus_paragraphs

    from t5_vectors.testing import build_sentence_transformers_checkpoint

    path = workdir / "files-tiny-768"
    if not (path / "modules.json").exists():
        build_sentence_transformers_checkpoint(
            path,
            d_model=32,
            num_layers=1,
            num_heads=4,
            d_ff=64,
            dense_out=768,
            max_seq_length=256,
            vocab_size=8000,
            tokenizer_sentences=corpus_paragraphs(),
        )
    return path


def files_folder(workdir: Path, n_files: int, chars: int = 10_000) -> Path:
    """``n_files`` Python modules (standard library, then installed packages; tests excluded),
    each at least ``chars`` long and cut to its first ``chars`` characters at a line end (about
    13 chunks of 256 tokens each), written once under the work folder."""
    import sysconfig

    folder = workdir / f"files-{n_files}"
    if folder.is_dir() and len(list(folder.iterdir())) == n_files:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for key in ("stdlib", "purelib"):
        root = Path(sysconfig.get_paths()[key])
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).parts
            if any(p in ("test", "tests", "idle_test", "site-packages") for p in parts):
                continue
            text = path.read_text(encoding="utf-8", errors="ignore")
            if len(text) < chars:
                continue
            cut = text[: text.rfind("\n", 0, chars) + 1]
            (folder / f"{written:05d}-{path.name}").write_text(cut, encoding="utf-8")
            written += 1
            if written == n_files:
                return folder
    return folder


def phase_files(args: argparse.Namespace) -> dict[str, Any]:
    """Ingest the folder through ``t5_vectors.files`` (the CLI's path); time model load apart."""
    from t5_vectors import QdrantIndex, T5Encoder
    from t5_vectors.files import ingest_files

    start = time.perf_counter()
    encoder = T5Encoder.from_pretrained(str(_files_model(args.workdir)), device="cpu")
    loaded = time.perf_counter()
    store = Path(args.store)
    if args.system == "t5-local" and not store.exists():
        from qdrant_client import QdrantClient

        QdrantClient(path=str(store)).close()  # a folder local mode wrote
    index = QdrantIndex(encoder, path=str(store), collection_name=COLLECTION)
    report = ingest_files(index, [args.files])
    index.close()
    end = time.perf_counter()
    encoder.close()
    return {
        "model_load_s": loaded - start,
        "ingest_s": end - loaded,
        "files": report.files,
        "chunks": report.chunks,
        "written": report.written,
        "skipped": report.skipped,
        "stale_removed": report.stale_removed,
        "peak_rss_mb": peak_rss_mb(),
    }


PHASES = {
    "ingest": phase_ingest,
    "search": phase_search,
    "engine": phase_engine,
    "files": phase_files,
}


def run_phase(args: argparse.Namespace, phase: str, **extra: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", phase, "--docs", str(args.docs)]
    command += ["--queries", str(args.queries), "--workdir", str(args.workdir)]
    command += ["--truth", str(args.truth)]
    for key, value in extra.items():
        command += [f"--{key}", value]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--workdir", type=Path, default=Path("bench_out"))
    parser.add_argument("--skip", default="", help="comma list of: engine, systems, files")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
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
    parser.add_argument("--files", help=argparse.SUPPRESS)
    parser.add_argument("--n-files", type=int, default=2000, help="files for the re-ingest")
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args)))
        return 0
    skip = set(filter(None, args.skip.split(",")))
    args.truth = args.workdir / f"truth-{args.docs}-{args.queries}.npy"
    if not {"engine", "systems"} <= skip:
        docs_v, queries_v, _, _ = cached_vectors(args.workdir, args.docs, args.queries)
        np.save(args.truth, exact_top_k(docs_v, queries_v))
        del docs_v, queries_v
    print(f"## Embedded store, {args.docs:,} documents x 768 dims (`python benchmarks/store.py`)\n")
    for line in environment_lines("cpu"):
        print(line)
    print()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        if "engine" not in skip:
            rows = []
            for config in args.configs.split(";"):
                r = run_phase(
                    args,
                    "engine",
                    store=str(Path(tmp) / f"engine-{config}"),
                    config=config,
                    efs=args.efs,
                    oversampling=args.oversampling,
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
            print(
                markdown_table(
                    [
                        "m,ef_construct,quant",
                        "build s",
                        "hnsw_ef",
                        "oversampling",
                        "recall@10",
                        "q/s (1 thread)",
                    ],
                    rows,
                )
            )
            print()
        if "systems" not in skip:
            results = {}
            for system in args.systems.split(","):
                store = str(Path(tmp) / f"store-{system}")
                results[system] = (
                    run_phase(args, "ingest", system=system, store=store),
                    run_phase(args, "search", system=system, store=store),
                )
            base = results.get("lc-local")

            def ratio(key: str, phase: int, value: dict[str, Any]) -> str:
                if base is None or not base[phase][key]:
                    return ""
                return f" ({value[key] / base[phase][key]:.2f}x)"

            rows = []
            for system, (ing, sea) in results.items():
                rows.append(
                    [
                        LABELS[system],
                        f"{ing['docs_per_s']:.0f}{ratio('docs_per_s', 0, ing)}",
                        f"{ing['build_s']:.1f}",
                        f"{sea['qps_1']:.1f}{ratio('qps_1', 1, sea)}",
                        f"{sea['p50_ms']:.2f} / {sea['p99_ms']:.2f}",
                        f"{sea['qps_8']:.1f}{ratio('qps_8', 1, sea)}",
                        f"{sea['recall_at_10']:.4f}",
                        f"{sea['peak_rss_mb']:.0f}{ratio('peak_rss_mb', 1, sea)}",
                    ]
                )
            print(
                "### Systems: ingest (write + index build) and search, each phase in its own "
                "process\n"
            )
            print(
                markdown_table(
                    [
                        "system",
                        "ingest docs/s",
                        "of which build s",
                        "search q/s, 1 thread",
                        "p50 / p99 ms",
                        "q/s, 8 threads",
                        "recall@10",
                        "serving peak RSS MB",
                    ],
                    rows,
                )
            )
            print("\nRatios in brackets are against langchain-qdrant / local mode.\n")
            print(json.dumps({k: list(v) for k, v in results.items()}), file=sys.stderr)
        if "files" not in skip:
            folder = files_folder(args.workdir, args.n_files)
            rows = []
            for system in ("t5-edge", "t5-local"):
                if system not in args.systems.split(","):
                    continue
                store = str(Path(tmp) / f"files-{system}")
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
            print(
                markdown_table(
                    [
                        "system",
                        "files / chunks",
                        "first ingest s",
                        "re-ingest s (no-op)",
                        "model load s",
                        "re-ingest written / skipped",
                        "re-ingest peak RSS MB",
                    ],
                    rows,
                )
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
