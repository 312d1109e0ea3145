"""Pieces of the convolutional encoder and decoder (Gehring et al. 2017, as Sockeye §5.6).

A convolution is one product of the k shifted copies of its input, so the decoder's single step
(one window of the last k inputs) multiplies by exactly the same matrix as the full sequence.
"""

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from s2s_jax.models import initializers, precision

ACTIVATIONS = {
    "glu": lambda y: (lambda a, b: a * jax.nn.sigmoid(b))(*jnp.split(y, 2, axis=-1)),
    "relu": jax.nn.relu,
    "softrelu": jax.nn.softplus,
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
}


class ConvBlock(nn.Module):
  """Convolution over time plus activation, num_hidden -> num_hidden channels.

  causal=False: centred window (odd kernel); causal=True: the k - 1 previous inputs and this one.
  """
  num_hidden: int
  kernel_width: int
  activation: str
  causal: bool
  kernel_init: Callable
  dtype: str = "float32"  # of the product (precision.py)

  def setup(self):
    out = 2 * self.num_hidden if self.activation == "glu" else self.num_hidden
    # (k * in, out): MXNet's conv fan-in (in * k) falls out of the kernel layout.
    self.w = self.param("w", self.kernel_init, (self.kernel_width * self.num_hidden, out))
    self.b = self.param("b", nn.initializers.zeros, (out,))

  def __call__(self, x):
    """x: (batch, time, hidden), zero at padded positions -> (batch, time, hidden)."""
    batch, time, hidden = x.shape
    k = self.kernel_width
    left = k - 1 if self.causal else (k - 1) // 2
    padded = jnp.pad(x, ((0, 0), (left, k - 1 - left), (0, 0)))
    windows = jnp.concatenate([padded[:, i:i + time] for i in range(k)], axis=-1)
    y = precision.dot(windows.reshape(batch * time, k * hidden), self.w, self.dtype) + self.b
    return ACTIVATIONS[self.activation](y).reshape(batch, time, hidden)

  def step(self, window):
    """The last position of a causal convolution from the window (batch, k, hidden)."""
    y = precision.dot(window.reshape(window.shape[0], -1), self.w, self.dtype) + self.b
    return ACTIVATIONS[self.activation](y)


def sinusoids(length: int, dim: int):
  """Fixed positional embeddings (Vaswani et al. 2017), unscaled as Sockeye 1.13."""
  position = np.arange(length)[:, None]
  rates = 1.0 / (10000 ** (np.arange(0, dim, 2) / dim))
  table = np.zeros((length, dim), np.float32)
  table[:, 0::2] = np.sin(position * rates)
  table[:, 1::2] = np.cos(position * rates)[:, :dim // 2]
  return table


class PositionalEmbedding(nn.Module):
  """Adds a position's embedding; positions past `max_len` reuse the last one."""
  kind: str  # 'learned' or 'fixed'
  max_len: int
  dim: int
  init: Callable

  def setup(self):
    if self.kind == "learned":
      self.table = self.param("embedding", self.init, (self.max_len, self.dim))
    else:
      self.table = jnp.asarray(sinusoids(self.max_len, self.dim))

  def __call__(self, x, positions):
    """x: (..., dim); positions: int array broadcastable to x's leading shape."""
    return x + jnp.take(self.table, jnp.minimum(positions, self.max_len - 1), axis=0)


def setup_stack(module, c, max_len: int, num_embed: int, kernel_width: int, num_layers: int,
                causal: bool):
  """Called from a CNN encoder's or decoder's setup: positions, the embedding-to-hidden projection
  (no bias) and the blocks, as attributes `positions`, `w_i2h` and `blocks` of `module`."""
  kernel = initializers.for_config(c, "kernel")
  module.positions = PositionalEmbedding(c.cnn_positional_embedding_type, max_len, num_embed,
                                         initializers.for_config(c, "embedding"))
  module.w_i2h = module.param("w_i2h", kernel, (num_embed, c.cnn_num_hidden))
  module.blocks = [ConvBlock(c.cnn_num_hidden, kernel_width, c.cnn_activation_type, causal, kernel,
                             c.dtype) for _ in range(num_layers)]
