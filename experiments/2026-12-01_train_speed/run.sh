#!/usr/bin/env bash
# Issue 14's measurements on this machine, one after the other (nothing else should run):
# the profile by piece of an update, fp32 and bf16, at STEPS updates each of the benchmark
# configuration, the loss-curve/BLEU comparison of the two, then OpenNMT-py on the same
# configuration (experiments/2026-11-21_bench_multi30k/run.sh, TOOLKITS=onmt).
#   bash experiments/2026-12-01_train_speed/run.sh   (env: OUT, STEPS, PEERS=0 to skip the peer)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${OUT:-${TMPDIR:-/tmp}/s2s_train_speed}"
STEPS="${STEPS:-400}"
PY="${PYTHON:-python}"
CONFIG=configs/lstm_attn.py:data=multi30k,peers=true
mkdir -p "$OUT"
cd "$ROOT"
for dtype in float32 bfloat16; do
  echo "== s2s-jax $dtype $(date -u +%T)"
  "$PY" -m s2s_jax.bin.bench --config="$CONFIG" --config.model.dtype="$dtype" --steps="$STEPS" \
    --profile="$OUT/profile_$dtype" --json="$OUT/$dtype.json" 2>&1 \
    | grep -v -E '^(WARNING|I0000|W0000|E0000)' | tee "$OUT/$dtype.log"
done
"$PY" "$HERE/compare_precisions.py" "$OUT/float32.json" "$OUT/bfloat16.json" \
  --plot="$OUT/curves.png" | tee "$OUT/compare.txt"
if [ "${PEERS:-1}" != 0 ]; then
  OUT="$OUT/peer" STEPS="$STEPS" TOOLKITS=onmt bash "$ROOT/experiments/2026-11-21_bench_multi30k/run.sh"
fi
echo "== done $(date -u +%T); results in $OUT"
