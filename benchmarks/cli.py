"""Wall time of the command line's entry points, this tree against another (before/after).

Run::

    python benchmarks/cli.py                                   # this tree only
    git worktree add /tmp/cli-before <base commit>
    python benchmarks/cli.py --before /tmp/cli-before          # both, interleaved

Each case is a fresh interpreter (``subprocess``), as a user's shell starts it: ``python -c
"import t5_vectors"``, ``t5-vectors --help``, ``t5-vectors info`` on an embedded store with one
collection, and ``t5-vectors search`` on it with a tiny random-weight model (built offline, so
the model's own compute is negligible and what is measured is start-up: imports, loading, opening
the store). ``--ingest N`` adds a full ``t5-vectors ingest`` of N generated notes into a fresh
store with the same model (the streaming pipeline's cost, start-up included). Trees are run
alternately, case by case, so both see the same machine load; the table
gives the median and the minimum of ``--repeat`` runs. Shared machines are noisy: compare the
columns of one run, not runs of different days.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}


def _run(tree: Path, argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *argv], cwd=cwd, env=_env(tree), capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{tree}: {' '.join(argv)} failed:\n{done.stderr}")
    return seconds


def _cases(store: Path, model: Path, corpus: Path | None) -> dict[str, list[str]]:
    cli = ["-m", "t5_vectors"]
    where = ["--qdrant-path", str(store)]
    ingest: dict[str, list[str]] = {}
    if corpus is not None:
        files = len(list(corpus.iterdir()))
        fresh = ["--qdrant-path", str(store.with_name(store.name + "-fresh"))]
        ingest[f"t5-vectors ingest ({files} files, tiny model)"] = [
            *cli,
            "ingest",
            str(corpus),
            "--collection",
            "bench",
            "--model",
            str(model),
            "--device",
            "cpu",
            "--quiet",
            *fresh,
        ]
    return ingest | {
        "import t5_vectors": ["-c", "import t5_vectors"],
        "t5-vectors --help": [*cli, "--help"],
        "t5-vectors info": [*cli, "info", "--collection", "docs", *where],
        "t5-vectors search (tiny model)": [
            *cli,
            "search",
            "watering ferns",
            "--collection",
            "docs",
            "--device",
            "cpu",
            *where,
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another tree (e.g. a worktree of main)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per case and tree")
    parser.add_argument("--ingest", type=int, default=0, metavar="N", help="also ingest N notes")
    parser.add_argument("--only-ingest", action="store_true", help="run only the ingest case")
    args = parser.parse_args()
    trees = {"after": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    work = Path(tempfile.mkdtemp(prefix="t5v-cli-bench-"))
    model = work / "tiny"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from t5_vectors.testing import "
            "build_sentence_transformers_checkpoint as b; b(sys.argv[1], seed=3)",
            str(model),
        ],
        env=_env(ROOT),
        check=True,
    )
    stores = {}
    for name, tree in trees.items():
        stores[name] = work / f"store-{name}"
        _run(
            tree,
            [
                "-m",
                "t5_vectors",
                "ingest",
                str(ROOT / "examples" / "docs"),
                "--collection",
                "docs",
                "--model",
                str(model),
                "--device",
                "cpu",
                "--qdrant-path",
                str(stores[name]),
                "--quiet",
            ],
            work,
        )
    times: dict[tuple[str, str], list[float]] = {}
    corpus = None
    if args.ingest:
        corpus = work / "corpus"
        corpus.mkdir()
        for n in range(args.ingest):
            text = f"Note {n}: ferns like shade, humid air and soil that never dries out. "
            (corpus / f"note{n:05}.txt").write_text(text * 30)
    cases = {name: _cases(stores[name], model, corpus) for name in trees}
    if args.only_ingest:
        cases = {name: {k: v for k, v in c.items() if "ingest" in k} for name, c in cases.items()}
    for _ in range(args.repeat):
        for case in cases["after"]:
            for name, tree in trees.items():
                shutil.rmtree(stores[name].with_name(stores[name].name + "-fresh"), True)
                times.setdefault((case, name), []).append(_run(tree, cases[name][case], work))
    names = list(trees)
    header = " | ".join(f"{n} median | {n} min" for n in names)
    print(f"| case | {header} |")
    print("| :--- |" + " ---: |" * (2 * len(names)))
    for case in cases["after"]:
        cells = []
        for name in names:
            runs = times[(case, name)]
            cells += [f"{statistics.median(runs):.2f} s", f"{min(runs):.2f} s"]
        print(f"| {case} | " + " | ".join(cells) + " |")
    print(
        f"\n{args.repeat} runs per case and tree, interleaved; python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
