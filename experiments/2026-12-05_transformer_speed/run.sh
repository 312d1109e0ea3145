#!/usr/bin/env bash
# s2s-jax's Transformer (fp32, then bf16) and OpenNMT-py 3.5.1's, the same model and batches,
# one after the other on this machine (nothing else should run): STEPS timed updates each, then the
# test set decoded with beam 5 and greedy by the model so trained.
#   bash experiments/2026-12-05_transformer_speed/run.sh   (env: OUT, STEPS, WARMUP)
# WARMUP (default 2000, the quality recipe's) shorter than STEPS gives both toolkits a partly trained
# model to decode, so that decoding speed is not measured on degenerate outputs.
set -euo pipefail
EXP="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$EXP/../.." && pwd)"
OUT="${OUT:-${TMPDIR:-/tmp}/s2s_transformer_speed}"
STEPS="${STEPS:-400}"
WARMUP="${WARMUP:-2000}"
PY="${PYTHON:-python}"
export PEER_OUT="$OUT/peers" ONMT_STEPS="$STEPS" ONMT_WARMUP="$WARMUP"
mkdir -p "$OUT"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores;" \
       "$(grep -o -w -E 'avx2|avx512f|avx512_bf16|amx_tile|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "s2s-jax: $(git -C "$ROOT" rev-parse --short HEAD); $STEPS updates, $WARMUP warm-up"
} | tee "$OUT/machine.txt"
cd "$ROOT"
for dtype in float32 bfloat16; do
  echo "== s2s-jax $dtype $(date -u +%T)"
  /usr/bin/time -v -o "$OUT/$dtype.time" "$PY" -m s2s_jax.bin.bench \
    --config=configs/transformer.py:data=multi30k,peers=true --config.model.dtype="$dtype" --config.train.learning_rate_warmup="$WARMUP" \
    --steps="$STEPS" --json="$OUT/$dtype.json" 2>&1 \
    | grep -v -E '^(WARNING|I0000|W0000|E0000|I1|W1)' | tee "$OUT/$dtype.txt"
done
source "$ROOT/../shared/peers/env.sh"
echo "== OpenNMT-py $(date -u +%T)"
"$EXP/bench_onmt_transformer.sh"
for beam in 5 1; do
  "$ONMT_VENV/bin/sacrebleu" "$DATA/test_2016_flickr.de" -i "$PEER_OUT/onmt_transformer/hyp.beam$beam" \
    -tok none -lc -f text > "$PEER_OUT/onmt_transformer/bleu.beam$beam"
done
"$PY" "$EXP/summarize.py" "$OUT" | tee "$OUT/table.md"
rm -f "$PEER_OUT"/onmt_transformer/model_step_*.pt "$PEER_OUT"/onmt_transformer/vocab.shared  # 60 MB
echo "== done $(date -u +%T); results in $OUT"
