"""The model's two paths agree, padding never leaks, and hoisted weight gradients are exact."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from s2s_jax.config import ModelConfig
from s2s_jax.models import initializers
from s2s_jax.models.seq2seq import Seq2Seq

CFG = ModelConfig(vocab_size_source=30, vocab_size_target=25, num_embed_source=8,
                  num_embed_target=8, rnn_num_hidden=16, rnn_attention_num_hidden=12)


def _batch():
  rng = np.random.RandomState(0)
  src = rng.randint(4, 30, (3, 7))
  src[0, 5:] = 0
  src[1, 3:] = 0
  trg = rng.randint(4, 25, (3, 6))
  trg[2, 4:] = 0
  return jnp.array(src), jnp.array(trg)


@pytest.fixture(scope="module")
def params():
  src, trg = _batch()
  return jax.jit(Seq2Seq(CFG).init)(jax.random.PRNGKey(0), src, trg)


def test_shapes(params):
  src, trg = _batch()
  assert Seq2Seq(CFG).apply(params, src, trg).shape == (3, 6, 25)
  p = params["params"]
  assert p["encoder"]["forward_rnn"]["cell_params"]["w_hh"].shape == (8, 32)  # half the hidden units per direction
  assert p["decoder"]["attention"]["w_e2h"].shape == (16, 12)


# The default state init in the everyday tier; the others (24 s of compiles) with the full suite.
@pytest.mark.parametrize("state_init", [
    "last", pytest.param("avg", marks=pytest.mark.slow), pytest.param("zero", marks=pytest.mark.slow)])
def test_hoisted_gradients_equal_plain_autodiff(state_init):
  import dataclasses
  cfg = dataclasses.replace(CFG, rnn_decoder_state_init=state_init)
  src, trg = _batch()
  variables = jax.jit(Seq2Seq(cfg).init)(jax.random.PRNGKey(1), src, trg)

  def grads(hoist):
    def loss(v):
      logits = Seq2Seq(cfg, hoist).apply(v, src, trg)
      return (jax.nn.log_softmax(logits) * (trg != 0)[..., None]).sum()
    return jax.jit(jax.grad(loss))(variables)
  diff = jax.tree_util.tree_map(lambda a, b: float(jnp.abs(a - b).max()), grads(True), grads(False))
  assert max(jax.tree_util.tree_leaves(diff)) < 1e-5


def test_decode_step_reproduces_decode_sequence(params):
  src, trg = _batch()
  model = Seq2Seq(CFG)
  full = model.apply(params, src, trg)
  enc = model.apply(params, src, method=Seq2Seq.encode)
  carry, memory = model.apply(params, enc, trg.shape[1], method=Seq2Seq.init_state)
  steps = []
  for t in range(trg.shape[1]):
    logits, carry, probs = model.apply(params, carry, memory, trg[:, t], method=Seq2Seq.decode_step)
    steps.append(logits)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    assert float(jnp.abs(probs * (src == 0)).max()) == 0.0  # no attention on padding
  np.testing.assert_allclose(jnp.stack(steps, 1), full, atol=1e-5)


def test_more_source_padding_changes_nothing(params):
  src, trg = _batch()
  model = Seq2Seq(CFG)
  wider = jnp.pad(src, ((0, 0), (0, 5)))
  np.testing.assert_allclose(model.apply(params, wider, trg), model.apply(params, src, trg), atol=1e-5)


def test_one_row_alone_equals_the_row_in_a_batch(params):
  src, trg = _batch()
  model = Seq2Seq(CFG)
  batched = model.apply(params, src, trg)
  alone = model.apply(params, src[1:2, :3], trg[1:2])
  np.testing.assert_allclose(alone[0], batched[1], atol=1e-5)


def test_xavier_bounds_follow_mxnet_fans():
  key = jax.random.PRNGKey(0)
  kernel = initializers.make("xavier", 2.34, "in", "kernel")(key, (400, 100))
  assert float(jnp.abs(kernel).max()) <= (2.34 / 400) ** 0.5
  assert float(jnp.abs(kernel).max()) > 0.9 * (2.34 / 400) ** 0.5
  emb = initializers.make("xavier", 3.0, "out", "embedding")(key, (1000, 50))
  assert float(jnp.abs(emb).max()) <= (3.0 / 1000) ** 0.5
  uniform = initializers.make("uniform", 0.1, "in", "kernel")(key, (50, 50))
  assert 0.09 < float(jnp.abs(uniform).max()) <= 0.1
