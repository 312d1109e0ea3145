"""bfloat16 mixed precision (`model.dtype`, models/precision.py): the products run in bfloat16,
everything else stays float32, and the model computes what the float32 model computes within
bfloat16's rounding."""

import dataclasses
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from s2s_jax import losses, steps
from s2s_jax.config import DecodeConfig, ModelConfig
from s2s_jax.inference import Decoder
from s2s_jax.models import embed, precision, recurrence
from s2s_jax.models.seq2seq import Seq2Seq
from test_architectures import BASE, VARIANTS, _batch

# One variant per family of products: input feeding + MLP attention, deep GRU with layer norm
# and bilinear attention, convolutions, tied output layer, the Transformer's projections.
CHECKED = {
    "rnn-rnn-lstm-mlp": VARIANTS["rnn-rnn-lstm-mlp"],
    "gru-bilinear-deep-layer-norm": dict(rnn_cell_type="gru", rnn_attention_type="bilinear",
                                         num_layers_encoder=2, num_layers_decoder=2,
                                         layer_normalization=True, rnn_decoder_state_init="avg"),
    "cnn-cnn": VARIANTS["cnn-cnn"],
    "tied-all-zero-init": VARIANTS["tied-all-zero-init"],
    "transformer": VARIANTS["transformer"],
}


def _loss_and_grads(cfg, params, hoist=True):
  src, trg = _batch()
  trg_in = jnp.concatenate([jnp.full((3, 1), 2), trg[:, :-1]], 1)

  def loss(params):
    logits = Seq2Seq(cfg, hoist).apply(params, src, trg_in)
    total, _, count = losses.cross_entropy(logits, trg)
    return total / count, logits
  (value, logits), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
  return value, logits, grads


def _cosine(a, b):
  a, b = np.ravel(a), np.ravel(b)
  return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))


# The deep layer-normalised GRU compiles longest (26 s of the everyday tier): its comparison runs
# with the full suite; test_bfloat16_model_and_its_gradients... keeps it in the everyday tier.
@pytest.mark.parametrize("variant", [
    pytest.param(v, marks=pytest.mark.slow) if v == "gru-bilinear-deep-layer-norm" else v
    for v in sorted(CHECKED)])
def test_bfloat16_matches_float32_within_its_rounding(variant):
  # Weights of U(-0.5, 0.5), so that signals cross the tiny model (at 0.1 its logits are nearly
  # constant and every comparison is trivially close).
  f32 = ModelConfig(**{**BASE, **CHECKED[variant], "weight_init_scale": 0.5})
  bf16 = ModelConfig(**{**BASE, **CHECKED[variant], "weight_init_scale": 0.5, "dtype": "bfloat16"})
  src, trg = _batch()
  params = jax.jit(Seq2Seq(f32, hoist=False).init)(jax.random.PRNGKey(0), src, trg)
  loss32, logits32, grads32 = _loss_and_grads(f32, params)
  loss16, logits16, grads16 = _loss_and_grads(bf16, params)
  assert logits16.dtype == jnp.float32
  assert float(loss16) == pytest.approx(float(loss32), rel=3e-3)
  # Deep layer norm amplifies the operands' rounding most: 7.2% of the largest logit and a
  # gradient cosine of 0.983 here, against 0.5% and 0.99999 for the others. The next test shows
  # that this is what rounding the operands gives, not an error of the bfloat16 code.
  layer_norm = CHECKED[variant].get("layer_normalization", False)
  scale, cosine = (0.1, 0.97) if layer_norm else (0.02, 0.9999)
  np.testing.assert_allclose(logits16, logits32, atol=scale * float(jnp.abs(logits32).max()))
  assert _cosine(_flat(grads16), _flat(grads32)) > cosine
  # The hoisted weight gradients (recurrence.py, one contraction after the loop) are at least as
  # close to float32 as plain autodiff's, which sums a product per step.
  _, _, plain16 = _loss_and_grads(bf16, params, hoist=False)
  assert (_cosine(_flat(grads16), _flat(grads32)) >=
          _cosine(_flat(plain16), _flat(grads32)) - 1e-4)


def _flat(tree):
  return np.concatenate([np.ravel(g) for g in jax.tree_util.tree_leaves(tree)])


def _rounded(a):
  return a.astype(jnp.bfloat16).astype(jnp.float32)


def _emulated_dot(x, w, dtype):
  """What precision.dot computes, as plain float32 math: rounded operands, float32 products."""
  if jnp.dtype(dtype) == jnp.float32:
    return x @ w
  return jnp.matmul(_rounded(x), _rounded(w), precision=jax.lax.Precision.HIGHEST)


