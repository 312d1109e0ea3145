"""Location attention (Luong "location"): scores come from the query alone, one per source
position, score = W q + b, up to the model's maximum source length; later positions get none."""

import flax.linen as nn
import jax.numpy as jnp

from s2s_jax.models.attention import base


class LocationAttention(base.Attention):

  def setup(self):
    self.w_loc = self.param("w_loc", self.kernel_init, (self.query_size, self.max_source_len))
    self.b_loc = self.param("b_loc", nn.initializers.zeros, (self.max_source_len,))

  def weights(self):
    return {"att_loc": self.w_loc}

  def params(self):
    return {"b_loc": self.b_loc}

  @staticmethod
  def attend(taps, consts, query, state):
    source = consts["memory"].shape[1]
    scores = taps.dot("att_loc", query) + consts["b_loc"]
    width = scores.shape[-1]
    if source <= width:
      scores = scores[:, :source]
    else:  # positions past the maximum length cannot be attended to
      scores = jnp.pad(scores, ((0, 0), (0, source - width)), constant_values=base.NEG_INF)
    return (*base.attend_scores(scores, consts), state)
