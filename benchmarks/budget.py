"""Token budget per forward pass: how the batch size chosen for a device changes throughput.

Encodes the same corpus (the encode benchmark's checkpoint and paragraphs) with several
``token_budget`` values, in round-robin passes, and prints the fastest pass of each. The CPU
defaults of :class:`t5_vectors.T5Encoder` (1,024 tokens, 64 rows) come from this table.

Run: ``python benchmarks/budget.py [--device cpu] [--budgets 1024,2048,4096,8192]``; on a GPU
``--device cuda`` defaults to budgets 16,384-131,072 over 24,000 paragraphs (the corpus repeated).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    build_checkpoint,
    environment_lines,
    markdown_table,
    resolve_device,
    sample_corpus,
    synchronize,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--budgets", default=None, help="default: 1024-8192 CPU, 16384-131072 GPU")
    parser.add_argument("--docs", type=int, default=None, help="default: 128 CPU, 24000 GPU")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("bench_out"))
    args = parser.parse_args()

    from t5_vectors import T5Encoder

    device = resolve_device(args.device)
    cuda = device.startswith("cuda")
    path, _ = build_checkpoint(args.workdir)
    texts = sample_corpus(args.docs or (24_000 if cuda else 128), seed=0, repeat=True)
    default = "16384,32768,65536,131072" if cuda else "1024,2048,4096,8192"
    budgets = [int(b) for b in (args.budgets or default).split(",")]
    encoders = {}
    for budget in budgets:
        encoder = T5Encoder.from_pretrained(
            path, device=device, token_budget=budget, max_batch_size=max(budget // 16, 1)
        )
        encoder.encode(texts[:4])  # warm-up
        encoders[budget] = encoder
    tokens = sum(len(ids) for ids in encoders[budgets[0]].tokenize(texts))
    times: dict[int, list[float]] = {b: [] for b in budgets}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(args.repeats):
            for budget, encoder in encoders.items():
                start = time.perf_counter()
                encoder.encode(texts)
                synchronize(device)
                times[budget].append(time.perf_counter() - start)
    best = {b: min(t) for b, t in times.items()}
    fastest = min(best.values())
    print("## Token budget per forward pass\n")
    for line in environment_lines(device):
        print(line)
    print(
        f"- corpus: {len(texts)} paragraphs, {tokens:,} tokens; dtype {encoders[budgets[0]].dtype}"
    )
    print(f"- max_batch_size = token_budget / 16; fastest of {args.repeats} round-robin passes\n")
    rows = [
        [
            f"{b:,}",
            f"{max(b // 16, 1)}",
            f"{best[b]:.2f}",
            f"{tokens / best[b]:,.0f}",
            f"{best[b] / fastest:.2f}x",
            " / ".join(f"{t:.2f}" for t in times[b]),
        ]
        for b in budgets
    ]
    headers = ["token_budget", "max_batch_size", "seconds", "tokens/s", "vs fastest", "passes (s)"]
    print(markdown_table(headers, rows))
    for encoder in encoders.values():
        encoder.close()


if __name__ == "__main__":
    main()
