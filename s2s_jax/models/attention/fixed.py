"""Fixed attention: the context is always the encoder state at the last source position and its
weight is one there ("equivalent to no attention", Sockeye)."""

import jax
import jax.numpy as jnp

from s2s_jax.models.attention import base


class FixedAttention(base.Attention):

  def prepare(self, memory, mask):
    batch, source, _ = memory.shape
    last = jnp.maximum(mask.sum(1) - 1, 0)
    return {"context": memory[jnp.arange(batch), last],
            "probs": jax.nn.one_hot(last, source, dtype=memory.dtype) * mask}

  @staticmethod
  def attend(taps, consts, query, state):
    del taps, query
    return consts["context"], consts["probs"], state
