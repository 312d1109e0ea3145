"""Mixed precision (`model.dtype`): where bfloat16 is used, and where float32 stays.

With dtype "bfloat16", every product with a weight matrix (the recurrences, the input and
attention projections, the decoder's hidden layer, the convolutions and the output layer) casts
both operands to bfloat16 and gives its result back as float32. bfloat16 therefore exists only
inside products: their operands, and the copies of their inputs that the backward pass keeps
(the backward's products take bfloat16 cotangents). Float32 stays everywhere else:
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

import jax
import jax.numpy as jnp


def dot(x, w, dtype):
  """x @ w with both operands in `dtype`, the result in float32."""
  return (x.astype(dtype) @ w.astype(dtype)).astype(jnp.float32)


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
  """Every floating array of two or more dimensions in `dtype`, the rest as it is: decoding's
  copy of the parameters, so that no product casts a weight again at every step."""
  def cast(a):
    return a.astype(dtype) if a.ndim >= 2 and jnp.issubdtype(a.dtype, jnp.floating) else a
  return jax.tree_util.tree_map(cast, params)
