"""Shared fixtures. Four fake CPU devices exist before JAX is imported, so sharding is tested on CPU."""

import os
import pathlib
import sys

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=4").strip()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from s2s_jax import xla_setup  # noqa: E402

xla_setup.configure()
import jax  # noqa: E402  (after XLA_FLAGS)
import pytest  # noqa: E402

# One compilation cache for the whole test session: tests that build the same step reuse it.
jax.config.update("jax_compilation_cache_dir", os.environ.get("S2S_JAX_CACHE", "/tmp/s2s_jax_test_cache"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)

MULTI30K = ROOT.parent / "shared" / "data" / "multi30k"


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
