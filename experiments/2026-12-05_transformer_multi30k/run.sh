#!/bin/bash
# Trains (or resumes) the Transformer-tiny run on one core and copies its metrics here, so that each
# session's progress is committed. Usage: experiments/2026-12-05_transformer_multi30k/run.sh
set -u
cd "$(dirname "$0")/../.."
here=experiments/2026-12-05_transformer_multi30k
lscpu | grep -E "Model name" > $here/cpu.txt
grep -o -w -E "avx512f|avx512_bf16|amx_bf16|avx2" /proc/cpuinfo | sort -u | tr '\n' ' ' >> $here/cpu.txt
taskset -c 1 python launch.py --config=$here/config.py --workdir=runs/transformer_tiny >> $here/train.log 2>&1
cp runs/transformer_tiny/metrics.jsonl $here/metrics.jsonl
