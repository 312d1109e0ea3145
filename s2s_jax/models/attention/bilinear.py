"""Bilinear attention (Luong "general"): score_s = (W h_s) . q, W mapping memory to query size."""

import jax.numpy as jnp

from s2s_jax.models.attention import base


class BilinearAttention(base.Attention):

  def setup(self):
    self.w_s2q = self.param("w_s2q", self.kernel_init, (self.memory_size, self.query_size))

  def prepare(self, memory, mask):
    keys = base.project(memory, self.w_s2q, self.dtype)
    return {**super().prepare(memory, mask), "keys": keys}

  @staticmethod
  def attend(taps, consts, query, state):
    del taps
    scores = jnp.einsum("bsd,bd->bs", consts["keys"], query)
    return (*base.attend_scores(scores, consts), state)