@pytest.fixture
def strict_custom_vjp_dtypes(monkeypatch):
  """JAX's check that a custom VJP returns gradients of its primals' dtypes, without the exception
  for float32 gradients of bfloat16 primals that JAX marks for removal."""
  from jax._src import custom_derivatives
  monkeypatch.setattr(custom_derivatives, "_temporary_dtype_exception", lambda *_: False)


def _tanh_step(taps, consts, h, x):
  h = jnp.tanh(taps.dot("hh", h) + x + consts["b"])
  return h, h


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_the_hoisted_recurrence_returns_gradients_of_its_primals_dtypes(dtype,
                                                                        strict_custom_vjp_dtypes):
  keys = jax.random.split(jax.random.PRNGKey(0), 4)
  args = ({"hh": jax.random.normal(keys[0], (4, 4))}, {"b": jax.random.normal(keys[1], (4,))},
          jax.random.normal(keys[2], (2, 4)), jax.random.normal(keys[3], (3, 2, 4)))

  def grads(hoist):
    loss = lambda *a: recurrence.scan(_tanh_step, *a, hoist=hoist, dtype=dtype)[1].sum()  # noqa
    return jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)))(*args)
  got, want = grads(True), grads(False)  # hoisted against plain autodiff
  for path, g in jax.tree_util.tree_leaves_with_path(got):
    w = dict(jax.tree_util.tree_leaves_with_path(want))[path]
    assert g.dtype == jnp.float32, path
    np.testing.assert_allclose(g, w, rtol=2e-2, atol=2e-2 * float(jnp.abs(w).max()))


@pytest.mark.parametrize("variant", sorted(CHECKED))
def test_bfloat16_model_and_its_gradients_equal_autodiff_of_float32_products_of_rounded_operands(
    variant, monkeypatch, strict_custom_vjp_dtypes):
  # bfloat16 only rounds the products' operands (XLA's bfloat16 kernels accumulate in float32
  # and never round the result), and precision.py's own gradients and recurrence.py's hoisted
  # ones are autodiff's of that math, up to the rounding of the cotangents.
  cfg = ModelConfig(**{**BASE, **CHECKED[variant], "weight_init_scale": 0.5, "dtype": "bfloat16"})
  src, trg = _batch()
  params = jax.jit(Seq2Seq(cfg, hoist=False).init)(jax.random.PRNGKey(0), src, trg)
  _, logits, grads = _loss_and_grads(cfg, params)
  monkeypatch.setattr(precision, "dot", _emulated_dot)
  monkeypatch.setattr(precision, "dot_t", lambda x, w_t, dtype: _emulated_dot(x, w_t.T, dtype))
  _, emulated, emulated_grads = _loss_and_grads(cfg, params, hoist=False)
  np.testing.assert_allclose(logits, emulated, atol=1e-5 * float(jnp.abs(emulated).max()))
  assert _cosine(_flat(grads), _flat(emulated_grads)) > 0.9999
  for path, want in jax.tree_util.tree_leaves_with_path(emulated_grads):
    got = dict(jax.tree_util.tree_leaves_with_path(grads))[path]
    assert got.dtype == jnp.float32, path  # the optimizer sees float32 gradients
    if float(jnp.abs(want).max()) > 1e-6:
      assert _cosine(got, want) > 0.999, (jax.tree_util.keystr(path), _cosine(got, want))


def _bf16_exact(key, shape):
  """Random values that bfloat16 holds exactly, so that rounding them changes nothing."""
  return jax.random.normal(key, shape).astype(jnp.bfloat16).astype(jnp.float32)


