"""The train step: one update lowers the loss; a non-finite loss, or a finite loss with non-finite
gradients, leaves the whole state untouched."""

import jax
import jax.numpy as jnp
import numpy as np

from s2s_jax import optim, steps
from s2s_jax.config import ModelConfig, TrainConfig
from s2s_jax.models.seq2seq import Seq2Seq


def _state_and_batch():
  cfg = ModelConfig(vocab_size_source=12, vocab_size_target=12, num_embed_source=8,
                    num_embed_target=8, rnn_num_hidden=16)
  rng = np.random.RandomState(0)
  trg = rng.randint(4, 12, (4, 6)).astype(np.int32)
  batch = {"src": jnp.asarray(rng.randint(4, 12, (4, 5)), jnp.int32),
           "trg_in": jnp.asarray(np.concatenate([np.full((4, 1), 2), trg[:, :-1]], 1), jnp.int32),
           "trg_out": jnp.asarray(trg)}
  state = steps.init_state(Seq2Seq(cfg), optim.make_optimizer(TrainConfig()), jax.random.PRNGKey(0),
                           batch)
  return state, batch


def test_a_step_lowers_the_loss():
  state, batch = _state_and_batch()
  step = jax.jit(steps.train_step)
  state, first = step(state, batch, jax.random.PRNGKey(1))
  for _ in range(5):
    state, out = step(state, batch, jax.random.PRNGKey(1))
  assert bool(first["finite"]) and float(out["nll"]) < float(first["nll"])


def test_a_non_finite_loss_leaves_parameters_and_optimizer_untouched():
  state, batch = _state_and_batch()
  state, _ = jax.jit(steps.train_step)(state, batch, jax.random.PRNGKey(1))  # non-zero Adam moments
  params = jax.tree_util.tree_map(lambda x: x, state.params)
  params["output"]["w_out"] = params["output"]["w_out"].at[0, 0].set(jnp.nan)
  broken = state.replace(params=params)
  _assert_untouched(broken, batch)


def test_a_finite_loss_with_nan_gradients_leaves_the_state_untouched():
  state, batch = _state_and_batch()
  state, _ = jax.jit(steps.train_step)(state, batch, jax.random.PRNGKey(1))
  model_apply = state.apply_fn

  def apply_with_a_nan_gradient(variables, *args, **kwargs):
    # sqrt'(0) * 0 in the backward pass: the loss is unchanged, one gradient is NaN.
    bias = variables["params"]["output"]["b_out"]
    return model_apply(variables, *args, **kwargs) + 0.0 * jnp.sqrt(0.0 * bias[0])
  broken = state.replace(apply_fn=apply_with_a_nan_gradient)
  new, out = _assert_untouched(broken, batch)
  assert np.isfinite(float(out["nll"]))


def _assert_untouched(state, batch):
  new, out = jax.jit(steps.train_step)(state, batch, jax.random.PRNGKey(2))
  assert not bool(out["finite"])
  for before, after in zip(jax.tree_util.tree_leaves((state.params, state.opt_state)),
                           jax.tree_util.tree_leaves((new.params, new.opt_state))):
    np.testing.assert_array_equal(np.asarray(before), np.asarray(after))
  return new, out
