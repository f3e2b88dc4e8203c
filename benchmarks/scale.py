"""Scale-out: a plain ingest against ``t5_vectors.ray.ingest`` with 1, 2, ... encoder actors.

Same machine, model, corpus and storage in one run, side by side:

* **Model** -- a T5 sentence-transformers folder the script builds with
  ``t5_vectors.testing.build_sentence_transformers_checkpoint`` (random weights; ``--model small``:
  d_model 256, 4 layers, max_seq_length 128, as ``benchmarks/ingest.py``; ``--model base``: the
  T5-base shape of ``benchmarks/_common.py``), float32.
* **Corpus** -- ``--docs`` chunks of real English (CPython's ``pydoc_data.topics`` paragraphs,
  cycled with a chunk number), each with an id, ``source`` and ``chunk``.
* **Storage** -- a fresh embedded collection (``QdrantIndex(storage=...)``) per run: the plain
  ingest writes it from its background uploader, the Ray ingest from the driver (embedded storage
  serves one process), so both pay the same writes.
* **Rows** -- ``plain, T threads``: ``QdrantIndex.ingest`` in this process with
  ``torch.set_num_threads(T)``, model loaded before timing. ``Ray, A actors``:
  ``t5_vectors.ray.ingest(ray.data.from_items(rows), index, concurrency=A)`` on a local Ray
  cluster, each actor ``num_cpus=1`` (Ray then runs torch on one thread per actor). Ray's wall
  time includes what a run costs Ray: starting the actors and loading the model in each, the
  lookup pass and handing rows between processes. ``fixed`` is a Ray run over ``--probe-docs``
  chunks (the per-run start-up cost, measured); ``steady`` is derived: ``(docs - probe) /
  (wall - fixed)``. ``cold start`` splits the fixed cost: a fresh Python process importing
  what an encoder actor imports (Ray Data, ``t5_vectors.ray._embed``) and loading the model,
  timed inside that process; the rest of ``fixed`` is Ray's (scheduling the actor, its worker
  setting up, moving rows and vectors) and the tiny encode and write.
* **Ray set-up** -- ``ray.init`` and Ray Data's first execution in the cluster (it starts Ray
  Data's own long-lived actors, seconds on a small machine) run once before any timing and are
  reported apart: otherwise the first Ray row would pay them and the probe, run later, would
  not.
* **Ratios** -- ``vs plain`` divides a Ray row's chunks/s by the plain row with the same number
  of torch threads in total (1 actor against 1 thread, 2 actors against 2 threads). Ray's
  overhead at one actor is ``1 - ratio``. Each configuration runs ``--repeat`` times in turn
  (interleaved, so that load from other processes hits all of them alike); the table shows
  the median.

``--gpu`` (on a machine with CUDA) adds one GPU actor against the plain ingest on the GPU.

``--storage N`` prints a second table instead: bytes per chunk of each collection layout,
measured by ``QdrantIndex.storage()`` on N chunks of 256 T5 tokens (the corpus joined and split
by the CLI's ``TokenChunker``) stored with a 768-wide model (T5-base's ``d_model`` and ``dim``,
one layer: stored bytes depend on the widths and token counts, not on depth), then scaled to
100M chunks. RAM with on-disk originals is derived from the same measurements (quantized copies
stay in RAM, originals are memory-mapped); HNSW links are not measured (``m=16``: about
``2 * m * 4 = 128`` bytes a point at level 0, derived).
Tables go to stdout, progress to stderr. Example: ``python benchmarks/scale.py --docs 2000``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    CHECKPOINT_SPEC,
    corpus_paragraphs,
    environment_lines,
    markdown_table,
    usable_cpus,
)

from t5_vectors import CollectionSpec

SMALL_MODEL: dict[str, Any] = {
    "d_model": 256,
    "num_layers": 4,
    "num_heads": 4,
    "d_ff": 1024,
    "dense_out": 256,
    "max_seq_length": 128,
    "seed": 0,
}
REPO = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def model_folder(workdir: Path, name: str) -> Path:
    import json

    from t5_vectors.testing import build_sentence_transformers_checkpoint

    spec = SMALL_MODEL if name == "small" else {**CHECKPOINT_SPEC, "max_seq_length": 256}
    path = workdir / f"scale-{name}"
    marker = path / "bench_spec.json"
    if not (marker.exists() and json.loads(marker.read_text()) == spec):
        extra = {"tokenizer_sentences": corpus_paragraphs()} if name == "base" else {}
        build_sentence_transformers_checkpoint(path, **spec, **extra)
        marker.write_text(json.dumps(spec))
    return path


def rows(n: int) -> list[dict[str, Any]]:
    pool = corpus_paragraphs()
    out = []
    for i in range(n):
        text = pool[i % len(pool)]
        if i >= len(pool):
            text = f"{text} (chunk {i})"
        out.append({"id": f"doc-{i}", "text": text, "source": f"pydoc/{i % len(pool)}", "chunk": i})
    return out


def plain(
    model: Path, data: list[dict[str, Any]], storage: Path, threads: int, device: str
) -> float:
    import torch
    from langchain_core.documents import Document

    from t5_vectors import QdrantIndex, T5Encoder

    torch.set_num_threads(threads)
    encoder = T5Encoder.from_pretrained(str(model), device=device, dtype="float32")
    encoder.encode(["warm up"] * 8)
    documents = [
        Document(
            id=r["id"],
            page_content=r["text"],
            metadata={"source": r["source"], "chunk": r["chunk"]},
        )
        for r in data
    ]
    with QdrantIndex(encoder, collection_name="scale", storage=storage) as index:
        started = time.perf_counter()
        report = index.ingest(documents)
        seconds = time.perf_counter() - started
        assert report.written == len(data), report
        assert index.count() == len(data)
    encoder.close()
    return seconds


COLD_START = """
import sys, time
started = time.perf_counter()
import ray.data
import t5_vectors.ray._embed
from t5_vectors import T5Encoder
encoder = T5Encoder.from_pretrained(sys.argv[1], device="cpu", dtype="float32")
encoder.encode(["warm up"])
print(time.perf_counter() - started)
"""


def cold_start(model: Path) -> float:
    """Seconds a fresh process takes to import what an encoder actor imports and load the model."""
    import subprocess

    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-c", COLD_START, str(model)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(run.stdout.strip().splitlines()[-1])


class _Identity:
    def __call__(self, batch: Any) -> Any:
        return batch


def ray_data_setup() -> float:
    """Seconds of Ray Data's first execution in the cluster (an actor pool over 2 rows)."""
    import ray

    started = time.perf_counter()
    ray.data.range(2).map_batches(
        _Identity, compute=ray.data.ActorPoolStrategy(size=1), batch_size=None
    ).materialize()
    return time.perf_counter() - started


