"""The store benchmark's phases that only t5-vectors runs (see ``store.py``).

* ``engine`` -- Qdrant Edge alone (its storage backend, from ``open_storage``) over the
  real vectors: index build time, search q/s (1 thread) and recall@10 per HNSW ``m`` /
  ``ef_construct``, quantization, ``hnsw_ef`` and oversampling;
* ``files`` -- ingest Python modules through ``t5_vectors.files`` (the CLI's path) with a tiny
  encoder, to time the no-op re-ingest.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from _store_systems import COLLECTION, K, peak_rss_mb
from _store_vectors import cached_vectors


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

    docs_v, queries_v, _, _ = cached_vectors(args.workdir, args.docs, args.queries, mmap=True)
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
    from t5_vectors import open_storage

    storage = open_storage(args.store, edge_options={"index_after": None, "quantization": None})
    backend = storage.backend  # Qdrant Edge, configured by each config's schema
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
    storage.close()
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
    index = QdrantIndex(encoder, collection_name=COLLECTION, storage=str(store))
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
