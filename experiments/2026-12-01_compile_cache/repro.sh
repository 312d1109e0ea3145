#!/usr/bin/env bash
# The reproduction of issue 12's abort: Sockeye's system tests on 2 pytest workers (4 fake CPU
# devices each) sharing one fresh compilation cache, RUNS times. Prints the CPU, then per run the
# pytest summary and how many workers crashed. Run from the repository root:
#   bash experiments/2026-12-01_compile_cache/repro.sh [RUNS]
# On the issue's Intel Xeon (AMX) at commit b208045: 3 of 6 workers aborted. A benchmark-style
# script: it prints what happened and never fails.
set -u
RUNS=${1:-3}
flags=$(grep -m1 '^flags' /proc/cpuinfo)
widest=$(for f in amx_tile avx512f avx2; do [[ " $flags " == *" $f "* ]] && echo "$f" && break; done)
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'); widest: ${widest:-none}; commit $(git rev-parse --short HEAD)"
for run in $(seq "$RUNS"); do
  cache=$(mktemp -d)
  start=$(date +%s)
  log=$(S2S_JAX_CACHE="$cache" python -m pytest -q -n 2 tests/test_system.py 2>&1)
  echo "run $run: $(echo "$log" | tail -1) in $(( $(date +%s) - start )) s;" \
       "crashed workers: $(echo "$log" | grep -c -E 'Fatal Python error|node down|crashed')"
  ls "$cache"
  rm -rf "$cache"
done
