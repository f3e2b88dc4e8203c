"""Query latency and storage per chunk of each retrieval mode, on one corpus.

Modes (see ``t5_vectors/qdrant/retrieval.py`` and ``docs/retrieval.md``): ``pooled`` (dense),
``maxsim`` (token late interaction over every point), ``rerank`` (dense prefetch of ``4 * k``
re-ranked by MaxSim), ``sparse`` (BM25 over T5 pieces, Qdrant IDF) and ``hybrid`` (dense + BM25,
RRF and DBSF).

* **Model** -- a T5 sentence-transformers folder with random weights the script builds itself:
  ``--model small`` (default: d_model 256, 4 layers, as ``benchmarks/ingest.py``) or ``base``
  (T5-base shape, as ``benchmarks/encode.py``), with a sentencepiece vocabulary of 8,000 pieces
  trained on the corpus, so token counts are realistic. float32 on the CPU.
* **Corpus** -- ``--chunks`` chunks (10,000 by default) cut from the paragraphs of CPython's
  ``pydoc_data.topics`` (about 1,800, cycled with a chunk number when more are asked for).
  Queries: ``--queries`` (200) distinct opening phrases (up to 12 words) of random paragraphs.
* **Qdrant** -- embedded (qdrant-client local mode) on disk under ``--workdir``, or a server
  with ``--url``. Two collections hold pooled + token (float32 / float16) + sparse vectors; the
  float32 one serves every mode. Local mode scans exactly, so its latencies grow with the
  corpus; a server uses HNSW for the pooled vector (the multivector has no HNSW graph: see
  ``TokenVectors.hnsw``) and an inverted index for the sparse one.
* **Latency** -- one query at a time after 5 warm-up queries, ``k=10``, end to end: encoding
  the query (pooled, tokens and/or pieces, as the mode needs) plus the ``query_points`` call.
* **Storage** -- ``QdrantIndex.storage()`` over up to 1,000 stored points: raw vector bytes per
  chunk (pooled float32, token vectors at each datatype, int8 copy under scalar quantization,
  sparse ``8 * nnz``) and the JSON payload; Qdrant's index structures come on top.

Run ``python benchmarks/retrieval.py`` (``--chunks 300 --queries 20`` for a quick check).
Tables go to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
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

from t5_vectors import CollectionSpec

SMALL_MODEL: dict[str, Any] = {
    "d_model": 256,
    "num_layers": 4,
    "num_heads": 4,
    "d_ff": 1024,
    "dense_out": 256,
    "max_seq_length": 128,
    "vocab_size": 8000,
    "seed": 0,
}
K = 10
WARMUP = 5
MODES: dict[str, dict[str, Any]] = {
    "pooled (dense)": {"mode": "dense"},
    "maxsim": {"mode": "maxsim"},
    "prefetch + rerank": {"mode": "rerank"},
    "sparse (BM25)": {"mode": "sparse"},
    "hybrid, RRF": {"mode": "hybrid", "fusion": "rrf"},
    "hybrid, DBSF": {"mode": "hybrid", "fusion": "dbsf"},
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def model_path(workdir: Path, name: str) -> Path:
    if name == "base":
        return build_checkpoint(workdir)[0]
    path = workdir / "st5-small-retrieval"
    if not (path / "modules.json").exists():
        from t5_vectors.testing import build_sentence_transformers_checkpoint

        build_sentence_transformers_checkpoint(
            path, tokenizer_sentences=corpus_paragraphs(), **SMALL_MODEL
        )
    return path


def chunks(n: int) -> list[str]:
    pool = corpus_paragraphs()
    return [
        pool[i % len(pool)] + (f" (chunk {i // len(pool)})" if i >= len(pool) else "")
        for i in range(n)
    ]


def queries(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    phrases = sorted({" ".join(p.split()[:12]) for p in corpus_paragraphs()})
    return rng.sample(phrases, min(n, len(phrases)))


def latencies(search: Callable[[str], object], texts: list[str]) -> list[float]:
    for text in texts[:WARMUP]:
        search(text)
    times = []
    for text in texts:
        started = time.perf_counter()
        search(text)
        times.append(time.perf_counter() - started)
    return times


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def fmt_bytes(value: float) -> str:
    if value >= 1024 * 1024:
        return f"{value / 1024 / 1024:.2f} MiB"
    if value >= 1024:
        return f"{value / 1024:.1f} KiB"
    return f"{value:.0f} B"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--model", choices=["small", "base"], default="small")
    parser.add_argument("--url", default=None, help="a Qdrant server instead of embedded Qdrant")
    parser.add_argument("--workdir", type=Path, default=Path("bench_out"))
    args = parser.parse_args()

    import torch

    from t5_vectors import QdrantIndex, T5Encoder, TokenVectors

    torch.manual_seed(0)
    args.workdir.mkdir(parents=True, exist_ok=True)
    path = model_path(args.workdir, args.model)
    encoder = T5Encoder.from_pretrained(str(path), device="cpu", dtype="float32")
    corpus, questions = chunks(args.chunks), queries(args.queries)
    connect: dict[str, Any] = {"storage": args.url}
    if not args.url:
        from qdrant_client import QdrantClient

        storage_dir = tempfile.mkdtemp(prefix="qdrant-", dir=args.workdir)
        connect = {"storage": QdrantClient(path=storage_dir)}  # one client per folder
    indexes: dict[str, Any] = {}
    for datatype in ("float32", "float16"):
        options: dict[str, Any] = {"quantization": "scalar"} if datatype == "float32" else {}
        index = QdrantIndex(
            encoder,
            collection_name=f"retrieval_{datatype}",
            recreate=True,
            spec=CollectionSpec(
                token_vectors=TokenVectors(datatype=datatype, **options), sparse_vectors=True
            ),
            **connect,
        )
        log(f"ingesting {len(corpus)} chunks with {datatype} token vectors ...")
        started = time.perf_counter()
        report = index.ingest(corpus, show_progress=True)
        log(f"  {report.written} written in {time.perf_counter() - started:.1f} s")
        indexes[datatype] = index

    index = indexes["float32"]
    rows = []
    for label, mode in MODES.items():
        log(f"querying: {label} ...")
        times = latencies(lambda q, mode=mode: index.search(q, k=K, **mode), questions)
        rows.append([label, fmt_ms(percentile(times, 50)), fmt_ms(percentile(times, 99))])
    half = indexes["float16"]
    for label in ("maxsim", "prefetch + rerank"):
        times = latencies(lambda q, mode=MODES[label]: half.search(q, k=K, **mode), questions)
        rows.append(
            [
                f"{label}, float16 tokens",
                fmt_ms(percentile(times, 50)),
                fmt_ms(percentile(times, 99)),
            ]
        )

    full, small = index.storage(), half.storage()
    dense = full.dense_bytes
    storage = [
        ["pooled (dense)", fmt_bytes(dense), fmt_bytes(dense + full.payload_bytes)],
        [
            "maxsim / rerank, float32 tokens",
            fmt_bytes(dense + full.token_bytes),
            fmt_bytes(dense + full.token_bytes + full.payload_bytes),
        ],
        [
            "maxsim / rerank, float32 + int8 scalar copy in RAM",
            fmt_bytes(dense + full.token_bytes + full.token_quantized_bytes),
            fmt_bytes(dense + full.token_bytes + full.token_quantized_bytes + full.payload_bytes),
        ],
        [
            "maxsim / rerank, float16 tokens",
            fmt_bytes(dense + small.token_bytes),
            fmt_bytes(dense + small.token_bytes + small.payload_bytes),
        ],
        [
            "sparse (BM25)",
            fmt_bytes(full.sparse_bytes),
            fmt_bytes(full.sparse_bytes + full.payload_bytes),
        ],
        [
            "hybrid",
            fmt_bytes(dense + full.sparse_bytes),
            fmt_bytes(dense + full.sparse_bytes + full.payload_bytes),
        ],
    ]
    print(f"## Retrieval modes: {len(corpus)} chunks, {len(questions)} queries, k={K}\n")
    print("\n".join(environment_lines("cpu")))
    print(
        f"- model: {args.model} (d_model {encoder.d_model}, dim {encoder.dim}), "
        f"Qdrant: {'server ' + args.url if args.url else 'embedded, on disk'}"
    )
    print(
        f"- per chunk: {full.token_count:.1f} token vectors, {full.sparse_nnz:.1f} sparse pieces, "
        f"payload {fmt_bytes(full.payload_bytes)} (measured on {full.points} points)\n"
    )
    print(markdown_table(["mode", "p50 ms", "p99 ms"], rows))
    print()
    print(markdown_table(["mode", "vector bytes / chunk", "with payload"], storage))
    for each in indexes.values():
        each.close()
    if "client" in connect:
        connect["client"].close()


if __name__ == "__main__":
    main()
