"""MLP attention (Bahdanau; Luong "concat"), as Sockeye: score_s = v . tanh(W_e h_s + W_q q), no biases.

The memory projection is computed once per sentence (`prepare`); `attend` is the per-step part and
is a pure function so that the decoder's scan and beam search share it.
"""

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

NEG_INF = -1e9


class MLPAttention(nn.Module):
  memory_size: int
  query_size: int
  num_hidden: int
  kernel_init: Callable
  vector_init: Callable

  def setup(self):
    self.w_e2h = self.param("w_e2h", self.kernel_init, (self.memory_size, self.num_hidden))
    self.w_q2h = self.param("w_q2h", self.kernel_init, (self.query_size, self.num_hidden))
    self.v = self.param("v", self.vector_init, (self.num_hidden,))

  def prepare(self, memory, mask):
    """Per-sentence inputs of `attend` (each with a leading batch axis): memory, its projection,
    and the padding bias."""
    batch, source, _ = memory.shape
    projected = (memory.reshape(batch * source, -1) @ self.w_e2h).reshape(batch, source, -1)
    bias = jnp.where(mask, 0.0, NEG_INF).astype(memory.dtype)
    return {"memory": memory, "projected": projected, "bias": bias}

  def weights(self):
    """Matrices `attend` uses through `taps.dot`."""
    return {"att_q2h": self.w_q2h}

  def params(self):
    """Other parameters `attend` reads from its consts."""
    return {"v": self.v}


def attend(taps, consts, query):
  """Returns (context (batch, memory_size), probabilities (batch, source)); padding gets 0."""
  q = taps.dot("att_q2h", query)
  scores = jnp.tanh(consts["projected"] + q[:, None, :]) @ consts["v"] + consts["bias"]
  probs = jax.nn.softmax(scores, axis=-1)
  context = jnp.einsum("bs,bsd->bd", probs, consts["memory"])
  return context, probs
