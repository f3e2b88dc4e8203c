"""What a dtype costs on your own model and texts: speed, cosine to float32, nearest neighbours.

bfloat16 and int8 move vectors by an amount that depends on the checkpoint (trained weights
have activation outliers that random test weights do not), so no test here can promise a figure
for your model. :func:`compare_dtypes` measures it: it loads the model in float32 and in each
other dtype, encodes the same texts with each, and reports per dtype

* speed (texts/s and tokens/s, the faster of ``repeats`` timed passes after a warm-up),
* the minimum and mean cosine of each text's vector to its float32 vector,
* the agreement of the top-*k* neighbours: for each text, the share of its *k* nearest other
  texts under float32 that are also among its *k* nearest under the dtype (recall@k against
  float32), averaged over the texts,

and which dtype is the fastest to keep that agreement within *tolerance* (0.01) of float32's.
``t5-vectors check-dtype --model M FILE...`` prints the same report.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from t5_vectors._checks import check_positive_int, ensured
from t5_vectors.encoder.precision import cpu_has_native_bf16, resolve_device, resolve_dtype
from t5_vectors.encoder.texts import check_texts
from t5_vectors.errors import InvalidInputError

Loader = Callable[[str], Any]
"""``dtype name -> T5Encoder`` (loaded in that dtype)."""

_WARMUP_TEXTS = 8


@dataclass(frozen=True)
class DtypeResult:
    """One dtype's figures (see the module docstring).

    Attributes:
        dtype: the dtype as asked for (``"float32"``, ``"bfloat16"``, ``"int8"``, ...).
        seconds: wall time of the fastest timed pass over all texts.
        texts_per_second: texts / seconds.
        tokens_per_second: the texts' tokens (as the encoder feeds them) / seconds.
        cosine_min: the smallest cosine of a text's vector to its float32 vector.
        cosine_mean: their mean.
        neighbour_agreement: mean recall of each text's float32 top-k neighbours in this
            dtype's top-k (1.0 for float32 itself).
        note: what else was seen (int8 projections kept in float32; emulated bfloat16).
    """

    dtype: str
    seconds: float
    texts_per_second: float
    tokens_per_second: float
    cosine_min: float
    cosine_mean: float
    neighbour_agreement: float
    note: str = ""


@dataclass(frozen=True)
class DtypeReport:
    """The figures of every dtype compared, float32 (the reference) first.

    Attributes:
        model: the checkpoint (hub id or folder).
        device: where the encoders ran.
        texts: how many texts were encoded.
        tokens: their tokens, as the encoder feeds them.
        k: neighbours compared per text.
        tolerance: how far below float32's agreement (1.0) a dtype may fall and still
            "keep recall".
        results: one :class:`DtypeResult` per dtype.
    """

    model: str
    device: str
    texts: int
    tokens: int
    k: int
    tolerance: float
    results: tuple[DtypeResult, ...] = field(default_factory=tuple)

    @property
    def reference(self) -> DtypeResult:
        return self.results[0]

    def keeps_recall(self, result: DtypeResult) -> bool:
        """Whether *result*'s top-k agreement is within :attr:`tolerance` of float32's."""
        return result.neighbour_agreement >= 1.0 - self.tolerance - 1e-12

    @property
    def recommended(self) -> DtypeResult:
        """The fastest dtype that keeps recall (float32 itself when none other does)."""
        keeping = [result for result in self.results if self.keeps_recall(result)]
        return max(keeping, key=lambda result: result.tokens_per_second)

    def speedup(self, result: DtypeResult) -> float:
        """*result*'s tokens/s over float32's."""
        return result.tokens_per_second / self.reference.tokens_per_second

    def verdict(self) -> str:
        """One line: which dtype keeps top-k recall within the tolerance, and the fastest."""
        best = self.recommended
        keeping = [r.dtype for r in self.results[1:] if self.keeps_recall(r)]
        losing = [
            f"{r.dtype} ({r.neighbour_agreement:.3f})"
            for r in self.results[1:]
            if not self.keeps_recall(r)
        ]
        head = (
            f"{', '.join(keeping)} keep{'s' if len(keeping) == 1 else ''} top-{self.k} recall "
            f"within {self.tolerance:g} of float32"
            if keeping
            else f"no dtype but float32 keeps top-{self.k} recall within {self.tolerance:g}"
        )
        tail = f"; {', '.join(losing)} do{'es' if len(losing) == 1 else ''} not" if losing else ""
        pick = (
            f"; use dtype='{best.dtype}' ({self.speedup(best):.2f}x float32's speed)"
            if best is not self.reference
            else "; use dtype='float32'"
        )
        return f"{head}{tail}{pick}."

    def to_text(self) -> str:
        """The report as a fixed-width table and the verdict line."""
        header = (
            f"{self.texts} texts ({self.tokens:,} tokens), model {self.model} on {self.device}, "
            f"top-{self.k} neighbours"
        )
        columns: tuple[str, ...] = ("dtype", "texts/s", "tokens/s", "speed-up", "cos min")
        columns += ("cos mean", f"top-{self.k} agreement")
        rows: list[tuple[str, ...]] = [columns]
        for r in self.results:
            rows.append(
                (
                    r.dtype,
                    f"{r.texts_per_second:,.1f}",
                    f"{r.tokens_per_second:,.0f}",
                    f"{self.speedup(r):.2f}x",
                    f"{r.cosine_min:.4f}",
                    f"{r.cosine_mean:.4f}",
                    f"{r.neighbour_agreement:.3f}",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
        lines = [header, ""]
        for row in rows:
            cells = [row[0].ljust(widths[0])]
            cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
            lines.append("  ".join(cells))
        notes = [f"{r.dtype}: {r.note}" for r in self.results if r.note]
        if notes:
            lines += ["", *notes]
        lines += ["", self.verdict()]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {
            "results": [
                vars(result) | {"keeps_recall": self.keeps_recall(result)}
                for result in self.results
            ],
            "recommended": self.recommended.dtype,
            "verdict": self.verdict(),
        }


def default_dtypes(device: str | torch.device = "cpu") -> tuple[str, ...]:
    """What is worth comparing on *device*: on CPU float32, int8, and bfloat16 where the CPU
    multiplies it natively (elsewhere it is emulated at a few percent of float32's speed);
    on CUDA float32, bfloat16 and float16."""
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        return ("float32", "bfloat16", "float16")
    if resolved.type == "cpu":
        return ("float32", "bfloat16", "int8") if cpu_has_native_bf16() else ("float32", "int8")
    return ("float32", "bfloat16")


def compare_dtypes(
    model: str | os.PathLike[str],
    texts: Sequence[str],
    *,
    dtypes: Sequence[str] | None = None,
    device: str | torch.device = "cpu",
    k: int = 10,
    tolerance: float = 0.01,
    repeats: int = 1,
    local_files_only: bool | None = None,
) -> DtypeReport:
    """Encode *texts* with *model* in float32 and in each of *dtypes*, and compare.

    Setup:
        .. code-block:: python

            from t5_vectors import compare_dtypes

            texts = open("my_corpus.txt").read().split("\\n\\n")   # your own texts
            report = compare_dtypes("sentence-transformers/sentence-t5-base", texts)
            print(report.to_text())        # table + one verdict line
            report.recommended.dtype       # the fastest dtype that keeps top-10 recall

    Args:
        model: a hub id or checkpoint folder (as :meth:`T5Encoder.from_pretrained` takes).
        texts: your texts, at least 2 (the neighbour figure needs more than *k*); they are
            encoded as documents.
        dtypes: what to compare with float32 (always measured first, as the reference);
            ``None`` is :func:`default_dtypes` for *device*.
        device: where to run (``"auto"``, ``"cpu"``, ``"cuda"``, ...).
        k: neighbours compared per text (fewer when there are not ``k + 1`` texts).
        tolerance: how far below 1.0 a dtype's top-k agreement may fall to keep recall.
        repeats: timed passes per dtype; the fastest counts.
        local_files_only: never touch the network; ``None`` follows ``HF_HUB_OFFLINE``.

    Raises:
        InvalidInputError: an argument is out of range, or a dtype is unknown or does not run
            on *device* (``int8`` is CPU only).
    """
    from t5_vectors.encoder.core import T5Encoder

    name = os.fspath(model)

    def load(dtype: str) -> Any:
        return T5Encoder.from_pretrained(
            name, device=device, dtype=dtype, local_files_only=local_files_only
        )

    return run_comparison(
        load,
        texts,
        model=name,
        device=str(resolve_device(device)),
        dtypes=default_dtypes(device) if dtypes is None else dtypes,
        k=k,
        tolerance=tolerance,
        repeats=repeats,
    )


def check_dtypes(dtypes: Sequence[str], device: str) -> tuple[str, ...]:
    """*dtypes* with float32 first (once); each must resolve on *device*."""
    if isinstance(dtypes, str) or not isinstance(dtypes, Sequence) or not dtypes:
        raise InvalidInputError(
            "dtypes: expected a non-empty list of dtype names such as ['int8'] or "
            f"['bfloat16', 'int8'], found {dtypes!r}."
        )
    torch_device = resolve_device(device)
    out = ["float32"]
    seen = {torch.float32}
    for name in dtypes:
        if not isinstance(name, str) or name.lower() == "auto":
            raise InvalidInputError(
                "dtypes: expected names of dtypes (float32, bfloat16, float16, int8), found "
                f"{name!r}. 'auto' is a choice, not a dtype: name the dtype it would pick."
            )
        resolved = resolve_dtype(name, torch_device)
        if resolved not in seen:
            seen.add(resolved)
            out.append(name.lower())
    return tuple(out)


def run_comparison(
    load: Loader,
    texts: Sequence[str],
    *,
    model: str,
    device: str,
    dtypes: Sequence[str],
    k: int = 10,
    tolerance: float = 0.01,
    repeats: int = 1,
    progress: Callable[[str], None] | None = None,
) -> DtypeReport:
    """:func:`compare_dtypes` over a loader (the CLI's, which words its errors in flags)."""
    items = check_texts(texts)
    if len(items) < 2:
        raise InvalidInputError(
            f"texts: expected at least 2 texts to compare neighbours, found {len(items)}. Give "
            "more texts (a few hundred of your own show more)."
        )
    for label, value in (("k", k), ("repeats", repeats)):
        check_positive_int(label, value)
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, int | float)
        or not 0 <= tolerance < 1
    ):
        raise InvalidInputError(f"tolerance: expected a number in [0, 1), found {tolerance!r}.")
    names = check_dtypes(dtypes, device)
    k = min(k, len(items) - 1)
    reference: np.ndarray | None = None
    reference_top: np.ndarray | None = None
    tokens = 0
    results: list[DtypeResult] = []
    for name in names:
        if progress is not None:
            progress(f"{name}: loading and encoding {len(items)} texts")
        encoder = load(name)
        try:
            if reference is None:
                tokens = sum(len(row) for row in encoder.tokenize(items))
            encoder.encode(items[:_WARMUP_TEXTS])
            seconds = math.inf
            vectors: np.ndarray | None = None
            for _ in range(repeats):
                start = time.perf_counter()
                vectors = encoder.encode(items)
                seconds = min(seconds, time.perf_counter() - start)
            vectors = ensured(vectors, "the vectors of a timed pass")
            note = _note(name, encoder)
        finally:
            encoder.close()
        unit = _unit(vectors)
        top = top_neighbours(unit, k)
        if reference is None or reference_top is None:
            reference, reference_top = unit, top
        cosines = np.sum(unit * reference, axis=1)
        results.append(
            DtypeResult(
                dtype=name,
                seconds=seconds,
                texts_per_second=len(items) / seconds,
                tokens_per_second=tokens / seconds,
                cosine_min=float(cosines.min()),
                cosine_mean=float(cosines.mean()),
                neighbour_agreement=neighbour_agreement(reference_top, top),
                note=note,
            )
        )
    return DtypeReport(model, device, len(items), tokens, k, float(tolerance), tuple(results))


