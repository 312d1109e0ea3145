"""Convolutional encoder (Sockeye §5.6): embeddings plus positions, a projection to cnn_num_hidden,
then residual blocks x = x + Block(x) with centred convolutions. Padded positions are zeroed before
every convolution, so they never change a real position's output."""

import flax.linen as nn
import jax.numpy as jnp

from s2s_jax.config import ModelConfig
from s2s_jax.data.vocab import PAD_ID
from s2s_jax.models import convolution, precision
from s2s_jax.models.encoder_output import EncoderOutput


class CNNEncoder(nn.Module):
  config: ModelConfig
  embed: nn.Module
  hoist: bool = True  # unused: no recurrence

  def setup(self):
    c = self.config
    convolution.setup_stack(self, c, c.max_seq_len_source, c.num_embed_source,
                            c.cnn_kernel_width_encoder, c.num_layers_encoder, causal=False)

  def __call__(self, src, train: bool = False) -> EncoderOutput:
    mask = src != PAD_ID
    keep = mask[:, :, None].astype(jnp.float32)
    e = self.positions(self.embed(src, train), jnp.arange(src.shape[1])[None, :])
    x = precision.dot(e, self.w_i2h, self.config.dtype)
    for block in self.blocks:
      x = x + block(x * keep)
    return EncoderOutput(x * keep, mask, mask.sum(axis=1))
