"""T5Classifier's defaults against scikit-learn's ``LogisticRegression()`` on the same vectors.

Tasks are built here from real English text that ships with Python:

* **stdlib** -- the first paragraph of the docstrings of the public functions, classes and
  methods of standard-library modules, labelled by what the modules are for (6 classes:
  numbers, files, text, network, time, testing; texts found under two labels are dropped).
* **topics** -- the paragraphs of CPython's ``pydoc_data.topics`` (the language reference),
  labelled by the group their topic belongs to (4 classes: statements, expressions, data
  model and types, and names and execution).

Each task is split at random per seed into a training set of ``n`` texts (small and large)
and a test set of the rest (at most ``--test`` texts). The encoder is a random-weight,
T5-base-shaped checkpoint (``benchmarks/_common.build_checkpoint``); every text is encoded once
and the vectors are reused, so both classifiers see exactly the same frozen sentence vectors:
``LogisticRegression()`` (scikit-learn's defaults) fits the vectors ``T5Encoder.encode`` gives
(and, as a second classic, ``StandardScaler()`` then ``LogisticRegression()``),
``T5Classifier(encoder).fit(texts, labels, seed=seed)`` (t5-vectors' defaults) gets them through
the encoder it is given. Test accuracy per seed, their mean, and the mean difference are printed
as markdown; ``--fit`` passes extra ``fit`` keyword arguments (JSON) to try other settings.

Run it with ``python benchmarks/classifier.py`` (about 5 minutes on 2 CPU cores, most of it
encoding ~3,000 texts once).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from _common import build_checkpoint, environment_lines

STDLIB_CLASSES: dict[str, tuple[str, ...]] = {
    "numbers": ("math", "cmath", "statistics", "decimal", "fractions", "random"),
    "files": ("os", "shutil", "pathlib", "tempfile", "glob", "fnmatch", "filecmp", "zipfile"),
    "text": ("re", "string", "textwrap", "difflib", "unicodedata", "codecs"),
    "network": ("socket", "http.client", "urllib.request", "urllib.parse", "smtplib", "ssl"),
    "time": ("datetime", "time", "calendar", "zoneinfo", "sched"),
    "testing": ("unittest", "doctest", "unittest.mock", "pdb", "trace", "timeit"),
}

TOPIC_CLASSES: dict[str, tuple[str, ...]] = {
    "statements": (
        "assert",
        "assignment",
        "augassign",
        "break",
        "continue",
        "del",
        "exec",
        "for",
        "global",
        "if",
        "import",
        "nonlocal",
        "pass",
        "raise",
        "return",
        "try",
        "while",
        "with",
        "compound",
        "exprstmts",
        "function",
        "class",
        "async",
        "match",
    ),
    "expressions": (
        "atom-identifiers",
        "atom-literals",
        "attribute-references",
        "binary",
        "bitwise",
        "booleans",
        "calls",
        "comparisons",
        "conditional",
        "lambda",
        "lists",
        "dict",
        "power",
        "shifting",
        "slicings",
        "subscriptions",
        "unary",
        "operator-summary",
        "in",
        "is",
        "integers",
        "numbers",
        "strings",
        "formatstrings",
        "string-methods",
        "sequence-types",
    ),
    "data model": (
        "customization",
        "attribute-access",
        "numeric-types",
        "typesseq",
        "typesmapping",
        "typesfunctions",
        "typesmethods",
        "typesmodules",
        "specialattrs",
        "specialnames",
        "objects",
        "types",
        "context-managers",
        "truth",
        "typesseq-mutable",
        "bltin-type-objects",
        "bltin-null-object",
        "bltin-ellipsis-object",
        "bltin-code-objects",
        "id-classes",
    ),
    "names and execution": (
        "naming",
        "execmodel",
        "dynamic-features",
        "exceptions",
        "identifiers",
        "keywords",
        "debugger",
        "pdb",
        "else",
        "bltin-null-object",
    ),
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _first_paragraph(doc: str) -> str:
    return " ".join(doc.strip().split("\n\n")[0].split())[:400]


def stdlib_task() -> tuple[list[str], list[str]]:
    """Docstring first paragraphs labelled by their module's purpose (see the docstring)."""
    found: dict[str, set[str]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, modules in STDLIB_CLASSES.items():
            for module_name in modules:
                module = importlib.import_module(module_name)
                for name in dir(module):
                    if name.startswith("_"):
                        continue
                    obj = getattr(module, name)
                    objects = [obj]
                    if inspect.isclass(obj):
                        objects += [v for k, v in vars(obj).items() if not k.startswith("_")]
                    for item in objects:
                        if not (inspect.isroutine(item) or inspect.isclass(item)):
                            continue
                        doc = inspect.getdoc(item)
                        if doc and len((text := _first_paragraph(doc)).split()) >= 4:
                            found.setdefault(text, set()).add(label)
    pairs = sorted((text, labels.pop()) for text, labels in found.items() if len(labels) == 1)
    return [text for text, _ in pairs], [label for _, label in pairs]


def topics_task() -> tuple[list[str], list[str]]:
    """Paragraphs of the language reference labelled by their topic's group."""
    from pydoc_data.topics import topics

    group = {topic: label for label, names in TOPIC_CLASSES.items() for topic in names}
    texts: list[str] = []
    labels: list[str] = []
    seen: set[str] = set()
    for topic in sorted(topics):
        label = group.get(topic)
        if label is None:
            continue
        for paragraph in topics[topic].split("\n\n"):
            text = " ".join(paragraph.split())
            letters = sum(c.isalpha() for c in text)
            if len(text.split()) < 6 or letters < 0.6 * len(text) or text in seen:
                continue
            seen.add(text)
            texts.append(text[:600])
            labels.append(label)
    return texts, labels


def split(
    labels: Sequence[str], n_train: int, n_test: int, seed: int
) -> tuple[list[int], list[int]]:
    """A random training set of *n_train* indices and a test set from the rest."""
    order = np.random.default_rng(seed).permutation(len(labels)).tolist()
    return order[:n_train], order[n_train : n_train + n_test]


def _label(options: dict[str, Any]) -> str:
    return "defaults" if not options else ", ".join(f"{k}={v!r}" for k, v in options.items())


def _fit_summary(history: Any) -> str:
    """``C=0.01`` (lbfgs) or ``best 12 of 17 epochs`` (adamw)."""
    if history is None:
        return "-"
    if getattr(history, "solver", "adamw") == "lbfgs":
        return f"C={history.C:g}"
    return f"best {history.best_epoch} of {history.n_epochs} epochs"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("bench_out"))
    parser.add_argument("--sizes", default="200,750", help="training sizes, comma list")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--test", type=int, default=500, help="most test texts per split")
    parser.add_argument("--tasks", default="stdlib,topics")
    parser.add_argument(
        "--fit",
        default="{}",
        help='extra T5Classifier.fit kwargs, JSON; a list of them runs each (e.g. \'[{"solver": '
        '"adamw"}, {}]\' compares the epoch trainer with the defaults)',
    )
    parser.add_argument("--tiny", action="store_true", help="a tiny model: a smoke run")
    parser.add_argument("--threads", type=int, default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from t5_vectors import T5Classifier, T5Encoder

    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    parsed = json.loads(args.fit)
    fit_options: list[dict[str, Any]] = parsed if isinstance(parsed, list) else [parsed]
    builders = {"stdlib": stdlib_task, "topics": topics_task}
    tasks = {name: builders[name]() for name in args.tasks.split(",")}
    path, _ = build_checkpoint(args.workdir, tiny=args.tiny)

    class CachedEncoder(T5Encoder):
        """Hands out each text's vector as first encoded: both classifiers see the same ones."""

        cache: ClassVar[dict[str, np.ndarray]] = {}

        def encode(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:  # type: ignore[override]
            missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
            if missing:
                for text, vector in zip(missing, super().encode(missing, **kwargs), strict=True):
                    self.cache[text] = vector
            return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, self.dim))

    encoder = CachedEncoder.from_pretrained(str(path), device="cpu", dtype="float32")
    for line in environment_lines("cpu"):
        print(line)
    print(f"- encoder: `{path}` (random weights, float32), dim {encoder.dim}")
    print(f"- T5Classifier.fit options compared: {', '.join(_label(o) for o in fit_options)}")
    print()
    rows = []
    for task_name, (texts, labels) in tasks.items():
        counts = {label: labels.count(label) for label in sorted(set(labels))}
        print(f"- task {task_name}: {len(texts)} texts, classes {counts}")
        start = time.perf_counter()
        encoder.encode(texts)
        log(f"{task_name}: {len(texts)} texts encoded in {time.perf_counter() - start:.0f}s")
        for n in sizes:
            splits = [split(labels, n, args.test, seed) for seed in seeds]
            lr_scores, scaled_scores = [], []
            for train, test in splits:
                x_train = encoder.encode([texts[i] for i in train])
                x_test = encoder.encode([texts[i] for i in test])
                y_train, y_test = [labels[i] for i in train], [labels[i] for i in test]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # lbfgs may stop at max_iter: its default
                    lr = LogisticRegression().fit(x_train, y_train)
                    scaled = make_pipeline(StandardScaler(), LogisticRegression()).fit(
                        x_train, y_train
                    )
                lr_scores.append(float(lr.score(x_test, y_test)))
                scaled_scores.append(float(scaled.score(x_test, y_test)))
            for options in fit_options:
                t5_scores, fits = [], []
                for seed, (train, test) in zip(seeds, splits, strict=True):
                    clf = T5Classifier(encoder).fit(
                        [texts[i] for i in train],
                        [labels[i] for i in train],
                        seed=seed,
                        progress=False,
                        **options,
                    )
                    t5_scores.append(clf.score([texts[i] for i in test], [labels[i] for i in test]))
                    fits.append(_fit_summary(clf.history_))
                    log(
                        f"{task_name} n={n} seed={seed} {_label(options)}: LR "
                        f"{lr_scores[len(t5_scores) - 1]:.3f} T5 {t5_scores[-1]:.3f}"
                    )
                diff = np.subtract(t5_scores, lr_scores)
                rows.append(
                    f"| {task_name} | {n} | {len(splits[0][1])} | {_label(options)} | "
                    + " / ".join(f"{v:.3f}" for v in lr_scores)
                    + f" ({np.mean(lr_scores):.3f}) | "
                    + " / ".join(f"{v:.3f}" for v in scaled_scores)
                    + f" ({np.mean(scaled_scores):.3f}) | "
                    + " / ".join(f"{v:.3f}" for v in t5_scores)
                    + f" ({np.mean(t5_scores):.3f}) | {100 * diff.mean():+.1f} | "
                    + f"{100 * diff.min():+.1f} | {'; '.join(fits)} |"
                )
    print()
    print(
        "| task | train n | test n | T5Classifier.fit | LogisticRegression() accuracy per seed "
        "(mean) | StandardScaler + LogisticRegression() per seed (mean) | T5Classifier accuracy "
        "per seed (mean) | mean difference to LogisticRegression(), points | worst seed, points "
        "| fit per seed |"
    )
    print("| :--- | ---: | ---: | :--- | :--- | :--- | :--- | ---: | ---: | :--- |")
    for row in rows:
        print(row)
    encoder.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
