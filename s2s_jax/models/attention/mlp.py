"""MLP attention (Bahdanau; Luong "concat"), as Sockeye: score_s = v . tanh(W_e h_s + W_q q), no biases."""

import jax
import jax.numpy as jnp

from s2s_jax.models.attention import base


@jax.checkpoint
def scores(projected, q, v, coverage=None, w_coverage=None):
  """v . tanh(projected + q [+ coverage * w_coverage]) over (batch, source, hidden). Checkpointed:
  the backward pass recomputes the tanh instead of keeping a (batch, source, hidden) array for
  every decoder step, the step's largest residual (19 MB for a 12 x 12 batch of 64 at hidden 512,
  470 MB at 60 x 60); 3-5% faster updates (experiments/2026-12-01_train_speed, run 6)."""
  hidden = projected + q[:, None, :]
  if coverage is not None:
    hidden = hidden + coverage[:, :, None] * w_coverage
  return jnp.tanh(hidden) @ v


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
    return (*base.attend_scores(scores(consts["projected"], q, consts["v"]), consts), state)