@pytest.mark.parametrize("rows_sharded", [False, True])
def test_bfloat16_products_and_their_gradients_equal_float64_math(rows_sharded):
  # Each product of precision.py against float64: x @ w, x @ w_t.T, a fixed weight's product,
  # and the hoisted weight gradient x^T g, with their gradients. All operands are exact in
  # bfloat16, so the only differences left are float32 accumulation.
  keys = jax.random.split(jax.random.PRNGKey(0), 4)
  x, w = _bf16_exact(keys[0], (2, 12, 24)), _bf16_exact(keys[1], (24, 40))
  cot = _bf16_exact(keys[2], (2, 12, 40))  # the loss sum(y * cot) makes the cotangent exact too
  if rows_sharded:  # the trainer shards the batch over the devices
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("data",))
    x = jax.device_put(x.reshape(24, 24), jax.sharding.NamedSharding(
        mesh, jax.sharding.PartitionSpec("data"))).reshape(2, 12, 24)
  x64, w64, c64 = (np.asarray(a, np.float64) for a in (x, w, cot))
  want_y = x64 @ w64
  want_dx, want_dw = c64 @ w64.T, np.einsum("btk,btn->kn", x64, c64)

  def check(got, want):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=1e-5,
                               atol=1e-5 * np.abs(want).max())

  products = {
      "dot": (lambda x, w: precision.dot(x, w, jnp.bfloat16), w),
      "dot_t": (lambda x, w_t: precision.dot_t(x, w_t, jnp.bfloat16), w.T),
  }
  for name, (product, weight) in products.items():
    y, vjp = jax.vjp(jax.jit(product), x, weight)
    dx, dw = vjp(cot)
    assert y.dtype == dx.dtype == dw.dtype == jnp.float32, name
    check(y, want_y)
    check(dx, want_dx)
    check(dw if name == "dot" else dw.T, want_dw)
  w16 = w.astype(jnp.bfloat16)  # recurrences hold their weights cast once, outside the loop
  y, vjp = jax.vjp(jax.jit(precision.dot_fixed_weight), x, w16)
  check(y, want_y)
  check(vjp(cot)[0], want_dx)
  check(jax.jit(precision.weight_gradient)(x.astype(jnp.bfloat16), cot), want_dw)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_a_fixed_weights_product_differentiates_x_only_in_every_dtype(dtype):
  x, w = _bf16_exact(jax.random.PRNGKey(0), (3, 4)), _bf16_exact(jax.random.PRNGKey(1), (4, 5))
  cot = _bf16_exact(jax.random.PRNGKey(2), (3, 5))
  loss = lambda x, w: (precision.dot_fixed_weight(x, w) * cot).sum()  # noqa: E731
  dx, dw = jax.grad(loss, argnums=(0, 1))(x, w.astype(dtype))
  np.testing.assert_allclose(dx, np.asarray(cot, np.float64) @ np.asarray(w, np.float64).T,
                             rtol=1e-5)
  assert dw.dtype == dtype and not np.any(np.asarray(dw, np.float32))


def _bf16_products_stay_bf16_here():
  """Whether this CPU and XLA compute a bfloat16 product with a float32 result in bfloat16 (as
  a YNNPACK fusion) rather than converting its operands to float32 first."""
  a = jnp.zeros((64, 48), jnp.bfloat16)
  text = jax.jit(lambda a: jax.lax.dot_general(
      a, a, (((1,), (1,)), ((), ())), preferred_element_type=jnp.float32)).lower(a).compile()
  return "ynn_fusion" in text.as_text() and "convert" not in text.as_text()


@pytest.mark.parametrize("product", ["dot", "dot_t"])
def test_bfloat16_forward_and_both_gradient_products_compile_to_bfloat16_kernels(product):
  # XLA:CPU converts a bfloat16 product to float32 when its left operand contracts axis 0
  # (x^T g): 3x slower on AMX. precision.py writes the weight gradient so that it does not.
  if not _bf16_products_stay_bf16_here():
    pytest.skip("XLA computes bfloat16 products in float32 on this CPU")
  x = jnp.zeros((96, 48))
  w = jnp.zeros((48, 80)) if product == "dot" else jnp.zeros((80, 48))
  fn = getattr(precision, product)
  loss = lambda x, w: (fn(x, w, jnp.bfloat16) ** 2).sum()  # noqa: E731
  text = jax.jit(jax.grad(loss, argnums=(0, 1))).lower(x, w).compile().as_text()
  lines = text.splitlines()
  # Three products, each a YNNPACK fusion, and no operand converted up to float32 for one (the
  # only conversions to float32 XLA adds are those; the inputs are cast down, never up).
  assert sum("ynn_fusion" in line.split("=")[0] and "kind=kCustom" in line for line in lines) == 3
  upcasts = [line for line in lines if re.search(r"= f32\[[^\]]*\]\S* convert\(", line)]
  assert not upcasts, "\n".join(upcasts)


def _dot_dtypes(cfg, params):
  src, trg = _batch()
  text = jax.jit(lambda p: Seq2Seq(cfg).apply(p, src, trg)).lower(params).as_text()
  lines = [line for line in text.splitlines() if "dot_general" in line]
  return len(lines), sum("xbf16>" in line.split("->")[0] for line in lines)


def test_bfloat16_puts_every_weight_product_in_bfloat16_and_float32_none():
  cfg = ModelConfig(**BASE)
  src, trg = _batch()
  params = jax.jit(Seq2Seq(cfg, hoist=False).init)(jax.random.PRNGKey(0), src, trg)
  # 11 weight products: the encoder's w_pre and w_hh per direction, the decoder's w_init, w_pre,
  # w_step and w_hh (one product of their concatenation), w_hid and w_out, and the attention's
  # w_e2h and w_q2h. 2 more are products of two activations (scores and context), float32.
  assert _dot_dtypes(cfg, params) == (13, 0)
  assert _dot_dtypes(ModelConfig(**BASE, dtype="bfloat16"), params) == (13, 11)


