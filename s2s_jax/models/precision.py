"""Mixed precision (`model.dtype`): where bfloat16 is used, and where float32 stays.

With dtype "bfloat16", every product with a weight matrix (the recurrences, the input and
attention projections, the decoder's hidden layer, the convolutions and the output layer) casts
both operands to bfloat16 and accumulates in float32: the product's result is float32, never
rounded to bfloat16. bfloat16 therefore exists only inside products: their operands, and the
copies of their inputs that the backward pass keeps (the backward's products take bfloat16
cotangents; their results are float32 too). Float32 stays everywhere else:
- the parameters, the optimizer state and every gradient the optimizer sees;
- embeddings as looked up (their gradients scatter-add in float32);
- all elementwise math: biases, gates, every recurrent state (the LSTM's h and c, the GRU's h),
  layer norm, residual sums, dropout;
- attention scores and their softmax, the logits' softmax and the loss.
Elementwise math stays float32 because CPUs without bf16 vector units compute it in float32
anyway (XLA converts around every op), and because the states and softmaxes are where bf16's
8-bit mantissa would cost accuracy.

With dtype "float32" every cast is the identity, and the math is exactly the float32 model's.
"""

import functools

import jax
import jax.numpy as jnp


def dot(x, w, dtype):
  """x @ w with both operands in `dtype`, the result in float32: (..., k) @ (k, n)."""
  if jnp.dtype(dtype) == jnp.float32:
    return x.astype(jnp.float32) @ w.astype(jnp.float32)
  lead = x.shape[:-1]
  return _low_dot(x.reshape(-1, x.shape[-1]), w, False).reshape(*lead, w.shape[-1])


def dot_t(x, w_t, dtype):
  """x @ w_t.T for a weight held transposed, (n, k): a tied embedding table, or decoding's
  vocabulary-major output weight. Operands in `dtype`, the result in float32."""
  if jnp.dtype(dtype) == jnp.float32:
    return x.astype(jnp.float32) @ w_t.astype(jnp.float32).T
  lead = x.shape[:-1]
  return _low_dot(x.reshape(-1, x.shape[-1]), w_t, True).reshape(*lead, w_t.shape[0])


def dot_fixed_weight(x, w):
  """x @ w for a weight that is not differentiated here (a recurrence's step, whose weight
  gradient recurrence.scan forms after the loop): x's gradient only, and w's is zero in every
  dtype. w's dtype is the products'."""
  w = jax.lax.stop_gradient(w)  # float32 as bfloat16: a weight gradient here would be per step
  if w.dtype == jnp.float32:
    return x.astype(jnp.float32) @ w
  lead = x.shape[:-1]
  return _low_dot_fixed(x.reshape(-1, x.shape[-1]), w).reshape(*lead, w.shape[-1])


def weight_gradient(x, g):
  """x^T g over all leading axes, (..., k) and (..., n) -> (k, n) in float32: the gradient of a
  weight from its inputs and its product's cotangent, with the operands in x's dtype."""
  x, g = x.reshape(-1, x.shape[-1]), g.reshape(-1, g.shape[-1])
  if x.dtype == jnp.float32:
    return x.T @ g.astype(jnp.float32)
  return _product(_transposed(x), g.astype(x.dtype), contract_rhs=0)


# Low precision products. XLA:CPU keeps a bfloat16 x bfloat16 product in bfloat16 (AMX or
# AVX512-BF16, through YNNPACK) only when its float32 result is asked for in the product itself and
# its left operand contracts its last axis; otherwise it converts both operands to float32 first.
# Measured on an AMX Xeon, (768 x 512) @ (512 x 18,726): 610 GFLOP/s in that form, 180 with a
# bfloat16 result cast afterwards, and 180 for x^T g written plainly (fp32: 218;
# experiments/2026-12-01_train_speed, run 3).
LOW = jnp.bfloat16


