"""Attention LSTM decoder with input feeding (Luong et al. 2015, as Sockeye 1.x, spec §5.4).

Per step: r_t = LSTM([emb(y_{t-1}); hidden_{t-1}]), (c_t, a_t) = attention(r_t),
hidden_t = tanh(W [r_t; c_t] + b) (dropout on [r_t; c_t]), logits = W_out hidden_t + b_out.
`decode_sequence` (teacher forcing, training) and `decode_step` (beam search) share `_step`.
"""

import functools
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from s2s_jax.config import ModelConfig
from s2s_jax.models import attention, embed, initializers, recurrence
from s2s_jax.models.encoders import EncoderOutput


class DecoderCarry(NamedTuple):
  """What changes from step to step (reordered by beam search), each (batch, rnn_num_hidden)."""
  h: jax.Array
  c: jax.Array
  hidden: jax.Array  # previous attentional hidden state (input feeding)


def _step(taps, consts, carry, x, with_probs=False):
  xp, keep = x  # xp: emb(y_{t-1}) @ W_emb + b, computed for all steps at once; keep: dropout scale
  h, c = recurrence.lstm(xp + taps.dot("rec", jnp.concatenate([carry.hidden, carry.h], -1)), carry.c)
  context, probs = attention.attend(taps, consts["att"], h)
  hc = jnp.concatenate([h, context], -1)
  if keep is not None:
    hc = hc * keep
  hidden = jnp.tanh(taps.dot("hid", hc) + consts["b_hid"])
  return DecoderCarry(h, c, hidden), ((hidden, probs) if with_probs else hidden)


class RNNDecoder(nn.Module):
  config: ModelConfig
  hoist: bool = True

  def setup(self):
    c = self.config
    init = functools.partial(initializers.make, c.weight_init_type, c.weight_init_scale,
                             c.xavier_factor_type)
    kernel, zeros = init("kernel"), nn.initializers.zeros
    h, enc, emb = c.rnn_num_hidden, c.rnn_num_hidden, c.num_embed_target
    self.embed = embed.Embedding(c.vocab_size_target, emb, init("embedding"), c.embed_dropout_target)
    self.attention = attention.MLPAttention(enc, h, c.attention_num_hidden, kernel, init("vector"))
    self.w_emb = self.param("w_emb", kernel, (emb, 4 * h))   # i2h, embedding part
    self.w_feed = self.param("w_feed", kernel, (h, 4 * h))   # i2h, input-feeding part
    self.w_hh = self.param("w_hh", kernel, (h, 4 * h))
    self.b = self.param("b", zeros, (4 * h,))
    self.w_hid = self.param("w_hid", kernel, (h + enc, h))
    self.b_hid = self.param("b_hid", zeros, (h,))
    self.w_out = self.param("w_out", kernel, (h, c.vocab_size_target))
    self.b_out = self.param("b_out", zeros, (c.vocab_size_target,))
    if c.rnn_decoder_state_init != "zero":
      self.w_init = self.param("w_init", kernel, (2, enc, h))  # for h and c
      self.b_init = self.param("b_init", zeros, (2, h))
    self.drop = nn.Dropout(c.rnn_decoder_hidden_dropout)

  def init_state(self, enc: EncoderOutput):
    """(carry, memory) to decode from: memory holds the per-sentence attention inputs (batch-leading
    arrays that never change between steps)."""
    batch, hidden = enc.memory.shape[0], self.config.rnn_num_hidden
    mode = self.config.rnn_decoder_state_init
    if mode == "zero":
      h = c = jnp.zeros((batch, hidden), enc.memory.dtype)
    else:
      if mode == "last":
        summary = enc.memory[jnp.arange(batch), jnp.maximum(enc.lengths - 1, 0)]
      else:  # avg
        summary = enc.memory.sum(1) / jnp.maximum(enc.lengths, 1)[:, None].astype(enc.memory.dtype)
      h, c = jnp.tanh(jnp.einsum("bd,kdh->kbh", summary, self.w_init) + self.b_init[:, None, :])
    return DecoderCarry(h, c, jnp.zeros_like(h)), self.attention.prepare(enc.memory, enc.mask)

  def _consts(self, memory):
    return {"att": {**memory, **self.attention.params()}, "b_hid": self.b_hid}

  def _weights(self):
    return {"rec": jnp.concatenate([self.w_feed, self.w_hh], 0), "hid": self.w_hid,
            **self.attention.weights()}

  def decode_sequence(self, enc: EncoderOutput, trg_in, train: bool = False):
    """Teacher forcing over (batch, time) target inputs; returns hidden states (batch, time, H)."""
    batch, time = trg_in.shape
    carry, memory = self.init_state(enc)
    e = self.embed(trg_in, train)
    xp = (e.reshape(batch * time, -1) @ self.w_emb + self.b).reshape(batch, time, -1)
    keep = None
    rate = self.config.rnn_decoder_hidden_dropout
    if train and rate > 0:
      width = self.w_hid.shape[0]
      keep = self.drop(jnp.ones((time, batch, width), xp.dtype), deterministic=False)
    _, hidden = recurrence.scan(_step, self._weights(), self._consts(memory), carry,
                                (xp.transpose(1, 0, 2), keep), hoist=self.hoist)
    return hidden.transpose(1, 0, 2)

  def decode_step(self, carry: DecoderCarry, memory, prev_ids):
    """One step from the previous tokens (batch,): returns (logits (batch, V), carry, attention)."""
    xp = self.embed(prev_ids) @ self.w_emb + self.b
    carry, (hidden, probs) = _step(recurrence.Taps(self._weights()), self._consts(memory), carry,
                                   (xp, None), with_probs=True)
    return self.logits(hidden), carry, probs

  def logits(self, hidden):
    """Output layer on (..., H); applied to a 2-D (positions, H) array, XLA's fastest shape."""
    lead = hidden.shape[:-1]
    return (hidden.reshape(-1, hidden.shape[-1]) @ self.w_out + self.b_out).reshape(*lead, -1)
