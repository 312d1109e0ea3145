"""Gradient accumulation (train.micro_batches): k micro-batches give the update of the whole batch,
on one device and on four, and a training run with them trains to its end."""

import functools

import jax
import numpy as np
import pytest

from s2s_jax import config as config_lib, losses, sharding, steps, trainer
from conftest import tiny_config
from test_data_parallel import _four_devices, _setup


def _sgd_change(state, new):
  return [np.asarray(b) - np.asarray(a)
          for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(new.params))]


def _step(micro_batches, axis_name=None):
  return functools.partial(steps.train_step, micro_batches=micro_batches, axis_name=axis_name)


@pytest.mark.parametrize("micro_batches", [2, 4])
def test_micro_batches_take_the_same_step_as_the_whole_batch(micro_batches):
  _, state, batch = _setup()  # 8 rows of unequal token counts; SGD at rate 1
  one, one_out = jax.jit(_step(1))(state, batch, jax.random.PRNGKey(1))
  split, split_out = jax.jit(_step(micro_batches))(state, batch, jax.random.PRNGKey(1))
  # A micro-batch normalised by its own token count, or gradients averaged instead of summed,
  # would move the parameters by a different amount.
  for a, b in zip(_sgd_change(state, one), _sgd_change(state, split)):
    np.testing.assert_allclose(b, a, rtol=2e-4, atol=1e-6)
  for key in ("nll", "tokens", "finite"):
    np.testing.assert_allclose(float(split_out[key]), float(one_out[key]), rtol=1e-6)


def _summed_nll(model, params, batch, keys):
  """The training loss's nll summed over micro-batches, micro-batch i's rows under dropout key
  keys[i]."""
  def nll(rows, key):
    logits = model.apply({"params": params}, rows["src"], rows["trg_in"], train=True,
                         rngs={"dropout": key})
    return losses.cross_entropy(logits, rows["trg_out"])[1]
  rows = len(batch["src"]) // len(keys)
  nll = jax.jit(nll)
  return sum(float(nll({k: v[i * rows:(i + 1) * rows] for k, v in batch.items()}, key))
             for i, key in enumerate(keys))


def test_each_micro_batch_draws_its_dropout_masks_from_its_own_key():
  # steps.train_step: the step's key is fold_in(rng, step) and micro-batch i's is
  # fold_in(step key, i). The nll the step reports is computed under those masks.
  # Weights of U(-1, 1): at 0.1 the untrained model's nll hardly depends on the masks (1e-5).
  model, state, batch = _setup(embed_dropout_source=0.5, rnn_decoder_hidden_dropout=0.5,
                               weight_init_scale=1.0)
  rng = jax.random.PRNGKey(1)
  _, out = jax.jit(_step(2))(state, batch, rng)
  step_key = jax.random.fold_in(rng, state.step)
  own = _summed_nll(model, state.params, batch, [jax.random.fold_in(step_key, i) for i in (0, 1)])
  assert float(out["nll"]) == pytest.approx(own, rel=1e-5)
  # One key for both micro-batches gives another nll: the check tells the keys apart.
  shared = _summed_nll(model, state.params, batch, [jax.random.fold_in(step_key, 0)] * 2)
  assert shared != pytest.approx(own, rel=1e-3), (shared, own)


def test_four_devices_with_micro_batches_take_the_step_of_one_device():
  mesh = _four_devices()
  _, state, batch = _setup()
  one, _ = jax.jit(_step(1))(state, batch, jax.random.PRNGKey(1))
  repl, data = sharding.replicated(mesh), sharding.batch_sharding(mesh)
  step = jax.jit(sharding.data_parallel(_step(2, sharding.DATA), mesh, 3),
                 in_shardings=(repl, data, repl), out_shardings=(repl, repl))
  four, _ = step(sharding.put_replicated(state, mesh), sharding.put_batch(batch, mesh),
                 jax.random.PRNGKey(1))
  for a, b in zip(_sgd_change(state, one), _sgd_change(state, four)):
    np.testing.assert_allclose(b, a, rtol=2e-4, atol=1e-6)


def test_a_run_with_micro_batches_trains_as_a_run_without(tmp_path):
  # The trainer's rows must split into devices x micro-batches (4 x 2 here) for the step to run.
  # The tiny config's 16 rows are a multiple of 4 and of 8, so both runs take the same batches,
  # and the same updates give the same validation perplexity at the same best step.
  # No BLEU decoding and no examples: the runs' cost is their compiles.
  quick = dict(train__bleu_sample_size=0, train__num_examples=0, train__max_num_batches=4)
  split = trainer.train(tiny_config(train__micro_batches=2, **quick), str(tmp_path / "split"))
  whole = trainer.train(tiny_config(**quick), str(tmp_path / "whole"))
  assert split["steps"] == whole["steps"] == 4
  assert split["best_step"] == whole["best_step"]
  assert split["best"] == pytest.approx(whole["best"], rel=1e-5)


def test_micro_batches_must_be_positive():
  with pytest.raises(config_lib.ConfigError, match=r"micro_batches.*must be >= 1"):
    tiny_config(train__micro_batches=0)
