"""On a GPU (marker `gpu`; skipped where JAX sees none): the bfloat16 model matches float32 there
as on the CPU, a bfloat16 train step learns, and a run trains on all GPUs. The GPU script of
experiments/2026-12-02_gpu runs these with `pytest -m gpu`, which needs only JAX and this
project: the run's test skips without TensorFlow (the trainer's input pipeline is tf.data)."""

import jax
import jax.numpy as jnp
import optax
import pytest

import subprocesses
from conftest import gpus, tiny_config
from s2s_jax import steps
from s2s_jax.config import ModelConfig
from s2s_jax.models.seq2seq import Seq2Seq
import test_precision
from test_architectures import BASE, _batch


@pytest.mark.gpu
def test_bfloat16_matches_float32_within_its_rounding_on_a_gpu():
  with jax.default_device(gpus()[0]):
    test_precision.test_bfloat16_matches_float32_within_its_rounding("rnn-rnn-lstm-mlp")


@pytest.mark.gpu
def test_a_bfloat16_train_step_learns_on_a_gpu():
  with jax.default_device(gpus()[0]):
    cfg = ModelConfig(**{**BASE, "dtype": "bfloat16"})
    src, trg = _batch()
    batch = {"src": src, "trg_in": jnp.concatenate([jnp.full((3, 1), 2), trg[:, :-1]], 1),
             "trg_out": trg}
    state = steps.init_state(Seq2Seq(cfg), optax.adam(1e-2), jax.random.PRNGKey(0), batch)
    train = jax.jit(steps.train_step)
    nlls = []
    for _ in range(8):
      state, out = train(state, batch, jax.random.PRNGKey(1))
      nlls.append(float(out["nll"] / out["tokens"]))
    assert all(leaf.devices() == {gpus()[0]} for leaf in jax.tree_util.tree_leaves(state.params))
    assert nlls[-1] < nlls[0] - 0.1, nlls


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_a_run_trains_on_every_gpu(tmp_path, dtype):
  pytest.importorskip("tensorflow", reason="the trainer's input pipeline is tf.data")
  from s2s_jax import trainer
  summary = trainer.train(tiny_config(model__dtype=dtype), str(tmp_path), devices=gpus())
  assert summary["steps"] == 8


# `pytest -m gpu` in a Python where `import tensorflow` fails, as on a GPU machine with only JAX.
_WITHOUT_TENSORFLOW = """
import sys
import pytest

class NoTensorFlow:
  def find_spec(self, name, path=None, target=None):
    if name.partition(".")[0] in ("tensorflow", "tensorboard"):
      raise ImportError(f"No module named {name!r} (blocked by the test)")

sys.meta_path.insert(0, NoTensorFlow())
sys.exit(pytest.main(["-q", "-n", "0", "-p", "no:cacheprovider", "-m", "gpu", "tests/test_gpu.py"]))
"""


def test_the_gpu_tests_collect_and_run_without_tensorflow():
  run = subprocesses.python("-c", _WITHOUT_TENSORFLOW, timeout=240)
  assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
  assert "error" not in run.stdout.lower(), run.stdout[-3000:]
