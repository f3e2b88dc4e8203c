"""Ingestion into embedded Qdrant: t5-vectors against langchain-qdrant + HuggingFaceEmbeddings.

Same machine, same model, same corpus, same embedded Qdrant (qdrant-client local mode on disk):

* **Model** -- a small T5 sentence-transformers folder the script builds itself with
  ``t5_vectors.testing.build_sentence_transformers_checkpoint`` (``--d-model`` 256, 4 layers,
  4 heads, d_ff 1024, mean pooling + Dense 256 + Normalize, max_seq_length 128, random weights):
  small enough that a run takes minutes on 2 CPU cores. Both systems run it in float32 on the
  CPU with the same torch threads: t5-vectors as ``T5Encoder`` and langchain-qdrant through
  ``HuggingFaceEmbeddings`` (sentence-transformers).
* **Corpus** -- ``--docs`` chunks of real English: the paragraphs of CPython's
  ``pydoc_data.topics`` (about 1,800; cycled with a chunk number when more are asked for), each a
  ``Document`` with ``{"source", "chunk"}`` metadata.
* **Table 1, ingestion** -- t5-vectors ``QdrantIndex.ingest(documents)`` against
  ``QdrantVectorStore.from_documents(documents, HuggingFaceEmbeddings(...), path=...)``, each into
  a fresh on-disk collection, after loading and warming up the model (not timed): docs/s, the
  share of wall time spent in Qdrant calls, then the time of a second, unchanged ingestion of the
  same documents, how many texts it encoded and how many points the collection holds after it.
  "Time in Qdrant calls" adds up every Qdrant call; t5-vectors uploads from a background thread
  while the next batch encodes (on 2 cores the two compete, so those calls take longer), so its
  "wall time waiting on Qdrant" -- hash lookups plus waiting for the uploader -- is the part of
  the wall time Qdrant actually costs. langchain-qdrant waits for every call. Both use their
  default batch sizes (256 and 64).
* **Table 2, memory** -- peak RSS (``VmHWM``, the high-water mark) of a fresh subprocess per
  system and corpus size, streaming ``--memory-docs`` chunks (10k and 100k) with a tiny model
  (d_model 32, 2 layers: memory, not compute, is measured). t5-vectors reads a generator;
  langchain-qdrant's ``from_documents`` takes a list. Embedded Qdrant keeps every point in process
  memory, so rows that store into it grow with the corpus whatever the pipeline does; the
  "Qdrant stubbed" rows replace upserts (and lookups) with no-ops to show each pipeline's own
  memory. "Growth" is the peak minus the peak after loading the model.

Run it with ``python benchmarks/ingest.py`` (``--skip memory`` or ``--skip ingest`` for one table,
``--docs 500 --memory-docs 2000,20000`` for a quick look). Tables go to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from _common import corpus_paragraphs, environment_lines, fmt_rate, fmt_share, markdown_table

INGEST_MODEL: dict[str, Any] = {
    "d_model": 256,
    "num_layers": 4,
    "num_heads": 4,
    "d_ff": 1024,
    "dense_out": 256,
    "max_seq_length": 128,
    "seed": 0,
}
MEMORY_MODEL: dict[str, Any] = {
    "d_model": 32,
    "num_layers": 2,
    "num_heads": 4,
    "d_ff": 64,
    "dense_out": 32,
    "max_seq_length": 64,
    "seed": 0,
}
MEMORY_SYSTEMS = (
    "t5-vectors",
    "langchain-qdrant",
    "t5-vectors, Qdrant stubbed",
    "langchain-qdrant, Qdrant stubbed",
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def model_folder(workdir: Path, name: str, spec: dict[str, Any]) -> Path:
    """Build the checkpoint once per spec under *workdir*."""
    from t5_vectors.testing import build_sentence_transformers_checkpoint

    path = workdir / name
    marker = path / "bench_spec.json"
    if not (marker.exists() and json.loads(marker.read_text()) == spec):
        build_sentence_transformers_checkpoint(path, **spec)
        marker.write_text(json.dumps(spec))
    return path


def documents(n: int) -> Iterator[Any]:
    """*n* chunks of real English, lazily, each with source and chunk metadata."""
    from langchain_core.documents import Document

    pool = corpus_paragraphs()
    for i in range(n):
        text = pool[i % len(pool)]
        if i >= len(pool):
            text = f"{text} (chunk {i})"
        yield Document(page_content=text, metadata={"source": f"pydoc/{i % len(pool)}", "chunk": i})


class QdrantTimer:
    """Adds up the time spent in ``QdrantClient.upsert`` (the only call langchain-qdrant makes
    while ingesting)."""

    def __init__(self) -> None:
        from qdrant_client import QdrantClient

        self.seconds = 0.0
        self._cls = QdrantClient
        self._original = QdrantClient.upsert

    def __enter__(self) -> QdrantTimer:
        original = self._original

        def timed(client: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(client, *args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        self._cls.upsert = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self._cls.upsert = self._original  # type: ignore[method-assign]


# ------------------------------------------------------------------------------------ table 1
def ingest_t5(model: Path, docs: list[Any], storage: Path) -> dict[str, Any]:
    from t5_vectors import QdrantIndex, T5Encoder

    encoder = T5Encoder.from_pretrained(str(model), device="cpu", dtype="float32")
    encoder.encode([d.page_content for d in docs[:8]])  # warm-up, not timed
    encoded = 0
    encode = encoder.encode

    def counting(texts: Any, **kwargs: Any) -> Any:
        nonlocal encoded
        encoded += len(texts)
        return encode(texts, **kwargs)

    encoder.encode = counting  # type: ignore[method-assign]
    with QdrantIndex(encoder, collection_name="bench", storage=storage) as index:
        started = time.perf_counter()
        report = index.ingest(docs)
        wall = time.perf_counter() - started
        encoded_first, encoded = encoded, 0
        started = time.perf_counter()
        again = index.ingest(docs)
        rewall = time.perf_counter() - started
        points = index.count()
    encoder.close()
    assert report.written == len(docs), report
    return {
        "wall": wall,
        "qdrant": report.qdrant_seconds,
        "waited": report.qdrant_wait_seconds,
        "encoded_first": encoded_first,
        "rewall": rewall,
        "reencoded": encoded,
        "rewritten": again.written,
        "points": points,
    }


def ingest_langchain_qdrant(model: Path, docs: list[Any], storage: Path) -> dict[str, Any]:
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_qdrant import QdrantVectorStore

    embeddings = HuggingFaceEmbeddings(model_name=str(model), model_kwargs={"device": "cpu"})
    embeddings.embed_documents([d.page_content for d in docs[:8]])  # warm-up, not timed
    encoded = 0
    embed = embeddings.embed_documents

    def counting(texts: list[str]) -> list[list[float]]:
        nonlocal encoded
        encoded += len(texts)
        return embed(texts)

    object.__setattr__(embeddings, "embed_documents", counting)
    with QdrantTimer() as timer:
        started = time.perf_counter()
        store = QdrantVectorStore.from_documents(
            docs, embeddings, path=str(storage), collection_name="bench"
        )
        wall = time.perf_counter() - started
        qdrant = timer.seconds
    encoded_first, encoded = encoded, 0
    started = time.perf_counter()
    store.add_documents(docs)  # the same documents again, as a re-run would send them
    rewall = time.perf_counter() - started
    points = store.client.count("bench").count
    store.client.close()
    return {
        "wall": wall,
        "qdrant": qdrant,
        "waited": qdrant,  # serial: every Qdrant call is waited for
        "encoded_first": encoded_first,
        "rewall": rewall,
        "reencoded": encoded,
        "rewritten": len(docs),
        "points": points,
    }


def ingest_table(workdir: Path, n_docs: int) -> str:
    model = model_folder(workdir, "st5-small", INGEST_MODEL)
    docs = list(documents(n_docs))
    rows = []
    for name, run in (("t5-vectors", ingest_t5), ("langchain-qdrant", ingest_langchain_qdrant)):
        log(f"[ingest] {name}: {n_docs} docs")
        with tempfile.TemporaryDirectory(dir=workdir) as storage:
            result = run(model, docs, Path(storage))
        log(f"[ingest] {name}: {result}")
        rows.append(
            [
                name,
                fmt_rate(n_docs / result["wall"]),
                f"{result['wall']:.1f}",
                fmt_share(result["qdrant"] / result["wall"]),
                fmt_share(result["waited"] / result["wall"]),
                f"{result['rewall']:.2f}",
                f"{result['reencoded']:,}",
                f"{result['points']:,}",
            ]
        )
    headers = [
        "system",
        "docs/s",
        "wall s",
        "time in Qdrant calls",
        "wall time waiting on Qdrant",
        "re-ingest s",
        "re-ingest texts encoded",
        "points after re-ingest",
    ]
    return markdown_table(headers, rows)


# ------------------------------------------------------------------------------------ table 2
def peak_rss_mib() -> float:
    """This process's peak resident set size (``VmHWM``), in MiB.

    Not ``getrusage().ru_maxrss``: Linux carries that across ``fork`` + ``exec``, so a child
    would report its parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("VmHWM not found in /proc/self/status (Linux only)")


