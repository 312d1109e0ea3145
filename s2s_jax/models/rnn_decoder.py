"""Attention RNN decoder with input feeding (Luong et al. 2015, as Sockeye 1.x, spec §5.4).

Per step: r = RNN_0([emb(y_{t-1}); hidden_{t-1}]); the query is r, or the top layer's output when
attention is not passed to the upper layers; (c_t, a_t) = attention(query); upper layers take
[below; c_t] (GNMT-style, `rnn_attention_in_upper_layers`) or just `below`, with residual
connections from `rnn_first_residual_layer` on; hidden_t = tanh(W [top; c_t] + b) (dropout on
[top; c_t]). `decode_sequence` (teacher forcing) and `decode_step` (beam search) share `_step`.
"""

import functools
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from s2s_jax.config import ModelConfig
from s2s_jax.models import cells, initializers, precision, recurrence, registry
from s2s_jax.models.encoder_output import EncoderOutput


class DecoderCarry(NamedTuple):
  """What changes from step to step (reordered by beam search); arrays are batch-leading."""
  states: tuple      # per layer, the cell's state tuple ((h, c) for LSTM, (h,) for GRU)
  hidden: jax.Array  # previous attentional hidden state (input feeding)
  attention: object  # the attention's own state (coverage), () for most


class _Plan(NamedTuple):
  """The static shape of a step."""
  cell: type
  attend: object
  layers: int
  attention_in_upper: bool
  first_residual: int  # 1-based layer number; layers >= it add their input (0: none)


def _step(plan, taps, consts, carry, x, with_probs=False):
  xp, keep = x  # xp: layer 0's embedding projection (incl. bias) for this step; keep: dropout scale
  states = [cells.step(plan.cell, taps, consts["l0"], "l0", xp, carry.hidden, carry.states[0])]
  below = states[0][0]

  def upper(below, context):
    for layer in range(1, plan.layers):
      x = below if context is None else jnp.concatenate([below, context], -1)
      states.append(cells.step(plan.cell, taps, consts[f"l{layer}"], f"l{layer}", None, x,
                               carry.states[layer]))
      out = states[-1][0]
      below = out + below if plan.first_residual and layer + 1 >= plan.first_residual else out
    return below

  def attend(query):
    with jax.named_scope("attention"):  # names its ops in profiles (s2s_jax/step_profile.py)
      return plan.attend(taps, consts["att"], query, carry.attention)

  if plan.attention_in_upper:
    context, probs, att_state = attend(below)
    top = upper(below, context)
  else:
    top = upper(below, None)
    context, probs, att_state = attend(top)
  hc = jnp.concatenate([top, context], -1)
  if keep is not None:
    hc = hc * keep
  pre = taps.dot("hid", hc) + consts["b_hid"]
  if "ln_hid" in consts:
    pre = cells.layer_norm(pre, *consts["ln_hid"])
  hidden = jnp.tanh(pre)
  carry = DecoderCarry(tuple(states), hidden, att_state)
  return carry, ((hidden, probs) if with_probs else hidden)


