"""The RNN encoder: a bidirectional first LSTM layer (half the hidden units per direction) and
optional forward LSTM layers above it (spec §5.3). Padding never reaches the recurrent state."""

from typing import Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from s2s_jax.config import ModelConfig
from s2s_jax.data.vocab import PAD_ID
from s2s_jax.models import embed, initializers, recurrence


class EncoderOutput(NamedTuple):
  memory: jax.Array   # (batch, source, hidden) top-layer states, zero at padded positions
  mask: jax.Array     # (batch, source) True at real tokens
  lengths: jax.Array  # (batch,) number of real tokens


def _lstm_step(taps, consts, carry, x):
  del consts
  h, c = carry
  xp, valid = x
  h_new, c_new = recurrence.lstm(xp + taps.dot("w_hh", h), c)
  h = jnp.where(valid, h_new, h)  # past a sequence's end the state is held, not updated
  c = jnp.where(valid, c_new, c)
  return (h, c), h


class LSTMLayer(nn.Module):
  """One LSTM over (batch, time, input); input projections for all steps are one product."""
  input_size: int
  hidden: int
  kernel_init: Callable
  hoist: bool = True

  def setup(self):
    self.w_ih = self.param("w_ih", self.kernel_init, (self.input_size, 4 * self.hidden))
    self.w_hh = self.param("w_hh", self.kernel_init, (self.hidden, 4 * self.hidden))
    self.b = self.param("b", nn.initializers.zeros, (4 * self.hidden,))

  def __call__(self, x, mask):
    batch, time, _ = x.shape
    xp = (x.reshape(batch * time, -1) @ self.w_ih + self.b).reshape(batch, time, -1)
    valid = mask.T[:, :, None]
    zeros = jnp.zeros((batch, self.hidden), x.dtype)
    _, hs = recurrence.scan(_lstm_step, {"w_hh": self.w_hh}, (), (zeros, zeros),
                            (xp.transpose(1, 0, 2), valid), hoist=self.hoist)
    return hs.transpose(1, 0, 2) * mask[:, :, None]


def reverse_within_length(x, lengths):
  """Reverses each row's first `length` steps, leaving padding in place (Sockeye's SequenceReverse)."""
  time = x.shape[1]
  t = jnp.arange(time)[None, :]
  idx = jnp.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
  return jnp.take_along_axis(x, idx[:, :, None], axis=1)


class RNNEncoder(nn.Module):
  config: ModelConfig
  hoist: bool = True

  def setup(self):
    c = self.config
    kernel = initializers.make(c.weight_init_type, c.weight_init_scale, c.xavier_factor_type, "kernel")
    emb = initializers.make(c.weight_init_type, c.weight_init_scale, c.xavier_factor_type, "embedding")
    self.embed = embed.Embedding(c.vocab_size_source, c.num_embed_source, emb, c.embed_dropout_source)
    half = c.rnn_num_hidden // 2
    self.forward_rnn = LSTMLayer(c.num_embed_source, half, kernel, self.hoist)
    self.reverse_rnn = LSTMLayer(c.num_embed_source, half, kernel, self.hoist)
    self.upper = [LSTMLayer(c.rnn_num_hidden, c.rnn_num_hidden, kernel, self.hoist)
                  for _ in range(c.num_layers_encoder - 1)]

  def __call__(self, src, train: bool = False) -> EncoderOutput:
    mask = src != PAD_ID
    lengths = mask.sum(axis=1)
    x = self.embed(src, train)
    fwd = self.forward_rnn(x, mask)
    rev = reverse_within_length(self.reverse_rnn(reverse_within_length(x, lengths), mask), lengths)
    h = jnp.concatenate([fwd, rev], axis=-1)
    for layer in self.upper:
      h = layer(h, mask)
    return EncoderOutput(h, mask, lengths)