def test_a_bfloat16_train_step_keeps_float32_parameters_and_optimizer_state_and_learns():
  cfg = ModelConfig(**{**BASE, "dtype": "bfloat16"})
  src, trg = _batch()
  trg_in = jnp.concatenate([jnp.full((3, 1), 2), trg[:, :-1]], 1)
  batch = {"src": src, "trg_in": trg_in, "trg_out": trg}
  state = steps.init_state(Seq2Seq(cfg), optax.adam(1e-2), jax.random.PRNGKey(0), batch)
  train = jax.jit(steps.train_step)
  nlls = []
  for _ in range(8):
    state, out = train(state, batch, jax.random.PRNGKey(1))
    nlls.append(float(out["nll"] / out["tokens"]))
  for leaf in jax.tree_util.tree_leaves((state.params, state.opt_state)):
    assert leaf.dtype in (jnp.float32, jnp.int32), leaf.dtype
  assert nlls[-1] < nlls[0] - 0.1, nlls


# The 2-D parameters that decoding's bfloat16 copy keeps float32: embedding tables, the CNN's
# learned positions and the decoder's b_init are no product's weight (models/precision.py).
FLOAT32_MATRICES = {
    "rnn-rnn-lstm-mlp": {"['decoder']['b_init']", "['source_embed']['embedding']",
                         "['target_embed']['embedding']"},
    "cnn-cnn": {"['decoder']['positions']['embedding']", "['encoder']['positions']['embedding']",
                "['source_embed']['embedding']", "['target_embed']['embedding']"},
    "tied-all-zero-init": {"['target_embed']['embedding']"},  # also the output layer's weight
}


@pytest.mark.parametrize("variant", sorted(FLOAT32_MATRICES))
def test_bfloat16_decoding_holds_the_weight_matrices_in_bfloat16_and_tables_in_float32(variant):
  cfg = ModelConfig(**{**BASE, **VARIANTS[variant]})
  src, trg = _batch()
  shapes = jax.eval_shape(lambda: Seq2Seq(cfg, hoist=False).init(
      jax.random.PRNGKey(0), src, trg)["params"])
  # What Decoder._search_layout computes, on the parameters' shapes
  search = jax.eval_shape(lambda p: precision.cast_matrices(embed.vocab_major_params(p),
                                                            jnp.bfloat16), shapes)
  _assert_matrix_dtypes(search, FLOAT32_MATRICES[variant])


def _assert_matrix_dtypes(params, float32_paths):
  """The 2-D parameters at float32_paths are float32, all others bfloat16."""
  matrices = {jax.tree_util.keystr(path): leaf.dtype
              for path, leaf in jax.tree_util.tree_leaves_with_path(params) if leaf.ndim >= 2}
  assert {path for path, dtype in matrices.items() if dtype == jnp.float32} == float32_paths
  assert all(matrices[path] == jnp.bfloat16 for path in set(matrices) - float32_paths)


def test_bfloat16_decoding_finds_the_float32_hypotheses_with_their_scores():
  # Weights of U(-0.5, 0.5): at 0.1 every score is log(20) within 1e-4 and the hypotheses are
  # near-ties, so the comparison would assert nothing.
  f32 = ModelConfig(**BASE, weight_init_scale=0.5)
  src, trg = _batch()
  params = jax.jit(Seq2Seq(f32, hoist=False).init)(jax.random.PRNGKey(0), src, trg)["params"]
  decode = DecodeConfig(beam_size=2, batch_size=4)
  bf16 = dataclasses.replace(f32, dtype="bfloat16")
  d32, d16 = (Decoder(c, params, decode) for c in (f32, bf16))
  _assert_matrix_dtypes(d16._search_params, FLOAT32_MATRICES["rnn-rnn-lstm-mlp"])  # BASE's model
  sources = [[5, 6, 7, 8, 9], [11], [4, 12, 13]]
  want, got = d32.decode_ids(sources, nbest=2), d16.decode_ids(sources, nbest=2)
  # The two best hypotheses of each source are 0.014 or more apart, 7x the tolerance (measured
  # differences: 2e-4 at most), so bfloat16's rounding cannot swap them.
  for a in want:
    assert a.nbest[1][1] - a.nbest[0][1] > 0.014, a.nbest
  assert [b.ids for b in got] == [a.ids for a in want]
  for a, b in zip(want, got):
    assert b.score == pytest.approx(a.score, abs=2e-3)


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
