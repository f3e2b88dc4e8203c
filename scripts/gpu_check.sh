#!/usr/bin/env bash
# Every GPU check of the encoder in one call on a CUDA machine (issue 21), results under $OUT.
#
# Needs python3 with torch (CUDA), transformers, sentence-transformers and sentencepiece; nothing
# else: t5_vectors is imported from this source tree, LangChain and Qdrant packages are not used.
# Run from anywhere:  bash scripts/gpu_check.sh        (OUT defaults to bench_out/gpu_check)
# Steps (each with its own time limit, about 8 minutes in all; a failed step does not stop the
# next): 1. the CUDA and GPU-path tests, 2. scripts/gpu_check.py (graphs vs eager, cosine to fp32,
# no host sync, attention kernel, variants, latency, tokenizer), 3. benchmarks/encode.py --device
# cuda. Files written (at most 8): env.txt tests.txt check.md check.json check_log.txt profile.txt
# bench.md bench_log.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/bench_out/gpu_check}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PY="${PYTHON:-python3}"
status=0

{
  date -u
  nvidia-smi || true
  "$PY" -c 'import torch, transformers, sentence_transformers as st, sys
print("python", sys.version.split()[0], "| torch", torch.__version__, "| CUDA", torch.version.cuda,
      "| transformers", transformers.__version__, "| sentence-transformers", st.__version__)
print("GPU:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")'
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

echo "== 1. tests (CUDA and GPU paths)"
timeout 150 "$PY" -m pytest tests/encoder/test_cuda.py tests/encoder/test_gpu_paths.py \
  -q -p no:cacheprovider -o addopts="" >"$OUT/tests.txt" 2>&1 || status=1
tail -n 15 "$OUT/tests.txt"

echo "== 2. scripts/gpu_check.py"
timeout 170 "$PY" scripts/gpu_check.py --out "$OUT" >"$OUT/check_log.txt" 2>&1 || status=1
cat "$OUT/check.md" 2>/dev/null || tail -n 40 "$OUT/check_log.txt"

echo "== 3. benchmarks/encode.py --device cuda"
timeout 260 "$PY" benchmarks/encode.py --device cuda --docs 24000 --repeats 2 \
  --queries-per-thread 16 --lone-queries 200 --out "$OUT/bench.md" \
  >/dev/null 2>"$OUT/bench_log.txt" || status=1
if [ -f "$OUT/bench.md" ]; then
  grep -E '^(###|\| |- backend|- `)' "$OUT/bench.md" | grep -v -- '---:' | cut -c1-220
else
  tail -n 30 "$OUT/bench_log.txt"
fi

echo "== gpu_check exit status: $status (files in $OUT)"
exit $status
