"""Realistic vectors for the store benchmark: real English text through a T5-base-sized model.

No trained weights can be downloaded on the benchmark machines, so the vectors come from a
T5-base-wide checkpoint built here (:data:`SPEC`: sentence-t5-base layout, d_model 768, 12 heads,
d_ff 3072, Dense 768, **random-initialised weights**, a sentencepiece vocabulary trained on
CPython's documentation) with 1 of T5-base's 12 layers, float32, and texts cut at 64 tokens: on
two CPU cores shared with four other jobs, 12 layers encoded about 2 texts/s and 4 layers about
3.6 texts/s (bfloat16 was 4x slower than float32 there), too slow for 20k texts in one session.
The texts are real English: the docstring paragraphs of the Python standard library and of the
installed packages (read with ``ast``, nothing imported), deduplicated, in a fixed order. Random
weights make the space more anisotropic (vectors cluster more tightly) than a trained model's,
which is, if anything, harder for HNSW. Queries are held-out paragraphs (never stored) through
the same model.

The vectors are cached as ``.npy`` under the work folder (one file for a prefix of the shuffled
paragraphs, grown on demand): encoding 100k paragraphs takes minutes to tens of minutes on two CPU
cores, the storage benchmarks then reuse them.
"""

from __future__ import annotations

import ast
import hashlib
import json
import random
import re
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

_WS = re.compile(r"\s+")

SPEC = {
    "d_model": 768,
    "num_layers": 1,
    "num_heads": 12,
    "d_ff": 3072,
    "dense_out": 768,
    "variant": "v1_0",
    "max_seq_length": 64,
    "seed": 0,
    "vocab_size": 8000,
}
"""The vector model: T5-base width, 1 layer, random weights (see the module docstring)."""


def _roots() -> list[Path]:
    """The standard library, then every ``site-packages`` folder on ``sys.path`` in its order.

    ``sys.path`` rather than ``sysconfig``'s ``purelib`` alone: a virtual environment layered on
    another (a ``.pth`` naming the other's ``site-packages``) reads the packages of both.
    """
    roots = [Path(sysconfig.get_paths()["stdlib"])]
    roots += [Path(entry) for entry in sys.path if Path(entry).name == "site-packages"]
    unique: list[Path] = []
    for root in roots:
        if root.is_dir() and root.resolve() not in {r.resolve() for r in unique}:
            unique.append(root)
    return unique


def _sources() -> list[Path]:
    files: list[Path] = []
    for number, root in enumerate(_roots()):
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).parts
            if number == 0 and "site-packages" in parts:
                continue
            if any(p in ("test", "tests", "testing", "idle_test") for p in parts):
                continue
            files.append(path)
    return files


def stdlib_paragraphs(
    min_words: int = 8, max_chars: int = 600, enough: int | None = None
) -> list[str]:
    """Distinct docstring paragraphs of the standard library, then of the installed packages.

    Test folders are skipped; files are read in sorted order, so the list is deterministic for
    one environment. Reading stops once ``enough`` paragraphs are found.
    """
    seen: set[str] = set()
    paragraphs: list[str] = []
    for path in _sources():
        if enough is not None and len(paragraphs) >= enough:
            break
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="ignore"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if not isinstance(
                node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
            ):
                continue
            doc = ast.get_docstring(node)
            if not doc:
                continue
            for raw in re.split(r"\n\s*\n", doc):
                text = _WS.sub(" ", raw).strip()[:max_chars]
                if len(text.split()) < min_words or not re.search(r"[A-Za-z]{3}", text):
                    continue
                if text in seen:
                    continue
                seen.add(text)
                paragraphs.append(text)
    return paragraphs


def _pool(seed: int, cache: Path | None) -> list[str]:
    """Every paragraph, shuffled by ``seed``; the unshuffled list is cached as JSON in ``cache``."""
    if cache is not None and cache.exists():
        pool = json.loads(cache.read_text())
    else:
        pool = stdlib_paragraphs()
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(pool))
    random.Random(seed).shuffle(pool)
    return list(pool)