def _note(name: str, encoder: Any) -> str:
    choices = getattr(encoder, "int8_choices", ())
    if choices:
        kept = [choice.label for choice in choices if not choice.int8]
        smoothed = sum(choice.smoothed for choice in choices if choice.int8)
        text = (
            f"{len(choices) - len(kept)} of {len(choices)} projections in int8 "
            f"({smoothed} with smoothed inputs)"
        )
        return text + (f"; kept in float32: {', '.join(kept)}" if kept else "")
    if name in ("bfloat16", "bf16") and encoder.device.type == "cpu" and not cpu_has_native_bf16():
        return "this CPU has no native bfloat16 (AVX512-BF16 or AMX): it is emulated, slowly"
    return ""


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def top_neighbours(unit: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """Indices ``(n, k)`` of each row's *k* most similar other rows (cosine), in chunks."""
    n = len(unit)
    out = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, chunk):
        scores = unit[start : start + chunk] @ unit.T
        rows = np.arange(len(scores))
        scores[rows, start + rows] = -np.inf  # a text is not its own neighbour
        out[start : start + chunk] = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return out


def neighbour_agreement(reference: np.ndarray, other: np.ndarray) -> float:
    """Mean share of each row of *reference* (neighbour indices) found in the same row of
    *other* (recall@k of *other* against *reference*)."""
    k = int(reference.shape[1])
    hits = [len(set(a.tolist()) & set(b.tolist())) for a, b in zip(reference, other, strict=True)]
    return float(np.mean(hits)) / k
