"""Coverage attention (Tu et al. 2016), Sockeye's `count` type: MLP attention that also sees how
much attention each source position has received so far, score_s = v . tanh(W_e h_s + W_q q +
w_c cov_s) with cov_s the sum of past attention weights. Steers away from over- and under-translation."""

import jax.numpy as jnp

from s2s_jax.models.attention import base, mlp


class CoverageAttention(mlp.MLPAttention):

  def setup(self):
    super().setup()
    self.w_c2h = self.param("w_c2h", self.vector_init, (self.num_hidden,))

  def params(self):
    return {**super().params(), "w_c2h": self.w_c2h}

  def init_state(self, prepared):
    return jnp.zeros(prepared["bias"].shape, prepared["memory"].dtype)  # (batch, source)

  @staticmethod
  def attend(taps, consts, query, coverage):
    q = taps.dot("att_q2h", query)
    context, probs = base.attend_scores(
        mlp.scores(consts["projected"], q, consts["v"], coverage, consts["w_c2h"]), consts)
    return context, probs, coverage + probs