def on_ray(
    model: Path, data: list[dict[str, Any]], storage: Path, actors: int, num_gpus: float | None
) -> float:
    import ray
    import torch

    from t5_vectors import QdrantIndex, T5Encoder
    from t5_vectors.ray import ingest

    torch.set_num_threads(1)
    device = "cuda" if num_gpus else "cpu"
    encoder = T5Encoder.from_pretrained(str(model), device=device, dtype="float32")
    with QdrantIndex(encoder, collection_name="scale", storage=storage) as index:
        dataset = ray.data.from_items(data, override_num_blocks=max(4 * actors, 8))
        started = time.perf_counter()
        report = ingest(
            dataset,
            index,
            id_column="id",
            metadata_columns=["source", "chunk"],
            concurrency=actors,
            num_gpus=num_gpus,
        )
        seconds = time.perf_counter() - started
        assert report.written == len(data), report
        assert index.count() == len(data)
    encoder.close()
    return seconds


WIDE_MODEL: dict[str, Any] = {
    "d_model": 768,
    "num_layers": 1,
    "num_heads": 12,
    "d_ff": 768,
    "dense_out": 768,
    "max_seq_length": 256,
    "seed": 0,
    "vocab_size": 8000,
}


def storage_table(workdir: Path, n_chunks: int) -> None:
    """Bytes per chunk per layout, measured on *n_chunks* 256-token chunks; scaled to 100M."""
    import json

    from t5_vectors import QdrantIndex, SparseVectors, T5Encoder, TokenVectors
    from t5_vectors.files import ChunkSettings, TokenChunker
    from t5_vectors.testing import build_sentence_transformers_checkpoint

    path = workdir / "scale-wide"
    marker = path / "bench_spec.json"
    if not (marker.exists() and json.loads(marker.read_text()) == WIDE_MODEL):
        build_sentence_transformers_checkpoint(
            path, **WIDE_MODEL, tokenizer_sentences=corpus_paragraphs()
        )
        marker.write_text(json.dumps(WIDE_MODEL))
    encoder = T5Encoder.from_pretrained(str(path), device="cpu", dtype="float32")
    chunker = TokenChunker(encoder, ChunkSettings(256, 32))
    chunks = [c.text for c in chunker.split("\n\n".join(corpus_paragraphs()))][:n_chunks]
    tokens = encoder.count_tokens(chunks)
    log(f"storage: {len(chunks)} chunks, {sum(tokens) / len(chunks):.0f} tokens each on average")
    layouts: list[tuple[str, dict[str, Any], bool]] = [
        ("dense float32", {}, False),
        ("dense float32, on disk + int8 scalar in RAM", {"quantization": "scalar"}, True),
        ("dense float32, on disk + binary in RAM", {"quantization": "binary"}, True),
        ("dense + sparse (BM25)", {"sparse_vectors": True}, False),
        ("dense + tokens float32", {"token_vectors": True}, False),
        ("dense + tokens float16", {"token_vectors": TokenVectors(datatype="float16")}, False),
        (
            "dense + tokens float16 on disk + int8 scalar in RAM",
            {
                "token_vectors": TokenVectors(
                    datatype="float16", quantization="scalar", on_disk=True
                ),
                "quantization": "scalar",
            },
            True,
        ),
        (
            "dense + tokens float16 + sparse",
            {"token_vectors": TokenVectors(datatype="float16"), "sparse_vectors": SparseVectors()},
            False,
        ),
    ]
    rows = []
    for name, options, on_disk in layouts:
        with (
            tempfile.TemporaryDirectory(dir=workdir) as folder,
            QdrantIndex(
                encoder,
                collection_name="s",
                storage=Path(folder) / "s",
                spec=CollectionSpec(on_disk=on_disk, **options),
            ) as index,
        ):
            index.ingest(chunks)
            report = index.storage(sample=len(chunks))
        quantized = report.token_quantized_bytes
        dense_original = float(encoder.dim * 4)
        dense_quantized = report.dense_bytes - dense_original
        tokens_original = report.token_bytes
        # On disk: originals memory-mapped, quantized copies and sparse vectors in RAM.
        ram = dense_quantized + quantized + report.sparse_bytes if on_disk else report.vector_bytes
        disk_only = report.vector_bytes - ram
        rows.append(
            [
                name,
                f"{report.dense_bytes:,.0f}",
                f"{tokens_original + quantized:,.0f}",
                f"{report.sparse_bytes:,.0f}",
                f"{report.payload_bytes:,.0f}",
                f"{report.total_bytes:,.0f}",
                f"{report.total_bytes * 1e8 / 1e12:,.2f} TB",
                f"{ram * 1e8 / 1e9:,.0f} GB",
                f"{disk_only * 1e8 / 1e9:,.0f} GB",
            ]
        )
    encoder.close()
    print(
        f"## Bytes per chunk by layout ({len(chunks)} chunks of ~"
        f"{sum(tokens) / len(chunks):.0f} tokens, dim 768, d_model 768)\n"
    )
    print(
        markdown_table(
            [
                "layout",
                "dense B",
                "tokens B",
                "sparse B",
                "payload B",
                "total B / chunk",
                "100M chunks, all bytes",
                "100M: vectors in RAM (derived)",
                "100M: vectors on disk only (derived)",
            ],
            rows,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--probe-docs", type=int, default=16)
    parser.add_argument("--actors", default="1,2", help="comma-separated actor counts")
    parser.add_argument("--model", choices=("small", "base"), default="small")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--gpu", action="store_true", help="also one GPU actor vs plain on CUDA")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "t5v-bench")
    parser.add_argument("--storage", type=int, default=0, help="bytes per chunk on N chunks")
    args = parser.parse_args()
    if args.storage:
        args.workdir.mkdir(parents=True, exist_ok=True)
        storage_table(args.workdir, args.storage)
        return
    actor_counts = [int(n) for n in args.actors.split(",")]
    cpus = usable_cpus()
    args.workdir.mkdir(parents=True, exist_ok=True)
    model = model_folder(args.workdir, args.model)
    data = rows(args.docs)
    probe = rows(args.probe_docs)

    import ray

    started = time.perf_counter()
    ray.init(
        address="local",  # never attach to another cluster on this machine
        num_cpus=cpus,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={
            "env_vars": {
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p
                ),
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false",
            }
        },
    )
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    setup = (time.perf_counter() - started, ray_data_setup())
    log(f"Ray set-up (untimed below): ray.init {setup[0]:.2f} s, first execution {setup[1]:.2f} s")

    configs: list[tuple[str, Any]] = []
    for threads in sorted({1, *(n for n in actor_counts if n <= cpus)}):
        configs.append((f"plain, {threads} thread{'s' * (threads > 1)}", ("plain", threads, "cpu")))
    for actors in actor_counts:
        configs.append((f"Ray, {actors} actor{'s' * (actors > 1)}", ("ray", actors, None)))
    configs.append(("Ray fixed cost (probe)", ("probe", 1, None)))
    configs.append(("of which: encoder process cold start", ("cold", 1, None)))
    if args.gpu:
        configs.append(("plain, GPU", ("plain", 1, "cuda")))
        configs.append(("Ray, 1 GPU actor", ("ray", 1, 1.0)))
        configs.append(("Ray fixed cost, GPU (probe)", ("probe", 1, 1.0)))
    times: dict[str, list[float]] = {name: [] for name, _ in configs}
    try:
        for round_ in range(args.repeat):
            for name, (kind, n, extra) in configs:
                with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
                    storage = Path(folder) / "store"
                    if kind == "plain":
                        seconds = plain(model, data, storage, n, extra)
                    elif kind == "ray":
                        seconds = on_ray(model, data, storage, n, extra)
                    elif kind == "cold":
                        seconds = cold_start(model)
                    else:
                        seconds = on_ray(model, probe, storage, n, extra)
                times[name].append(seconds)
                log(f"round {round_ + 1}: {name}: {seconds:.2f} s")
    finally:
        ray.shutdown()

    median = {name: statistics.median(values) for name, values in times.items()}
    rate = {name: args.docs / seconds for name, seconds in median.items()}
    table = []
    for name, (kind, n, extra) in configs:
        if kind in ("probe", "cold"):
            chunks = f"{args.probe_docs}" if kind == "probe" else ""
            table.append([name, chunks, f"{median[name]:.2f}", "", "", ""])
            continue
        reference = (
            "plain, GPU"
            if extra not in (None, "cpu") or (kind == "plain" and extra == "cuda")
            else f"plain, {n} thread{'s' * (n > 1)}"
        )
        ratio = rate[name] / rate[reference] if reference in rate else float("nan")
        steady = ""
        if kind == "ray":
            fixed = median["Ray fixed cost, GPU (probe)" if extra else "Ray fixed cost (probe)"]
            if median[name] > fixed:
                steady = f"{(args.docs - args.probe_docs) / (median[name] - fixed):.1f}"
        table.append(
            [
                name,
                f"{args.docs}",
                f"{median[name]:.2f}",
                f"{rate[name]:.1f}",
                f"{ratio:.2f}",
                steady,
            ]
        )
    print(f"## Scale-out: plain ingest vs Ray ({args.model} model, {args.docs} chunks)\n")
    print("\n".join(environment_lines("cpu")))
    print(
        f"- Ray {ray.__version__}, {cpus} CPUs in the local cluster; median of {args.repeat} runs"
    )
    print(
        f"- Ray set-up, once, before timing: ray.init {setup[0]:.2f} s, Ray Data's first "
        f"execution {setup[1]:.2f} s\n"
    )
    print(
        markdown_table(
            [
                "run",
                "chunks",
                "wall s",
                "chunks/s",
                "vs plain (same threads)",
                "steady chunks/s (derived)",
            ],
            table,
        )
    )
    print()
    print(
        "raw seconds: " + "; ".join(f"{k}: {[round(v, 2) for v in vs]}" for k, vs in times.items())
    )


if __name__ == "__main__":
    main()
