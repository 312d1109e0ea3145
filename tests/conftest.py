"""Shared fixtures. Four fake CPU devices exist before JAX is imported, so sharding is tested on CPU."""

import os
import pathlib
import sys

# Four fake devices: sharding is tested on CPU. XLA:CPU aborts the process when a collective's
# participants have not all arrived in time (40 s by default); 120 s bounds a real deadlock at two
# minutes, within the test limit (pytest.ini).
USER_XLA_FLAGS = os.environ.get("XLA_FLAGS", "")
TEST_XLA_FLAGS = (USER_XLA_FLAGS +
                  " --xla_force_host_platform_device_count=4"
                  " --xla_cpu_collective_call_terminate_timeout_seconds=120").strip()
# The tests compile far more than they run: LLVM at -O0 compiles 1.5x faster (a cold tiny
# training run's compiles 12.1-13.3 s -> 8.2-9.1 s on a Zen 4 EPYC); the products are library
# calls, so steps run about as fast. The programs tests start inherit it.
os.environ["XLA_FLAGS"] = TEST_XLA_FLAGS + " --xla_backend_optimization_level=0"
# The tests that train to a threshold (test_system, test_quality_synthetic) run their programs as a
# user would: production codegen (-O0 rounds differently, likely the multiply-adds it leaves
# unfused: sort-gru's perplexity 1.002 -> 1.049) on one device (XLA:CPU runs a step's all-reduce
# on its intra-op pool, 2 threads here, where 4 fake devices' participants blocked each other
# until the collective timeout under the suite's load: "only 3 of them arrived on time").
THRESHOLD_XLA_FLAGS = (USER_XLA_FLAGS + " --xla_force_host_platform_device_count=1").strip()
# Programs that need no sharding and many of whom run side by side (a sweep's trials): one device
# steps 15% faster and has no all-reduce to wait on.
ONE_DEVICE_XLA_FLAGS = THRESHOLD_XLA_FLAGS + " --xla_backend_optimization_level=0"
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
  # The slow tests first, so that the workers share them instead of one finishing them alone.
  items.sort(key=lambda item: "slow" not in item.keywords)
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


def built_once(tmp_path_factory, name, build) -> pathlib.Path:
  """A folder that `build(folder)` fills once per test session, shared by the xdist workers (the
  first to get here builds it under a file lock; the others wait, then read it). For fixtures
  too costly to build on every worker, such as a trained model; the tests must not change it."""
  import filelock
  root = tmp_path_factory.getbasetemp()
  if os.environ.get("PYTEST_XDIST_WORKER"):
    root = root.parent  # the session's folder, above each worker's own
  folder = root / f"shared-{name}"
  with filelock.FileLock(f"{folder}.lock"):
    if not (folder / ".built").exists():
      folder.mkdir(exist_ok=True)
      build(folder)
      (folder / ".built").touch()
  return folder


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