class RNNDecoder(nn.Module):
  config: ModelConfig
  embed: nn.Module
  hoist: bool = True

  def setup(self):
    c = self.config
    init = functools.partial(initializers.for_config, c)
    kernel, zeros = init("kernel"), nn.initializers.zeros
    h, enc, emb = c.rnn_num_hidden, c.encoder_num_hidden, c.num_embed_target
    self.cell = registry.get("cell", c.rnn_cell_type)
    self.attention_in_upper = c.rnn_attention_in_upper_layers and c.num_layers_decoder > 1
    self.attention = registry.get("attention", c.rnn_attention_type)(
        memory_size=enc, query_size=h, num_hidden=c.attention_num_hidden, kernel_init=kernel,
        vector_init=init("vector"), max_source_len=c.max_seq_len_source, dtype=c.dtype)
    upper_input = h + enc if self.attention_in_upper else h
    self.layers = [cells.CellLayer(self.cell, emb if i == 0 else 0, h if i == 0 else upper_input,
                                   h, kernel, c.layer_normalization, c.dtype)
                   for i in range(c.num_layers_decoder)]
    self.w_hid = self.param("w_hid", kernel, (h + enc, h))
    self.b_hid = self.param("b_hid", zeros, (h,))
    if c.layer_normalization:
      self.ln_hid = (self.param("ln_hid_gain", nn.initializers.ones, (h,)),
                     self.param("ln_hid_bias", zeros, (h,)))
    if c.rnn_decoder_state_init != "zero":
      count = c.num_layers_decoder * self.cell.num_states  # one per state tensor of every layer
      self.w_init = self.param("w_init", kernel, (count, enc, h))
      self.b_init = self.param("b_init", zeros, (count, h))
    self.drop = nn.Dropout(c.rnn_decoder_hidden_dropout)

  def _plan(self):
    c = self.config
    first = c.rnn_first_residual_layer if c.rnn_residual_connections else 0
    return _Plan(self.cell, self.attention.attend, c.num_layers_decoder, self.attention_in_upper,
                 first)

  def init_state(self, enc: EncoderOutput, max_len: int = 0):  # max_len: no cache to size
    """(carry, memory) to decode from: memory holds the per-sentence attention inputs (batch-leading
    arrays that never change between steps)."""
    c = self.config
    batch, hidden = enc.memory.shape[0], c.rnn_num_hidden
    count = c.num_layers_decoder * self.cell.num_states
    if c.rnn_decoder_state_init == "zero":
      flat = [jnp.zeros((batch, hidden), enc.memory.dtype)] * count
    else:
      if c.rnn_decoder_state_init == "last":
        summary = enc.memory[jnp.arange(batch), jnp.maximum(enc.lengths - 1, 0)]
      else:  # avg
        summary = enc.memory.sum(1) / jnp.maximum(enc.lengths, 1)[:, None].astype(enc.memory.dtype)
      # One (memory, hidden) matrix per initial state, applied as one product.
      w = self.w_init.transpose(1, 0, 2).reshape(self.w_init.shape[1], count * hidden)
      init = precision.dot(summary, w, c.dtype).reshape(batch, count, hidden).transpose(1, 0, 2)
      flat = list(jnp.tanh(init + self.b_init[:, None]))
    n = self.cell.num_states
    states = tuple(tuple(flat[i * n:(i + 1) * n]) for i in range(c.num_layers_decoder))
    memory = self.attention.prepare(enc.memory, enc.mask)
    carry = DecoderCarry(states, jnp.zeros((batch, hidden), enc.memory.dtype),
                         self.attention.init_state(memory))
    return carry, memory

  def _consts(self, memory):
    out = {"att": {**memory, **self.attention.params()}, "b_hid": self.b_hid}
    if self.config.layer_normalization:
      out["ln_hid"] = self.ln_hid
    for i, layer in enumerate(self.layers):
      out[f"l{i}"] = layer.consts()
    return out

  def _weights(self):
    out = {"hid": self.w_hid, **self.attention.weights()}
    for i, layer in enumerate(self.layers):
      out.update(layer.weights(f"l{i}"))
    return out

  def decode_sequence(self, enc: EncoderOutput, trg_in, train: bool = False):
    """Teacher forcing over (batch, time) target inputs; returns hidden states (batch, time, H)."""
    batch, time = trg_in.shape
    carry, memory = self.init_state(enc)
    xp = self.layers[0].project(self.embed(trg_in, train))
    keep = None
    if train and self.config.rnn_decoder_hidden_dropout > 0:
      keep = self.drop(jnp.ones((time, batch, self.w_hid.shape[0]), xp.dtype), deterministic=False)
    step = functools.partial(_step, self._plan())
    _, hidden = recurrence.scan(step, self._weights(), self._consts(memory), carry,
                                (xp.transpose(1, 0, 2), keep), hoist=self.hoist,
                                dtype=self.config.dtype)
    return hidden.transpose(1, 0, 2)

  def decode_step(self, carry: DecoderCarry, memory, prev_ids):
    """One step from the previous tokens (batch,): returns (hidden (batch, H), carry, attention)."""
    xp = self.layers[0].project(self.embed(prev_ids))
    weights = recurrence.cast(self._weights(), self.config.dtype)
    carry, (hidden, probs) = _step(self._plan(), recurrence.Taps(weights),
                                   self._consts(memory), carry, (xp, None), with_probs=True)
    return hidden, carry, probs
