"""Shared fixtures. Four fake CPU devices exist before JAX is imported, so sharding is tested on CPU."""

import os
import pathlib
import sys

# XLA:CPU aborts the process when a collective's participants have not all arrived in time
# (40 s by default). The steps sum once, outside any loop (tests/test_data_parallel.py), so no
# step can deadlock; but under the suite's load (2 workers, each with 4 fake devices, beside the
# programs the tests start) a device's thread can be starved for long, and 40 s was exceeded once
# (sort-cnn). 120 s bounds a real deadlock at two minutes; the test limit (pytest.ini) is longer.
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=4"
                           " --xla_cpu_collective_call_terminate_timeout_seconds=120").strip()
# One compilation cache for the test session and the programs it starts (subprocesses inherit
# the variable): tests that build the same step reuse it, concurrently (s2s_jax/compile_cache.py).
os.environ.setdefault("S2S_JAX_CACHE", "/tmp/s2s_jax_test_cache")
# The training programs tests start compile far more than they run: keep glibc's malloc as it is
# (startup.keep_freed_memory, which s2s-train and s2s-bench apply, slows compiles by 30%).
# test_sagemaker's end-to-end job trains with the production setting; test_startup checks it.
os.environ.setdefault("S2S_JAX_MALLOC", "system")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from s2s_jax import startup  # noqa: E402

startup.before_imports()
import pytest  # noqa: E402

import subprocesses  # noqa: E402

from s2s_jax import compile_cache  # noqa: E402  (imports JAX, after XLA_FLAGS)

compile_cache.configure()

MULTI30K = ROOT.parent / "shared" / "data" / "multi30k"


def gpus():
  """The GPUs JAX sees (none with the CPU build of jaxlib)."""
  import jax
  try:
    return jax.devices("gpu")
  except RuntimeError:
    return []


def pytest_collection_modifyitems(config, items):
  del config
  if gpus():
    return
  skip = pytest.mark.skip(reason="needs a GPU, and JAX sees none (the GPU build: README, Setup)")
  for item in items:
    if "gpu" in item.keywords:
      item.add_marker(skip)


@pytest.fixture(autouse=True)
def _no_program_outlives_its_test():
  yield
  subprocesses.kill_leftovers()


@pytest.fixture
def multi30k():
  if not (MULTI30K / "train.en").exists():
    pytest.skip(f"Multi30k not found at {MULTI30K}")
  return MULTI30K


def tiny_config(**overrides):
  """The tiny config as an ExperimentConfig; overrides like train__max_num_batches=4."""
  from configs import tiny
  from s2s_jax import config as config_lib
  cd = tiny.get_config()
  for key, value in overrides.items():
    node = cd
    *path, last = key.split("__")
    for part in path:
      node = node[part]
    node[last] = value
  return config_lib.from_configdict(cd)
