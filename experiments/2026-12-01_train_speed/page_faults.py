r"""ms per update and minor page faults per update of the benchmark step (batch shape (12, 12)),
for comparing malloc settings in separate processes (the faults are exact, the times noisy):

  PYTHONPATH=. python experiments/2026-12-01_train_speed/page_faults.py [updates]
  S2S_JAX_MALLOC=system PYTHONPATH=. python ...   # glibc's default malloc
  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 PYTHONPATH=. python ...
  BS=160 PYTHONPATH=. python ...                     # another batch size
"""

import os
import resource
import sys
import time

from s2s_jax import startup

startup.before_imports()

import jax  # noqa: E402
import numpy as np  # noqa: E402

from configs import lstm_attn  # noqa: E402
from s2s_jax import config as config_lib  # noqa: E402
import bench_step  # noqa: E402  (this folder)
from s2s_jax import manifest  # noqa: E402


def main(updates: int):
  startup.program(compile_cache=False)
  cd = lstm_attn.get_config("data=multi30k,peers=true")
  cd.data.batch_size = int(os.environ.get("BS", 64))
  cfg = config_lib.from_configdict(cd)
  start = time.perf_counter()
  step, state, batch, rng = bench_step.compiled_step(cfg, "/tmp/s2s_page_faults")
  compile_s = time.perf_counter() - start
  for _ in range(2):  # warm-up
    state, out = step(state, batch, rng)
    jax.block_until_ready(out)
  times, faults = [], resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  for _ in range(updates):
    start = time.perf_counter()
    state, out = step(state, batch, rng)
    jax.block_until_ready(out)
    times.append(time.perf_counter() - start)
  faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
  print(f"{manifest.cpu()}; batch {cfg.data.batch_size}; S2S_JAX_MALLOC="
        f"{os.environ.get('S2S_JAX_MALLOC', '')} LD_PRELOAD={os.environ.get('LD_PRELOAD', '')} "
        f"GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '')}")
  print(f"median {1000 * np.median(times):.1f} ms min {1000 * min(times):.1f}; "
        f"minor faults/step {faults / updates:.0f}; build and compile {compile_s:.1f} s")


if __name__ == "__main__":
  main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
