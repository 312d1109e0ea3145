#!/usr/bin/env bash
# s2s-jax and the two peers (OpenNMT-py 3.5.1, Sockeye 1.18) on the same Multi30k configuration,
# one after the other on this machine, so the figures can be compared. Nothing else should run.
#   bash experiments/2026-11-21_bench_multi30k/run.sh   (env: OUT, STEPS, SOCKEYE_STEPS, TOOLKITS)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PEERS="${PEERS:-$ROOT/../shared/peers}"
OUT="${OUT:-${TMPDIR:-/tmp}/s2s_bench_run}"
STEPS="${STEPS:-400}"                       # training updates for each toolkit (decoding uses that model)
export PEER_OUT="$OUT/peers" ONMT_STEPS="$STEPS" SOCKEYE_STEPS="${SOCKEYE_STEPS:-300}"
PY="${PYTHON:-python}"
mkdir -p "$OUT"
{
  echo "date: $(date -u +%FT%TZ)"
  # the widest vector/matrix extension, and the bfloat16 units if any
  flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  widest=generic; for isa in amx_tile avx512f avx2 avx; do
    case "$flags" in *" $isa "*) widest=$isa; break;; esac; done
  bf16=""; for isa in amx_bf16 avx512_bf16; do
    case "$flags" in *" $isa "*) bf16="$bf16 $isa";; esac; done
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $widest${bf16:+; bf16:$bf16}"
  echo "s2s-jax: $(git -C "$ROOT" rev-parse --short HEAD)"
} | tee "$OUT/machine.txt"

echo "== s2s-jax $(date -u +%T)"
# The bench compiles every bucket shape first, then times STEPS updates and decodes with that model.
(cd "$ROOT" && /usr/bin/time -v -o "$OUT/s2s_jax.time" "$PY" -m s2s_jax.bin.bench \
  --config=configs/lstm_attn.py:data=multi30k,peers=true --steps="$STEPS" \
  --json="$OUT/s2s_jax.json" 2>&1 | grep -v -E '^(WARNING|I0000|W0000|E0000)' | tee "$OUT/s2s_jax.log")

source "$PEERS/env.sh"
"$PEERS/setup_venvs.sh"
for tk in ${TOOLKITS:-onmt sockeye}; do
  echo "== $tk $(date -u +%T)"
  "$PEERS/bench_$tk.sh"
  for beam in 5 1; do
    "$ONMT_VENV/bin/sacrebleu" "$DATA/test_2016_flickr.de" -i "$PEER_OUT/$tk/hyp.beam$beam" \
      -tok none -lc -f text > "$PEER_OUT/$tk/bleu.beam$beam"
  done
done
"$ONMT_VENV/bin/python" "$PEERS/summarize.py" "$PEER_OUT" "$OUT/peers.md"
echo "== done $(date -u +%T); results in $OUT (s2s_jax.json, peers.md)"
