"""bfloat16 mixed precision (`model.dtype`, models/precision.py): the products run in bfloat16,
everything else stays float32, and the model computes what the float32 model computes within
bfloat16's rounding."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from s2s_jax import losses, steps
from s2s_jax.config import DecodeConfig, ModelConfig
from s2s_jax.inference import Decoder
from s2s_jax.models.seq2seq import Seq2Seq
from test_architectures import BASE, FAST_COMPILE, VARIANTS, _batch

# One variant per family of products: input feeding + MLP attention, deep GRU with layer norm
# and bilinear attention, convolutions, tied output layer.
CHECKED = {
    "rnn-rnn-lstm-mlp": VARIANTS["rnn-rnn-lstm-mlp"],
    "gru-bilinear-deep-layer-norm": dict(rnn_cell_type="gru", rnn_attention_type="bilinear",
                                         num_layers_encoder=2, num_layers_decoder=2,
                                         layer_normalization=True, rnn_decoder_state_init="avg"),
    "cnn-cnn": VARIANTS["cnn-cnn"],
    "tied-all-zero-init": VARIANTS["tied-all-zero-init"],
}


def _loss_and_grads(cfg, params, hoist=True):
  src, trg = _batch()
  trg_in = jnp.concatenate([jnp.full((3, 1), 2), trg[:, :-1]], 1)

  def loss(params):
    logits = Seq2Seq(cfg, hoist).apply(params, src, trg_in)
    total, _, count = losses.cross_entropy(logits, trg)
    return total / count, logits
  (value, logits), grads = jax.jit(jax.value_and_grad(loss, has_aux=True),
                                   compiler_options=FAST_COMPILE)(params)
  return value, logits, grads


def _cosine(a, b):
  a, b = np.ravel(a), np.ravel(b)
  return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))


@pytest.mark.parametrize("variant", sorted(CHECKED))
def test_bfloat16_matches_float32_within_its_rounding(variant):
  # Weights of U(-0.5, 0.5), so that signals cross the tiny model (at 0.1 its logits are nearly
  # constant and every comparison is trivially close).
  f32 = ModelConfig(**{**BASE, **CHECKED[variant], "weight_init_scale": 0.5})
  bf16 = ModelConfig(**{**BASE, **CHECKED[variant], "weight_init_scale": 0.5, "dtype": "bfloat16"})
  src, trg = _batch()
  params = Seq2Seq(f32, hoist=False).init(jax.random.PRNGKey(0), src, trg)
  loss32, logits32, grads32 = _loss_and_grads(f32, params)
  loss16, logits16, grads16 = _loss_and_grads(bf16, params)
  assert logits16.dtype == jnp.float32
  # Layer norm amplifies the rounding most (2.5% of the largest logit here, against 0.6%).
  np.testing.assert_allclose(logits16, logits32, atol=0.04 * float(jnp.abs(logits32).max()))
  assert float(loss16) == pytest.approx(float(loss32), rel=3e-3)
  flat = [np.concatenate([np.ravel(g) for g in jax.tree_util.tree_leaves(t)])
          for t in (grads16, grads32)]
  assert _cosine(*flat) > 0.995
  for path, g32 in jax.tree_util.tree_leaves_with_path(grads32):
    g16 = dict(jax.tree_util.tree_leaves_with_path(grads16))[path]
    assert g16.dtype == jnp.float32, path  # the optimizer sees float32 gradients
    if float(jnp.abs(g32).max()) > 1e-6:
      assert _cosine(g16, g32) > 0.99, (jax.tree_util.keystr(path), _cosine(g16, g32))
  # The hoisted weight gradients (recurrence.py, one contraction after the loop) are at least as
  # close to float32 as plain autodiff's, which sums a bfloat16 product per step.
  _, _, plain16 = _loss_and_grads(bf16, params, hoist=False)
  plain = np.concatenate([np.ravel(g) for g in jax.tree_util.tree_leaves(plain16)])
  assert _cosine(flat[0], flat[1]) >= _cosine(plain, flat[1]) - 1e-4


def _dot_dtypes(cfg, params):
  src, trg = _batch()
  text = jax.jit(lambda p: Seq2Seq(cfg).apply(p, src, trg)).lower(params).as_text()
  lines = [line for line in text.splitlines() if "dot_general" in line]
  return len(lines), sum("xbf16>" in line.split("->")[0] for line in lines)


def test_bfloat16_puts_every_weight_product_in_bfloat16_and_float32_none():
  cfg = ModelConfig(**BASE)
  src, trg = _batch()
  params = Seq2Seq(cfg, hoist=False).init(jax.random.PRNGKey(0), src, trg)
  dots, in_bf16 = _dot_dtypes(cfg, params)
  assert dots > 0 and in_bf16 == 0
  dots, in_bf16 = _dot_dtypes(ModelConfig(**BASE, dtype="bfloat16"), params)
  # Products of two activations (attention over the memory) stay float32; weight products do not.
  assert in_bf16 >= 5, (dots, in_bf16)


def test_a_bfloat16_train_step_keeps_float32_parameters_and_optimizer_state_and_learns():
  cfg = ModelConfig(**{**BASE, "dtype": "bfloat16"})
  src, trg = _batch()
  trg_in = jnp.concatenate([jnp.full((3, 1), 2), trg[:, :-1]], 1)
  batch = {"src": src, "trg_in": trg_in, "trg_out": trg}
  state = steps.init_state(Seq2Seq(cfg), optax.adam(1e-2), jax.random.PRNGKey(0), batch)
  train = jax.jit(steps.train_step, compiler_options=FAST_COMPILE)
  nlls = []
  for _ in range(8):
    state, out = train(state, batch, jax.random.PRNGKey(1))
    nlls.append(float(out["nll"] / out["tokens"]))
  for leaf in jax.tree_util.tree_leaves((state.params, state.opt_state)):
    assert leaf.dtype in (jnp.float32, jnp.int32), leaf.dtype
  assert nlls[-1] < nlls[0] - 0.1, nlls


def test_bfloat16_decoding_holds_bfloat16_weights_and_scores_like_float32():
  f32 = ModelConfig(**BASE)
  bf16 = ModelConfig(**BASE, dtype="bfloat16")
  src, trg = _batch()
  params = Seq2Seq(f32, hoist=False).init(jax.random.PRNGKey(0), src, trg)["params"]
  decode = DecodeConfig(beam_size=2, batch_size=4)
  d32, d16 = (Decoder(c, params, decode, FAST_COMPILE) for c in (f32, bf16))
  dtypes = {leaf.dtype for leaf in jax.tree_util.tree_leaves(d16._search_params) if leaf.ndim >= 2}
  assert dtypes == {jnp.dtype(jnp.bfloat16)}
  sources = [[5, 6, 7, 8, 9], [11], [4, 12, 13]]
  for a, b in zip(d32.decode_ids(sources), d16.decode_ids(sources)):
    if a.ids == b.ids:  # near-ties of an untrained model may pick another word
      assert b.score == pytest.approx(a.score, abs=0.05)


def test_add_bias_gradients_equal_autodiff_also_with_rows_sharded():
  from s2s_jax.models.precision import add_bias
  x = jax.random.normal(jax.random.PRNGKey(0), (8, 5))
  b = jax.random.normal(jax.random.PRNGKey(1), (5,))
  weight = jax.random.normal(jax.random.PRNGKey(2), (8, 5))

  def loss(add):
    return lambda x, b: (jnp.tanh(add(x, b)) * weight).sum()
  want = jax.grad(loss(lambda x, b: x + b), argnums=(0, 1))(x, b)
  mesh = jax.sharding.Mesh(np.array(jax.devices()), ("data",))
  rows = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
  for x_in in (x, jax.device_put(x, rows)):  # the trainer shards the batch's rows over devices
    got = jax.jit(jax.grad(loss(add_bias), argnums=(0, 1)))(x_in, b)
    for g, w in zip(got, want):
      np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)
  assert not np.allclose(want[1], 0)  # the check sees a bias gradient