def split_corpus(
    n_docs: int, n_queries: int, seed: int = 0, cache: Path | None = None
) -> tuple[list[str], list[str]]:
    """``n_docs`` stored texts and ``n_queries`` held-out query texts, shuffled by ``seed``.

    The documents are the first ``n_docs`` paragraphs of the shuffled pool and the queries the
    next ``n_queries``, so a smaller corpus is a prefix of a larger one and one cache of vectors
    serves every size. The paragraph pool (minutes to parse) is cached as JSON in ``cache``.
    """
    pool = _pool(seed, cache)
    if n_docs + n_queries > len(pool):
        raise SystemExit(f"only {len(pool)} paragraphs; asked for {n_docs} + {n_queries}")
    return pool[:n_docs], pool[n_docs : n_docs + n_queries]


def cached_vectors(
    workdir: Path,
    n_docs: int,
    n_queries: int,
    *,
    dtype: str = "float32",
    seed: int = 0,
    mmap: bool = False,
) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Document and query vectors (float32, unit rows) and their texts, encoded once and cached.

    The cache holds the vectors of a prefix of the shuffled pool (``pool-<key>.npy``) and grows
    when a larger corpus is asked for; it is saved every 5,000 texts, so a stopped run resumes.
    ``mmap`` maps the cached vectors instead of reading them.
    """
    folder = workdir / "store-vectors"
    pool = _pool(seed, folder / "paragraphs.json")
    needed = n_docs + n_queries
    if needed > len(pool):
        raise SystemExit(f"only {len(pool)} paragraphs; asked for {n_docs} + {n_queries}")
    key = hashlib.sha256(json.dumps([seed, dtype, SPEC, len(pool), pool[:3]]).encode()).hexdigest()[
        :12
    ]
    pool_file = folder / f"pool-{key}.npy"
    have = np.load(pool_file, mmap_mode="r") if pool_file.exists() else None
    if have is None or len(have) < needed:
        have = _extend(workdir, pool_file, have, pool[:needed], dtype)
    if not mmap:
        have = np.asarray(have[:needed])
    docs, queries = pool[:n_docs], pool[n_docs:needed]
    return have[:n_docs], np.asarray(have[n_docs:needed]), docs, queries


def _extend(
    workdir: Path, pool_file: Path, have: np.ndarray | None, texts: list[str], dtype: str
) -> np.ndarray:
    sys.path.insert(0, str(Path(__file__).parent))
    from _common import corpus_paragraphs

    from t5_vectors import T5Encoder
    from t5_vectors.testing import build_sentence_transformers_checkpoint

    path = workdir / "st5-768x1-random"
    if not (path / "modules.json").exists():
        build_sentence_transformers_checkpoint(
            path,
            tokenizer_sentences=corpus_paragraphs(),
            **SPEC,  # type: ignore[arg-type]
        )
    print(f"checkpoint {path}", file=sys.stderr, flush=True)
    parts = [] if have is None else [np.asarray(have, dtype=np.float32)]
    done = 0 if have is None else len(have)
    first = done
    encoder = T5Encoder.from_pretrained(str(path), device="cpu", dtype=dtype)
    try:
        start = time.perf_counter()
        step = 5000
        for i in range(done, len(texts), step):
            parts.append(np.asarray(encoder.encode(texts[i : i + step]), dtype=np.float32))
            done = i + len(parts[-1])
            rate = (done - first) / (time.perf_counter() - start)
            print(f"encoded {done}/{len(texts)} ({rate:.1f} texts/s)", file=sys.stderr, flush=True)
            tmp = pool_file.with_suffix(".tmp.npy")
            np.save(tmp, np.concatenate(parts))
            tmp.replace(pool_file)
    finally:
        encoder.close()
    return np.load(pool_file, mmap_mode="r")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="encode and cache the store benchmark vectors")
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--workdir", type=Path, default=Path("bench_out"))
    args = parser.parse_args()
    d, q, _, _ = cached_vectors(args.workdir, args.docs, args.queries)
    print(d.shape, q.shape)