def child_memory(system: str, n: int, model: Path, storage: Path) -> dict[str, float]:
    """Runs in a fresh subprocess: load, warm up, stream *n* chunks, report the RSS peaks."""
    from qdrant_client import QdrantClient

    stubbed = system.endswith("Qdrant stubbed")
    if stubbed:
        QdrantClient.upsert = lambda *args, **kwargs: None  # type: ignore[method-assign]
        QdrantClient.retrieve = lambda *args, **kwargs: []  # type: ignore[method-assign]
    location = {"location": ":memory:"} if stubbed else {"path": str(storage)}
    if system.startswith("t5-vectors"):
        from t5_vectors import QdrantIndex, T5Encoder

        encoder = T5Encoder.from_pretrained(str(model), device="cpu", dtype="float32")
        encoder.encode(["warm-up text"] * 8)
        index = QdrantIndex(encoder, collection_name="memory", **location)
        base = peak_rss_mib()
        report = index.ingest(documents(n))
        assert report.written == n, report
    else:
        from langchain_huggingface import HuggingFaceEmbeddings
        from langchain_qdrant import QdrantVectorStore

        embeddings = HuggingFaceEmbeddings(model_name=str(model), model_kwargs={"device": "cpu"})
        embeddings.embed_documents(["warm-up text"] * 8)
        base = peak_rss_mib()
        QdrantVectorStore.from_documents(
            list(documents(n)), embeddings, collection_name="memory", **location
        )
    return {"base": base, "peak": peak_rss_mib()}


