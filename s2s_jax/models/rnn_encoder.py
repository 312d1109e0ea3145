"""The RNN encoder (spec §5.3): a bidirectional first layer (half the hidden units per direction),
then forward layers, with residual connections from `rnn_first_residual_layer` on. LSTM or GRU.

Padding never reaches the recurrent state: past a sequence's end the state is held, not updated,
and padded outputs are zero.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from s2s_jax.config import ModelConfig
from s2s_jax.data.vocab import PAD_ID
from s2s_jax.models import cells, initializers, recurrence, registry
from s2s_jax.models.encoder_output import EncoderOutput


def _masked_step(cell, taps, consts, state, x):
  pre, valid = x
  new = cells.step(cell, taps, consts, "rnn", pre, None, state)
  state = jax.tree_util.tree_map(lambda n, o: jnp.where(valid, n, o), new, state)
  return state, state[0]


class RNNLayer(nn.Module):
  """One recurrence over (batch, time, input); the input projection of all steps is one product."""
  cell: type
  input_size: int
  hidden: int
  kernel_init: object
  layer_norm: bool = False
  hoist: bool = True
  dtype: str = "float32"

  def setup(self):
    self.cell_params = cells.CellLayer(self.cell, self.input_size, 0, self.hidden,
                                       self.kernel_init, self.layer_norm, self.dtype)

  def __call__(self, x, mask):
    batch = x.shape[0]
    pre = self.cell_params.project(x)
    valid = mask.T[:, :, None]
    state = tuple(jnp.zeros((batch, self.hidden), pre.dtype) for _ in range(self.cell.num_states))
    step = functools.partial(_masked_step, self.cell)
    _, hs = recurrence.scan(step, self.cell_params.weights("rnn"), self.cell_params.consts(), state,
                            (pre.transpose(1, 0, 2), valid), hoist=self.hoist, dtype=self.dtype)
    return hs.transpose(1, 0, 2) * mask[:, :, None]


def reverse_within_length(x, lengths):
  """Reverses each row's first `length` steps, leaving padding in place (Sockeye's SequenceReverse)."""
  time = x.shape[1]
  t = jnp.arange(time)[None, :]
  idx = jnp.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
  return jnp.take_along_axis(x, idx[:, :, None], axis=1)


class RNNEncoder(nn.Module):
  config: ModelConfig
  embed: nn.Module
  hoist: bool = True

  def setup(self):
    c = self.config
    kernel = initializers.for_config(c, "kernel")
    cell = registry.get("cell", c.rnn_cell_type)
    half = c.rnn_num_hidden // 2
    layer = functools.partial(RNNLayer, cell, kernel_init=kernel, layer_norm=c.layer_normalization,
                              hoist=self.hoist, dtype=c.dtype)
    self.forward_rnn = layer(c.num_embed_source, half)
    self.reverse_rnn = layer(c.num_embed_source, half)
    self.upper = [layer(c.rnn_num_hidden, c.rnn_num_hidden)
                  for _ in range(c.num_layers_encoder - 1)]

  def __call__(self, src, train: bool = False) -> EncoderOutput:
    c = self.config
    mask = src != PAD_ID
    lengths = mask.sum(axis=1)
    x = self.embed(src, train)
    fwd = self.forward_rnn(x, mask)
    rev = reverse_within_length(self.reverse_rnn(reverse_within_length(x, lengths), mask), lengths)
    h = jnp.concatenate([fwd, rev], axis=-1)
    for number, layer in enumerate(self.upper, start=2):  # the bidirectional layer is layer 1
      out = layer(h, mask)
      h = out + h if c.rnn_residual_connections and number >= c.rnn_first_residual_layer else out
    return EncoderOutput(h, mask, lengths)