def _product(a, b, contract_rhs):
  """a (m, k) times b, contracting b's axis `contract_rhs`, operands in LOW, result float32."""
  return jax.lax.dot_general(a.astype(LOW), b.astype(LOW), (((1,), (contract_rhs,)), ((), ())),
                             preferred_element_type=jnp.float32)


def _transposed(x):
  """x.T, written so that XLA materialises it: a plain transpose is folded into the product's
  dimensions (x^T g contracting axis 0 of both), the form XLA:CPU computes in float32."""
  m, k = x.shape
  return x.reshape(m, k, 1).transpose(1, 2, 0).reshape(k, m)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _low_dot(x, w, transposed):
  """x @ w, or x @ w.T for transposed=True, with each gradient product in a form that XLA:CPU
  keeps in bfloat16."""
  return _product(x, w, contract_rhs=1 if transposed else 0)


def _low_dot_fwd(x, w, transposed):
  x_low, w_low = x.astype(LOW), w.astype(LOW)
  # Empty arrays carry the inputs' dtypes, which the gradients must have.
  dtypes = (jnp.zeros((0,), x.dtype), jnp.zeros((0,), w.dtype))
  return _product(x_low, w_low, contract_rhs=1 if transposed else 0), (x_low, w_low, dtypes)


def _low_dot_bwd(transposed, res, g):
  x_low, w_low, (x_dtype, w_dtype) = res
  g_low = g.astype(LOW)
  if transposed:
    dx = _product(g_low, w_low, contract_rhs=0)  # g @ w_t
    # (x^T g)^T = g^T x. Transposing x^T g's result instead would be folded into the product
    # as g contracting its axis 0, which XLA:CPU then fails to run in bfloat16 (DotThunk:
    # "BF16 x BF16 = F32" unsupported).
    dw = weight_gradient(g_low, x_low)
  else:
    dx = _product(g_low, w_low, contract_rhs=1)  # g @ w^T
    dw = weight_gradient(x_low, g_low)  # x^T @ g
  return dx.astype(x_dtype.dtype), dw.astype(w_dtype.dtype)


_low_dot.defvjp(_low_dot_fwd, _low_dot_bwd)


@jax.custom_vjp
def _low_dot_fixed(x, w):
  return _product(x, w, contract_rhs=0)


def _low_dot_fixed_fwd(x, w):
  return _product(x, w, contract_rhs=0), (w, jnp.zeros((0,), x.dtype))


def _low_dot_fixed_bwd(res, g):
  w, x_dtype = res
  return _product(g, w, contract_rhs=1).astype(x_dtype.dtype), None  # w: stop_gradient


_low_dot_fixed.defvjp(_low_dot_fixed_fwd, _low_dot_fixed_bwd)


@jax.custom_vjp
def add_bias(x, b):
  """x + b for x (rows, n) and b (n,); the bias gradient is ones @ g, a vector-matrix product,
  instead of XLA's reduction over the rows, which XLA:CPU runs 20x slower (37 against 1.9 ms for
  the (768, 18726) logits; experiments/2026-12-01_train_speed)."""
  return x + b


def _add_bias_fwd(x, b):
  return x + b, None


def _add_bias_bwd(_, g):
  return g, jnp.ones((g.shape[0],), g.dtype) @ g


add_bias.defvjp(_add_bias_fwd, _add_bias_bwd)


def cast_matrices(params, dtype):
  """Every weight matrix (a parameter named "w" or "w_..." of two or more dimensions) in `dtype`,
  the rest as it is: decoding's copy of the parameters, so that no product casts a weight again at
  every step. Embedding tables (also the CNN's learned positions) and biases of two dimensions
  (the decoder's b_init) stay float32, as in training. A tied output layer casts the float32
  target table for its product; XLA hoists that cast out of the search loop (one cast per batch)."""
  def cast(path, a):
    name = path[-1].key
    weight = name == "w" or name.startswith("w_")
    return a.astype(dtype) if weight and a.ndim >= 2 and jnp.issubdtype(a.dtype, jnp.floating) else a
  return jax.tree_util.tree_map_with_path(cast, params)
