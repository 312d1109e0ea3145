"""Process-wide settings that every program (and the tests) apply before JAX or TensorFlow start.

Library modules never call these: only `s2s_jax/bin/*`, `launch.py` and `tests/conftest.py` do.
"""

import os
import sys

# oneDNN's GEMMs on XLA:CPU: 9% faster updates and 10-25% faster output-layer products on a 2-core
# AVX2 machine (experiments/2026-11-21_bench_multi30k). Ignored by GPU and TPU backends.
CPU_FLAGS = ("--xla_cpu_use_onednn=true",)
# TensorFlow serves only tf.data and TensorBoard here: its C++ INFO/WARNING lines ("oneDNN custom
# operations are on", "All log messages before absl::InitializeLog()", CPU feature notes) are not
# ours to show, and its oneDNN graph rewrites apply to TF math we never run.
TF_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}


def before_imports():
  """XLA flags (unless the user set them) and a quiet TensorFlow; call before importing JAX or TF."""
  flags = os.environ.get("XLA_FLAGS", "")
  extra = [f for f in CPU_FLAGS if f.split("=")[0] not in flags]
  os.environ["XLA_FLAGS"] = " ".join([flags, *extra]).strip()
  for key, value in TF_ENVIRONMENT.items():
    os.environ.setdefault(key, value)
  # `import tensorflow` eagerly imports Keras (which imports matplotlib.pyplot and, on a fresh
  # machine, builds its font cache), about 1.5 s per process; TF skips it when the import fails.
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
