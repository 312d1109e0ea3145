"""Recurrences whose weight gradients are computed after the loop, as one large product each.

Differentiating `lax.scan` the usual way accumulates a weight's gradient inside the backward loop:
one small (hidden x batch) x (batch x gates) product per step, plus a read and write of the whole
gradient buffer per step. Fused RNN libraries instead keep only the state gradient sequential and
form each weight gradient once: dW = sum_t x_t^T dy_t. `scan` does that for any step function that
computes its weight products through `Taps.dot`: each product gets a zero "tap" input whose
cotangent is dy_t, and the inputs x_t are recorded; after the backward loop dW is one contraction.
"""

import jax
import jax.numpy as jnp

from s2s_jax.models import precision


class Taps:
  """What a step uses for its weight products: `dot(name, x) = x @ weights[name] (+ tap)`, with
  operands in the weights' dtype (see `cast`) and a float32 result, as precision.dot."""

  def __init__(self, weights, taps=None):
    self.weights = weights
    self.taps = taps
    self.inputs = {}

  def dot(self, name, x):
    w = self.weights[name]
    if self.taps is None:  # plain autodiff (the reference), or no gradient at all
      return precision.dot(x, w, w.dtype)
    self.inputs[name] = x.astype(w.dtype)
    # The weight's gradient is formed after the loop, from the recorded inputs and the tap's
    # cotangent (which is the product's, float32).
    return precision.dot_fixed_weight(x, w) + self.taps[name]


def cast(weights, dtype):
  """The step's weights in the products' dtype, cast once outside the loop."""
  return {name: w.astype(dtype) for name, w in weights.items()}


def scan(step, weights, consts, carry, xs, hoist=True, dtype=jnp.float32):
  """Runs `carry, y = step(taps, consts, carry, x)` over the leading axis of xs.

  weights: dict of matrices used only through `taps.dot`, whose products take `dtype` operands;
  consts: other differentiable inputs that are the same at every step. With hoist=False this is a
  plain `lax.scan` (the reference).
  """
  if not hoist:
    low = cast(weights, dtype)
    return jax.lax.scan(lambda c, x: step(Taps(low), consts, c, x), carry, xs)

  def run(taps_stacked, weights, consts, carry, xs):
    def body(c, x_and_taps):
      x, t = x_and_taps
      taps = Taps(weights, t)
      c, y = step(taps, consts, c, x)
      return c, (y, taps.inputs)
    carry, (ys, inputs) = jax.lax.scan(body, carry, (xs, taps_stacked))
    return (carry, ys), inputs

  steps = jax.tree_util.tree_leaves(xs)[0].shape[0]
  first_x = jax.tree_util.tree_map(lambda a: a[0], xs)
  out_shapes = {}  # the shape of every tapped product, found by tracing one step abstractly
  probe_taps = _ShapeTaps(cast(weights, dtype), out_shapes)
  jax.eval_shape(lambda c, x: step(probe_taps, consts, c, x), carry, first_x)
  zeros = {n: jnp.zeros((steps,) + s.shape, s.dtype) for n, s in out_shapes.items()}
  # The custom VJP takes the weights as given (float32 parameters) and casts them inside, so that
  # each gradient it returns has its primal's dtype, as JAX requires of a custom VJP.
  primal_dtypes = {name: w.dtype for name, w in weights.items()}

  @jax.custom_vjp
  def hoisted(weights, consts, carry, xs):
    return run(zeros, cast(weights, dtype), consts, carry, xs)[0]

  def fwd(weights, consts, carry, xs):
    low = cast(weights, dtype)
    out, vjp_fn, inputs = jax.vjp(lambda t, k, c, x: run(t, low, k, c, x), zeros, consts, carry,
                                  xs, has_aux=True)
    return out, (vjp_fn, inputs)

  def bwd(res, g):
    vjp_fn, inputs = res
    d_taps, d_consts, d_carry, d_xs = vjp_fn(g)
    d_weights = {}
    for name, x in inputs.items():
      d_weights[name] = precision.weight_gradient(x, d_taps[name]).astype(primal_dtypes[name])
    return d_weights, d_consts, d_carry, d_xs

  hoisted.defvjp(fwd, bwd)
  return hoisted(weights, consts, carry, xs)


class _ShapeTaps(Taps):
  """Records the shape of each weight product while the step is traced abstractly."""

  def __init__(self, weights, shapes):
    super().__init__(weights)
    self.shapes = shapes

  def dot(self, name, x):
    y = precision.dot_fixed_weight(x, self.weights[name])
    self.shapes[name] = jax.ShapeDtypeStruct(y.shape, y.dtype)
    return y
