"""Dot attention (Luong "dot"): score_s = <W_q q, W_s h_s>, each projection only where its input
size differs from the attention size (Sockeye). The scaled variant divides by sqrt(size)."""

import jax.numpy as jnp

from s2s_jax.models.attention import base


class DotAttention(base.Attention):
  scale = 1.0

  def setup(self):
    if self.memory_size != self.num_hidden:
      self.w_s = self.param("w_s", self.kernel_init, (self.memory_size, self.num_hidden))
    if self.query_size != self.num_hidden:
      self.w_q = self.param("w_q", self.kernel_init, (self.query_size, self.num_hidden))

  def prepare(self, memory, mask):
    keys = (memory if self.memory_size == self.num_hidden
            else base.project(memory, self.w_s, self.dtype))
    return {**super().prepare(memory, mask), "keys": keys}

  def weights(self):
    return {} if self.query_size == self.num_hidden else {"att_q": self.w_q}

  def params(self):
    return {"scale": jnp.float32(self.scale or self.num_hidden ** -0.5)}

  @staticmethod
  def attend(taps, consts, query, state):
    q = taps.dot("att_q", query) if "att_q" in taps.weights else query
    scores = jnp.einsum("bsd,bd->bs", consts["keys"], q) * consts["scale"]
    return (*base.attend_scores(scores, consts), state)


class ScaledDotAttention(DotAttention):
  scale = 0.0  # 0: num_hidden ** -0.5
