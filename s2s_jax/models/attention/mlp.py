"""MLP attention (Bahdanau; Luong "concat"), as Sockeye: score_s = v . tanh(W_e h_s + W_q q), no biases."""

import jax.numpy as jnp

from s2s_jax.models.attention import base


class MLPAttention(base.Attention):

  def setup(self):
    self.w_e2h = self.param("w_e2h", self.kernel_init, (self.memory_size, self.num_hidden))
    self.w_q2h = self.param("w_q2h", self.kernel_init, (self.query_size, self.num_hidden))
    self.v = self.param("v", self.vector_init, (self.num_hidden,))

  def prepare(self, memory, mask):
    projected = base.project(memory, self.w_e2h, self.dtype)
    return {**super().prepare(memory, mask), "projected": projected}

  def weights(self):
    return {"att_q2h": self.w_q2h}

  def params(self):
    return {"v": self.v}

  @staticmethod
  def attend(taps, consts, query, state):
    q = taps.dot("att_q2h", query)
    scores = jnp.tanh(consts["projected"] + q[:, None, :]) @ consts["v"]
    return (*base.attend_scores(scores, consts), state)