def memory_table(workdir: Path, sizes: list[int]) -> str:
    model = model_folder(workdir, "st5-tiny", MEMORY_MODEL)
    rows = []
    for system in MEMORY_SYSTEMS:
        results = {}
        for n in sizes:
            log(f"[memory] {system}: {n:,} chunks")
            with tempfile.TemporaryDirectory(dir=workdir) as storage:
                command = [
                    sys.executable,
                    __file__,
                    "--child",
                    json.dumps({"system": system, "n": n, "model": str(model), "storage": storage}),
                ]
                started = time.perf_counter()
                output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
                seconds = time.perf_counter() - started
            results[n] = json.loads(output.strip().splitlines()[-1])
            log(f"[memory] {system}: {n:,} -> {results[n]} in {seconds:.0f} s")
        first, last = results[sizes[0]], results[sizes[-1]]
        growth = [results[n]["peak"] - results[n]["base"] for n in sizes]
        rows.append(
            [
                system,
                *[f"{results[n]['peak']:,.0f}" for n in sizes],
                *[f"{g:,.0f}" for g in growth],
                f"{last['peak'] / first['peak']:.2f}x",
            ]
        )
    headers = [
        "system",
        *[f"peak RSS MiB, {n:,}" for n in sizes],
        *[f"growth MiB, {n:,}" for n in sizes],
        f"peak {sizes[-1]:,} / {sizes[0]:,}",
    ]
    return markdown_table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--docs", type=int, default=2000, help="chunks for table 1")
    parser.add_argument("--memory-docs", default="10000,100000", help="chunk counts for table 2")
    parser.add_argument("--workdir", type=Path, default=Path("bench_out/ingest"))
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--skip", default="", help="comma-separated: ingest, memory")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        result = child_memory(spec["system"], spec["n"], Path(spec["model"]), Path(spec["storage"]))
        print(json.dumps(result))
        return

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    print("## Ingestion into embedded Qdrant\n")
    print("\n".join(environment_lines("cpu")))
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        print(
            f"- qdrant-client {version('qdrant-client')}, "
            f"langchain-qdrant {version('langchain-qdrant')}"
        )
    if "ingest" not in skip:
        shape = ", ".join(f"{k} {v}" for k, v in INGEST_MODEL.items() if k != "seed")
        print(f"\n### Ingest {args.docs:,} chunks (model: {shape}; float32, CPU)\n")
        print(ingest_table(args.workdir, args.docs))
    if "memory" not in skip:
        sizes = [int(s) for s in args.memory_docs.split(",")]
        shape = ", ".join(f"{k} {v}" for k, v in MEMORY_MODEL.items() if k != "seed")
        print(f"\n### Peak RSS while streaming (model: {shape})\n")
        print(memory_table(args.workdir, sizes))


if __name__ == "__main__":
    main()
