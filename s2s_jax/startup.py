"""Process-wide settings that every program (and the tests) apply before JAX or TensorFlow start.

Library modules never call these: only `s2s_jax/bin/*`, `launch.py` and `tests/conftest.py` do.
`keep_freed_memory` is for training and benchmarking processes only (s2s-train, s2s-bench).
"""

import ctypes
import ctypes.util
import logging
import os
import sys

# oneDNN's GEMMs on XLA:CPU: 9% faster updates and 10-25% faster output-layer products on a 2-core
# AVX2 machine (experiments/2026-11-21_bench_multi30k). Ignored by GPU and TPU backends.
CPU_FLAGS = ("--xla_cpu_use_onednn=true",)
# TensorFlow serves only tf.data and TensorBoard here: its C++ INFO/WARNING lines ("oneDNN custom
# operations are on", "All log messages before absl::InitializeLog()", CPU feature notes) are not
# ours to show, and its oneDNN graph rewrites apply to TF math we never run.
TF_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}


# glibc's malloc hands every block above its mmap threshold (128 KiB to 32 MiB) back to the kernel
# on free, and gives each thread an arena whose blocks over ~64 MB are always mmapped. XLA:CPU
# allocates a step's temporaries afresh at every execution, as one block (273 MB for the benchmark
# model's (12, 12) batch), so an update page-faulted that block in anew: ~70k pages, and a first
# touch costs ~0.8 ms per MB on these VMs, up to a fifth of the update. No mmapped blocks, no
# trimming and a single arena (the main heap, which takes any size) reuse those pages: 0-6k faults
# per update. On a Zen 4 EPYC (s2s-bench, fp32, 9 batch shapes): 659-767 ms per update against
# 738-894 with two arenas, whose faults depended on which thread happened to allocate the block
# (5k to 70k, much of the run-to-run spread), but compiles 20-35% slower (53-63 s against 39-50 s:
# XLA's compiler threads contend for the one arena). A long run gains far more than it pays. (Two
# arenas with synchronous dispatch, which allocates on the main thread, compile as fast and run
# 723-737 ms.) experiments/2026-12-01_train_speed, run 6.
# tcmalloc and jemalloc do as well and are left alone when preloaded. mallopt's parameter numbers,
# from glibc's malloc.h:
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8
MALLOC_ENV = "S2S_JAX_MALLOC"  # "system": leave malloc as it is


def keep_freed_memory() -> bool:
  """Makes glibc's malloc reuse freed memory instead of returning it to the kernel, for the rest
  of the process: training and bench processes only, where it pays (above). Call before any
  thread starts (JAX's thread pools). True if applied; $S2S_JAX_MALLOC=system turns it off."""
  if (os.environ.get(MALLOC_ENV) == "system" or "malloc" in os.environ.get("LD_PRELOAD", "")
      or not sys.platform.startswith("linux")):
    return False
  try:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.gnu_get_libc_version  # glibc only: musl's mallopt does nothing
  except (OSError, AttributeError):
    return False
  applied = all(libc.mallopt(param, value) == 1 for param, value in
                ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1)))
  if applied:
    logging.getLogger("s2s_jax").info("malloc: one arena, freed memory kept for reuse "
                                      "(%s=system leaves it alone)", MALLOC_ENV)
  return applied


def before_imports():
  """XLA flags (unless the user set them) and a quiet TensorFlow; call before importing JAX or TF."""
  flags = os.environ.get("XLA_FLAGS", "")
  extra = [f for f in CPU_FLAGS if f.split("=")[0] not in flags]
  os.environ["XLA_FLAGS"] = " ".join([flags, *extra]).strip()
  for key, value in TF_ENVIRONMENT.items():
    os.environ.setdefault(key, value)
  # Stays: `import tensorflow` eagerly imports Keras (and matplotlib.pyplot), 1.1-1.4 s of CPU per
  # process (4.3 s against 5.6), which every program and test subprocess would pay for a Keras we
  # never use; TF skips it when this import fails.
  sys.modules.setdefault("keras.src.optimizers", None)


def program(compile_cache: bool = True):
  """For programs, after flag parsing: absl's INFO lines (Orbax: one per checkpoint file opened)
  off the console, and the persistent compilation cache (s2s_jax/compile_cache.py)."""
  before_imports()
  from absl import logging as absl_logging
  absl_logging.set_verbosity(absl_logging.WARNING)
  if compile_cache:
    from s2s_jax import compile_cache as cache
    cache.configure()
