"""The encoder-decoder, built from a ModelConfig."""

import flax.linen as nn

from s2s_jax.config import ModelConfig
from s2s_jax.models.decoder import RNNDecoder
from s2s_jax.models.encoders import RNNEncoder


class Seq2Seq(nn.Module):
  config: ModelConfig
  hoist: bool = True  # hoisted weight gradients in the recurrences (False: plain lax.scan)

  def setup(self):
    self.encoder = RNNEncoder(self.config, self.hoist)
    self.decoder = RNNDecoder(self.config, self.hoist)

  def __call__(self, src, trg_in, train: bool = False):
    """Teacher-forced logits (batch, target, V)."""
    enc = self.encoder(src, train)
    return self.decoder.logits(self.decoder.decode_sequence(enc, trg_in, train))

  def encode(self, src):
    return self.encoder(src)

  def init_state(self, enc):
    return self.decoder.init_state(enc)

  def decode_step(self, carry, memory, prev_ids):
    return self.decoder.decode_step(carry, memory, prev_ids)
