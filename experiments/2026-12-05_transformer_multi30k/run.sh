#!/bin/bash
# Trains (or resumes) a Transformer-tiny run on one core and copies its metrics here, so that each
# session's progress is committed.
#   experiments/2026-12-05_transformer_multi30k/run.sh                      # the main run
#   experiments/2026-12-05_transformer_multi30k/run.sh postnorm \
#       --config.model.transformer_preprocess= --config.model.transformer_postprocess=drn
# A named variant trains in runs/transformer_tiny_NAME, logs to train_NAME.log and copies
# metrics_NAME.jsonl. CORE (default 1) picks the core.
set -u
cd "$(dirname "$0")/../.."
here=experiments/2026-12-05_transformer_multi30k
name="${1:-}"; shift || true
suffix="${name:+_$name}"
lscpu | grep -E "Model name" > $here/cpu.txt
grep -o -w -E "avx512f|avx512_bf16|amx_bf16|avx2" /proc/cpuinfo | sort -u | tr '\n' ' ' >> $here/cpu.txt
taskset -c "${CORE:-1}" python launch.py --config=$here/config.py --workdir=runs/transformer_tiny$suffix "$@" \
  >> $here/train$suffix.log 2>&1
cp runs/transformer_tiny$suffix/metrics.jsonl $here/metrics$suffix.jsonl
