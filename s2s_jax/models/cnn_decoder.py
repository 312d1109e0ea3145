"""Convolutional decoder (Sockeye §5.6): causal convolution blocks, each followed by dot attention
over the encoder states: h = Block(dropout(g)); c = attention(h); g = g + h + c.

The step path keeps, per layer, the last k - 1 inputs of its convolution; the full-sequence path
pads k - 1 zeros on the left, which is the same thing. The attention weights reported for a step are
the mean over layers (Sockeye 1.x reported zeros).
"""

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from s2s_jax.config import ModelConfig
from s2s_jax.models import convolution, precision
from s2s_jax.models.attention import base
from s2s_jax.models.encoder_output import EncoderOutput


class CNNCarry(NamedTuple):
  position: jax.Array  # (batch,) index of the token being read
  windows: tuple       # per layer, (batch, k - 1, hidden): the convolution's previous inputs


def _attend(h, memory):
  """Unscaled dot attention of queries (batch, time, H) over the memory; returns (context, probs)."""
  scores = jnp.einsum("btd,bsd->bts", h, memory["memory"]) + memory["bias"][:, None, :]
  probs = jax.nn.softmax(scores, axis=-1)
  return jnp.einsum("bts,bsd->btd", probs, memory["memory"]), probs


class CNNDecoder(nn.Module):
  config: ModelConfig
  embed: nn.Module
  hoist: bool = True  # unused: no recurrence

  def setup(self):
    c = self.config
    convolution.setup_stack(self, c, c.max_seq_len_target, c.num_embed_target,
                            c.cnn_kernel_width_decoder, c.num_layers_decoder, causal=True)
    self.drop = nn.Dropout(c.cnn_hidden_dropout)

  def init_state(self, enc: EncoderOutput, max_len: int = 0):  # max_len: no cache to size
    batch, hidden = enc.memory.shape[0], self.config.cnn_num_hidden
    window = jnp.zeros((batch, self.config.cnn_kernel_width_decoder - 1, hidden), enc.memory.dtype)
    carry = CNNCarry(jnp.zeros((batch,), jnp.int32), (window,) * self.config.num_layers_decoder)
    return carry, {"memory": enc.memory, "bias": base.padding_bias(enc.mask, enc.memory.dtype)}

  def _layers(self, g, memory, convolve, train):
    """Runs the blocks on g (batch, time, H); convolve(i, block, x) applies block i to its input."""
    probs_sum = 0.0
    for i, block in enumerate(self.blocks):
      x = self.drop(g, deterministic=not train or self.config.cnn_hidden_dropout == 0.0)
      h = convolve(i, block, x)
      context, probs = _attend(h, memory)
      g = g + h + context
      probs_sum = probs_sum + probs
    return g, probs_sum / len(self.blocks)

  def decode_sequence(self, enc: EncoderOutput, trg_in, train: bool = False):
    """Teacher forcing over (batch, time) target inputs; returns hidden states (batch, time, H)."""
    _, memory = self.init_state(enc)
    e = self.positions(self.embed(trg_in, train), jnp.arange(trg_in.shape[1])[None, :])
    g, _ = self._layers(precision.dot(e, self.w_i2h, self.config.dtype), memory,
                        lambda i, block, x: block(x), train)
    return g

  def decode_step(self, carry: CNNCarry, memory, prev_ids):
    """One step from the previous tokens (batch,): returns (hidden (batch, H), carry, attention)."""
    e = self.positions(self.embed(prev_ids), carry.position)
    windows = []

    def convolve(i, block, x):
      window = jnp.concatenate([carry.windows[i], x], axis=1)
      windows.append(window[:, 1:])
      return block.step(window)[:, None, :]
    g, probs = self._layers(precision.dot(e, self.w_i2h, self.config.dtype)[:, None, :], memory,
                            convolve, False)
    return g[:, 0], CNNCarry(carry.position + 1, tuple(windows)), probs[:, 0]
