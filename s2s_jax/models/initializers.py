"""SageMaker's weight initialisers (spec §5.2), with MXNet's fan conventions.

MXNet computes fans on its own layouts: a dense weight is (out, in), an embedding (vocab, dim).
Our dense kernels are (in, out), so the fan axes are swapped for them; embeddings match.
"""

import jax
import jax.numpy as jnp


def make(init_type: str, scale: float, xavier_factor: str, layout: str):
  """Returns a Flax initializer. layout: 'kernel' (in, out), 'embedding' (vocab, dim) or 'vector' (in,)."""
  if init_type == "uniform":
    return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -scale, scale)

  def xavier(key, shape, dtype=jnp.float32):
    if layout == "kernel":
      fan_in, fan_out = shape[0], shape[-1]
    elif layout == "embedding":
      fan_in, fan_out = shape[-1], shape[0]
    else:
      fan_in, fan_out = shape[0], 1
    factor = {"in": fan_in, "out": fan_out, "avg": (fan_in + fan_out) / 2.0}[xavier_factor]
    bound = (scale / factor) ** 0.5
    return jax.random.uniform(key, shape, dtype, -bound, bound)
  return xavier


def for_config(c, layout: str):
  """`make` with a ModelConfig's weight_init_type, weight_init_scale and xavier_factor_type."""
  return make(c.weight_init_type, c.weight_init_scale, c.xavier_factor_type, layout)
