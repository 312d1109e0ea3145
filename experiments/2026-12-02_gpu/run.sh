#!/usr/bin/env bash
# Issue 15's GPU checks, on a machine with an NVIDIA GPU (nothing else in the project needs one):
# the CUDA build of JAX, the gpu tests, s2s-bench in fp32 and bf16 (training tokens/s, model FLOPs
# utilisation, input wait against compute; beam 5 and greedy sentences/s), then the time to reach
# 38 test BLEU on Multi30k with the quality recipe.
#   bash experiments/2026-12-02_gpu/run.sh                 # PyPI reachable
#   WHEELS=DIR bash experiments/2026-12-02_gpu/run.sh      # no internet: wheels brought along
# env: OUT (/tmp/s2s_gpu), PYTHON, STEPS (400), QUALITY=0 to skip the Multi30k run,
#      DATA (../shared/data/multi30k), MAX_EPOCHS (25)
# Wheels for WHEELS, fetched on a machine with internet for the GPU machine's Python (X.Y):
#   pip download -d DIR --python-version X.Y --only-binary=:all: -r requirements.txt "jax[cuda12]==0.10.2"
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${OUT:-${TMPDIR:-/tmp}/s2s_gpu}"
PY="${PYTHON:-python3}"
STEPS="${STEPS:-400}"
DATA="${DATA:-$ROOT/../shared/data/multi30k}"
mkdir -p "$OUT"
cd "$ROOT"
export PYTHONUNBUFFERED=1

has_gpu() { "$PY" -c "import jax, sys; sys.exit(0 if jax.devices('gpu') else 1)" >/dev/null 2>&1; }
if ! has_gpu; then
  echo "== installing the CUDA build of JAX $(date -u +%T)"
  if [ -n "${WHEELS:-}" ]; then
    "$PY" -m pip install -q --no-index --find-links "$WHEELS" -r requirements.txt "jax[cuda12]==0.10.2"
  else
    "$PY" -m pip install -q -r requirements.txt "jax[cuda12]==0.10.2"
  fi
fi
{ date -u +%FT%TZ; nvidia-smi -L 2>/dev/null || true; echo "s2s-jax: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  "$PY" -c "import jax; print('jax', jax.__version__, jax.devices())"; } | tee "$OUT/machine.txt"
has_gpu || { echo "JAX sees no GPU: see $OUT/machine.txt" >&2; exit 1; }

echo "== gpu tests $(date -u +%T)"
"$PY" -m pytest -q -n 0 -m gpu tests 2>&1 | tee "$OUT/tests.log"

CONFIG=configs/lstm_attn.py:data=multi30k,peers=true
if [ -e "$DATA/train.en" ]; then
  for dtype in float32 bfloat16; do
    echo "== s2s-bench $dtype $(date -u +%T)"
    "$PY" -m s2s_jax.bin.bench --config="$CONFIG" --config.data.text.dir="$DATA" \
      --config.model.dtype="$dtype" --steps="$STEPS" --json="$OUT/bench_$dtype.json" 2>&1 \
      | grep -v -E '^(WARNING|I0000|W0000|E0000)' | tee "$OUT/bench_$dtype.log"
  done
  if [ "${QUALITY:-1}" != 0 ]; then
    echo "== Multi30k quality run, bf16 $(date -u +%T)"
    start=$(date +%s)
    "$PY" launch.py --config=configs/lstm_attn.py:data=multi30k --config.data.text.dir="$DATA" \
      --config.model.dtype=bfloat16 --config.train.max_num_epochs="${MAX_EPOCHS:-25}" \
      --workdir="$OUT/quality" 2>&1 | tee "$OUT/quality.log"
    echo "wall seconds: $(( $(date +%s) - start ))" | tee -a "$OUT/quality.log"
    "$PY" -m s2s_jax.bin.translate --workdir="$OUT/quality" --input="$DATA/test_2016_flickr.en" \
      --reference="$DATA/test_2016_flickr.de" --output="$OUT/test.hyp" 2>&1 | tee "$OUT/test_bleu.log"
  fi
else
  echo "Multi30k not found at $DATA: bench and quality run skipped" | tee -a "$OUT/machine.txt"
fi
echo "== done $(date -u +%T); results in $OUT"
