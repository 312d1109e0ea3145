"""Data parallelism (sharding.data_parallel): on 4 devices the train step gives the whole batch's
gradient and the eval step its sums, as on one device; the compiled step communicates once after
the backward pass, with no collective inside a loop and no gathering of activations."""

import functools
import re

import jax
import numpy as np
import optax
import pytest

from s2s_jax import sharding, steps
from s2s_jax.config import ModelConfig
from s2s_jax.models.seq2seq import Seq2Seq



def _setup(cell="lstm", **model):
  """model: more ModelConfig fields."""
  cfg = ModelConfig(vocab_size_source=12, vocab_size_target=12, num_embed_source=8,
                    num_embed_target=8, rnn_num_hidden=16, rnn_cell_type=cell, **model)
  rng = np.random.RandomState(0)
  trg = rng.randint(4, 12, (8, 6)).astype(np.int32)
  trg[0, 3:] = 0  # padding: rows hold unequal token counts, so each device's share differs
  trg[5, 1:] = 0
  batch = {"src": rng.randint(4, 12, (8, 5)).astype(np.int32),
           "trg_in": np.concatenate([np.full((8, 1), 2), trg[:, :-1]], 1).astype(np.int32),
           "trg_out": trg}
  model = Seq2Seq(cfg)
  state = steps.init_state(model, optax.sgd(1.0), jax.random.PRNGKey(0), batch)
  return model, state, batch


def _four_devices():
  assert len(jax.devices()) >= 4
  return sharding.make_mesh(jax.devices()[:4])


def _parallel_train_step(mesh):
  repl, data = sharding.replicated(mesh), sharding.batch_sharding(mesh)
  step = sharding.data_parallel(functools.partial(steps.train_step, axis_name=sharding.DATA),
                                mesh, 3)
  return jax.jit(step, in_shardings=(repl, data, repl), out_shardings=(repl, repl))


def test_four_devices_take_the_same_sgd_step_as_one():
  mesh = _four_devices()
  _, state, batch = _setup()
  one, one_out = jax.jit(steps.train_step)(
      state, batch, jax.random.PRNGKey(1))
  four, four_out = _parallel_train_step(mesh)(
      sharding.put_replicated(state, mesh), sharding.put_batch(batch, mesh), jax.random.PRNGKey(1))
  # SGD at rate 1 moves each parameter by its gradient: a gradient summed twice, or left as one
  # device's share, moves it by a different amount.
  for a, b, p in zip(jax.tree.leaves(one.params), jax.tree.leaves(four.params),
                     jax.tree.leaves(state.params)):
    np.testing.assert_allclose(np.asarray(b) - np.asarray(p), np.asarray(a) - np.asarray(p),
                               rtol=2e-4, atol=1e-6)
  for key in ("nll", "tokens", "finite"):
    np.testing.assert_allclose(float(four_out[key]), float(one_out[key]), rtol=1e-6)


def test_four_devices_give_the_eval_sums_of_one():
  mesh = _four_devices()
  model, state, batch = _setup()
  one = jax.jit(functools.partial(steps.eval_step, apply_fn=model.apply))(state.params, batch)
  step = sharding.data_parallel(functools.partial(steps.eval_step, apply_fn=model.apply,
                                                  axis_name=sharding.DATA), mesh, 2)
  four = jax.jit(step)(sharding.put_replicated(state.params, mesh), sharding.put_batch(batch, mesh))
  for key in ("nll", "tokens", "correct"):
    np.testing.assert_allclose(float(four[key]), float(one[key]), rtol=1e-6)


def _collectives_by_computation(hlo_text):
  """{computation name: number of collectives in it}, and the set of while-loop bodies."""
  found = {}
  for block in re.split(r"\n(?=\S.*\{\n)", hlo_text):
    name = block.split(None, 1)[0] if block.strip() else ""
    count = len(re.findall(r"\b(all-reduce|all-gather|all-to-all|collective-permute|"
                           r"reduce-scatter)(-start)?\(", block))
    if count:
      found[name] = count
  return found, set(re.findall(r"body=(%[\w.\-]+)", hlo_text))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_step_sums_once_after_the_backward_pass(cell):
  mesh = _four_devices()
  _, state, batch = _setup(cell)
  hlo = _parallel_train_step(mesh).lower(
      sharding.put_replicated(state, mesh), sharding.put_batch(batch, mesh),
      jax.random.PRNGKey(1)).compile().as_text()
  found, loop_bodies = _collectives_by_computation(hlo)
  assert loop_bodies and not set(found) & loop_bodies, f"collectives inside loops: {found}"
  assert "all-gather" not in hlo  # no device gathers another's activations
  # All in the entry computation, at most 3 (XLA combines the sums), and together they sum the
  # token count, every gradient, nll and correct: nothing more, nothing less.
  assert set(found) == {"ENTRY"} and sum(found.values()) <= 3, found
  assert _all_reduced_arrays(hlo) == 1 + len(jax.tree.leaves(state.params)) + 2


def _all_reduced_arrays(hlo_text):
  """How many arrays the all-reduces of a compiled module sum (a combined one sums several)."""
  results = re.findall(r"^\s*(?:ROOT )?%\S+ = (.*?) all-reduce(?:-start)?\(", hlo_text, re.M)
  return sum(len(re.findall(r"\w+\[[\d,]*\]", shapes)) for shapes in results)
