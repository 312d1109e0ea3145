"""XLA settings the entry points apply before JAX starts its backend (launch.py, bench, tests)."""

import os

# oneDNN's GEMMs on XLA:CPU: 9% faster updates and 10-25% faster output-layer products on a 2-core
# AVX2 machine (experiments/2026-11-21_bench_multi30k). Ignored by GPU and TPU backends.
CPU_FLAGS = ("--xla_cpu_use_onednn=true",)


def configure():
  """Adds CPU_FLAGS to XLA_FLAGS unless the user already set those flags."""
  flags = os.environ.get("XLA_FLAGS", "")
  extra = [f for f in CPU_FLAGS if f.split("=")[0] not in flags]
  os.environ["XLA_FLAGS"] = " ".join([flags, *extra]).strip()


def command_line():
  """For the `python -m s2s_jax.<tool>` commands: XLA settings, and Orbax/JAX's absl INFO lines
  (one per checkpoint file opened) kept off the user's console."""
  configure()
  from absl import logging as absl_logging
  absl_logging.set_verbosity(absl_logging.WARNING)
