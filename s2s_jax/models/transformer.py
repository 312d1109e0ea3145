"""Transformer encoder and decoder (Vaswani et al. 2017), as Sockeye 1.x's `transformer`.

Every sub-layer (self-attention, attention over the source, feed-forward) runs between two
process blocks, Sockeye's `transformer_preprocess` / `transformer_postprocess` sequences of
  n: layer normalisation, d: dropout (`transformer_dropout_prepost`), r: the residual sum,
so pre-norm ("n" / "dr", Sockeye's default) and post-norm ("" / "drn") are one key apart. A stack
ends with the preprocess sequence once more (a final layer norm for pre-norm), as Sockeye's does.

Embeddings are scaled by sqrt(model size) before fixed (sinusoid) positions are added, as
Sockeye's scale_up_input; learned positions are added unscaled. Attention projections have no
bias; the feed-forward layers have.

The decoder's step reads a key/value cache per layer: keys and values of every target position
so far, written in place at the step's position, so no step recomputes the prefix. The attention
over the source reads keys and values projected once, in init_state. The attention a step reports
(the endpoint's matrix, the heatmap) is the mean over the heads of the last layer's attention over
the source.

Products with weights go through models/precision.py (bfloat16 operands with model.dtype
bfloat16); attention scores, softmaxes, layer norm and residual sums are float32.
"""

from typing import Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from s2s_jax.config import ModelConfig
from s2s_jax.data.vocab import PAD_ID
from s2s_jax.models import initializers, precision
from s2s_jax.models.attention.base import padding_bias
from s2s_jax.models.cells import layer_norm
from s2s_jax.models.convolution import PositionalEmbedding
from s2s_jax.models.encoder_output import EncoderOutput

ACTIVATIONS = {"relu": jax.nn.relu, "gelu": jax.nn.gelu, "swish1": jax.nn.silu}


@jax.custom_vjp
def _materialised_gradient(x):
  """The identity, at the start of every sub-layer, whose gradient XLA writes out once.

  Without it XLA fuses the residual stream's elementwise backward (layer norms, dropout masks,
  residual sums) into each consumer, so every layer's weight gradients recompute the chains of
  all the layers above: ~28% of a fp32 update of Transformer-tiny on a 2-core Xeon. A product
  with the identity matrix is a boundary fusion cannot cross (XLA:CPU removes optimization
  barriers before fusing, and folds conditionals), exact at HIGHEST precision, and costs
  2 d^2 flops a position. Measured with experiments/2026-12-05_transformer_speed/profile/
  time_step.py: 628-654 ms an update without, 476-494 ms with it at every sub-layer."""
  return x


def _identity_fwd(x):
  return x, None


def _identity_bwd(_, g):
  eye = jnp.eye(g.shape[-1], dtype=g.dtype)
  return (jnp.einsum("...d,de->...e", g, eye, precision=jax.lax.Precision.HIGHEST),)


_materialised_gradient.defvjp(_identity_fwd, _identity_bwd)


class Process(nn.Module):
  """Sockeye's TransformerProcessBlock: applies `sequence` (n, d, r) to x, r adding `prev`."""
  sequence: str
  dropout: float
  features: int

  def setup(self):
    if "n" in self.sequence:
      self.gain = self.param("gain", nn.initializers.ones, (self.features,))
      self.bias = self.param("bias", nn.initializers.zeros, (self.features,))
    self.drop = nn.Dropout(self.dropout)

  def __call__(self, x, prev=None, train: bool = False):
    for op in self.sequence:
      if op == "n":
        x = layer_norm(x, self.gain, self.bias)
      elif op == "d":
        x = self.drop(x, deterministic=not train or self.dropout == 0.0)
      elif op == "r" and prev is not None:
        x = x + prev
    return x


class MultiHeadAttention(nn.Module):
  """Scaled dot-product attention over `heads` heads. Written out rather than with
  jax.nn.dot_product_attention because the endpoint's attention matrix needs the weights, which
  that function does not return."""
  heads: int
  model_size: int
  memory_size: int  # the size of what keys and values are projected from
  kernel_init: Callable
  dropout: float
  dtype: str

  def setup(self):
    d, m = self.model_size, self.memory_size
    self.w_q = self.param("w_q", self.kernel_init, (d, d))
    self.w_k = self.param("w_k", self.kernel_init, (m, d))
    self.w_v = self.param("w_v", self.kernel_init, (m, d))
    self.w_o = self.param("w_o", self.kernel_init, (d, d))
    self.drop = nn.Dropout(self.dropout)

  def _split(self, x):
    """(batch, time, model) -> (batch, heads, time, head size): heads-major, the layout of the
    products' batch axes, so that a decoding step reads its caches without transposing them."""
    return x.reshape(*x.shape[:-1], self.heads, self.model_size // self.heads).swapaxes(-3, -2)

  def keys_values(self, memory):
    """(keys, values), each (batch, heads, time, head size), from (batch, time, memory_size)."""
    return (self._split(precision.dot(memory, self.w_k, self.dtype)),
            self._split(precision.dot(memory, self.w_v, self.dtype)))

  def __call__(self, x, keys, values, bias, train: bool = False):
    """x (batch, T, model) attends to keys/values (batch, heads, S, head size); bias broadcasts
    to (batch, heads, T, S). Returns (output (batch, T, model), weights (batch, heads, T, S))."""
    q = self._split(precision.dot(x, self.w_q, self.dtype))
    q = q * (self.model_size // self.heads) ** -0.5
    probs = jax.nn.softmax(jnp.einsum("bhtd,bhsd->bhts", q, keys) + bias, axis=-1)
    dropped = self.drop(probs, deterministic=not train or self.dropout == 0.0)
    context = jnp.einsum("bhts,bhsd->bhtd", dropped, values).swapaxes(1, 2)
    context = context.reshape(*x.shape[:-1], -1)
    return precision.dot(context, self.w_o, self.dtype), probs


class FeedForward(nn.Module):
  model_size: int
  hidden: int
  activation: str
  kernel_init: Callable
  dropout: float
  dtype: str

  def setup(self):
    self.w_1 = self.param("w_1", self.kernel_init, (self.model_size, self.hidden))
    self.b_1 = self.param("b_1", nn.initializers.zeros, (self.hidden,))
    self.w_2 = self.param("w_2", self.kernel_init, (self.hidden, self.model_size))
    self.b_2 = self.param("b_2", nn.initializers.zeros, (self.model_size,))
    self.drop = nn.Dropout(self.dropout)

  def __call__(self, x, train: bool = False):
    h = ACTIVATIONS[self.activation](precision.dot(x, self.w_1, self.dtype) + self.b_1)
    h = self.drop(h, deterministic=not train or self.dropout == 0.0)
    return precision.dot(h, self.w_2, self.dtype) + self.b_2


def _sublayer(c: ModelConfig, name: str):
  """(pre, post) process blocks around one sub-layer."""
  d = c.transformer_model_size
  return (Process(c.transformer_preprocess, c.transformer_dropout_prepost, d, name=f"{name}_pre"),
          Process(c.transformer_postprocess, c.transformer_dropout_prepost, d,
                  name=f"{name}_post"))


def _attention(c: ModelConfig, memory_size: int, name: str):
  return MultiHeadAttention(c.transformer_attention_heads, c.transformer_model_size, memory_size,
                            initializers.for_config(c, "kernel"), c.transformer_dropout_attention,
                            c.dtype, name=name)


def _feed_forward(c: ModelConfig):
  return FeedForward(c.transformer_model_size, c.transformer_feed_forward_num_hidden,
                     c.transformer_activation_type, initializers.for_config(c, "kernel"),
                     c.transformer_dropout_act, c.dtype, name="ff")


class _Inputs(nn.Module):
  """Embedding (scaled for fixed positions), positions and dropout: a stack's input."""
  config: ModelConfig
  embed: nn.Module
  max_len: int

  def setup(self):
    c = self.config
    self.positions = PositionalEmbedding(c.transformer_positional_embedding_type, self.max_len,
                                         c.transformer_model_size,
                                         initializers.for_config(c, "embedding"))
    self.drop = nn.Dropout(c.transformer_dropout_prepost)

  def __call__(self, ids, positions, train: bool = False):
    c = self.config
    x = self.embed(ids, train)
    if c.transformer_positional_embedding_type == "fixed":
      x = x * c.transformer_model_size ** 0.5
    x = self.positions(x, positions)
    return self.drop(x, deterministic=not train or c.transformer_dropout_prepost == 0.0)


class EncoderLayer(nn.Module):
  config: ModelConfig

  def setup(self):
    c = self.config
    self.att_pre, self.att_post = _sublayer(c, "self_att")
    self.self_attention = _attention(c, c.transformer_model_size, "self_attention")
    self.ff_pre, self.ff_post = _sublayer(c, "ff")
    self.ff = _feed_forward(c)

  def __call__(self, x, bias, train: bool = False):
    x = _materialised_gradient(x)
    y = self.att_pre(x, train=train)
    y, _ = self.self_attention(y, *self.self_attention.keys_values(y), bias, train)
    x = self.att_post(y, x, train)
    x = _materialised_gradient(x)
    return self.ff_post(self.ff(self.ff_pre(x, train=train), train), x, train)


class TransformerEncoder(nn.Module):
  config: ModelConfig
  embed: nn.Module
  hoist: bool = True  # unused: no recurrence

  def setup(self):
    c = self.config
    self.inputs = _Inputs(c, self.embed, c.max_seq_len_source)
    self.layers = [EncoderLayer(c) for _ in range(c.num_layers_encoder)]
    self.final = Process(c.transformer_preprocess, c.transformer_dropout_prepost,
                         c.transformer_model_size)

  def __call__(self, src, train: bool = False) -> EncoderOutput:
    mask = src != PAD_ID
    x = self.inputs(src, jnp.arange(src.shape[1])[None, :], train)
    bias = padding_bias(mask, jnp.float32)[:, None, None, :]  # (batch, heads, queries, keys)
    for layer in self.layers:
      x = layer(x, bias, train)
    x = self.final(x, train=train)
    return EncoderOutput(x * mask[:, :, None], mask, mask.sum(axis=1))


class DecoderLayer(nn.Module):
  config: ModelConfig
  memory_size: int

  def setup(self):
    c = self.config
    self.self_pre, self.self_post = _sublayer(c, "self_att")
    self.self_attention = _attention(c, c.transformer_model_size, "self_attention")
    self.src_pre, self.src_post = _sublayer(c, "src_att")
    self.source_attention = _attention(c, self.memory_size, "source_attention")
    self.ff_pre, self.ff_post = _sublayer(c, "ff")
    self.ff = _feed_forward(c)

  def __call__(self, x, self_bias, source_kv, source_bias, cache=None, train: bool = False):
    """x (batch, T, model). cache: None when x is the whole target sequence, or (keys, values,
    at) for one step: the layer's keys and values so far (batch, heads, max_len, head size) and
    the position where this step's go (one for all rows). Returns (output, the
    attention weights over the source (batch, heads, T, S), the keys and values it read)."""
    x = _materialised_gradient(x)
    y = self.self_pre(x, train=train)
    keys, values = self.self_attention.keys_values(y)
    if cache is not None:  # written in place (a blend with a one-hot position was a full pass)
      old_keys, old_values, at = cache
      keys = jax.lax.dynamic_update_slice_in_dim(old_keys, keys.astype(old_keys.dtype), at, 2)
      values = jax.lax.dynamic_update_slice_in_dim(old_values, values.astype(old_values.dtype),
                                                   at, 2)
    y, _ = self.self_attention(y, keys, values, self_bias, train)
    x = _materialised_gradient(self.self_post(y, x, train))
    y, probs = self.source_attention(self.src_pre(x, train=train), *source_kv, source_bias,
                                     train)
    x = _materialised_gradient(self.src_post(y, x, train))
    x = self.ff_post(self.ff(self.ff_pre(x, train=train), train), x, train)
    return x, probs, (keys, values)


class TransformerCarry(NamedTuple):
  position: jax.Array  # (batch,) the position being decoded
  keys: tuple          # per layer, (batch, heads, max_len, head size): the cache
  values: tuple


class TransformerDecoder(nn.Module):
  config: ModelConfig
  embed: nn.Module
  hoist: bool = True  # unused: no recurrence

  def setup(self):
    c = self.config
    self.inputs = _Inputs(c, self.embed, c.max_seq_len_target)
    self.layers = [DecoderLayer(c, c.encoder_num_hidden) for _ in range(c.num_layers_decoder)]
    self.final = Process(c.transformer_preprocess, c.transformer_dropout_prepost,
                         c.transformer_model_size)

  def _memory(self, enc: EncoderOutput):
    return {"kv": tuple(layer.source_attention.keys_values(enc.memory) for layer in self.layers),
            "bias": padding_bias(enc.mask, jnp.float32)[:, None, None, :]}

  def init_state(self, enc: EncoderOutput, max_len: int):
    """(carry, memory) for a search of at most max_len steps."""
    c = self.config
    batch, heads = enc.memory.shape[0], c.transformer_attention_heads
    empty = jnp.zeros((batch, heads, max_len, c.transformer_model_size // heads), jnp.float32)
    n = c.num_layers_decoder
    return (TransformerCarry(jnp.zeros((batch,), jnp.int32), (empty,) * n, (empty,) * n),
            self._memory(enc))

  def decode_sequence(self, enc: EncoderOutput, trg_in, train: bool = False):
    """Teacher forcing over (batch, time) target inputs; returns hidden states (batch, time, H)."""
    memory = self._memory(enc)
    time = trg_in.shape[1]
    x = self.inputs(trg_in, jnp.arange(time)[None, :], train)
    causal = padding_bias(jnp.tril(jnp.ones((time, time), bool)), jnp.float32)
    for layer, kv in zip(self.layers, memory["kv"]):
      x, _, _ = layer(x, causal, kv, memory["bias"], train=train)
    return self.final(x, train=train)

  def decode_step(self, carry: TransformerCarry, memory, prev_ids):
    """One step from the previous tokens (batch,): returns (hidden (batch, H), carry, attention)."""
    x = self.inputs(prev_ids[:, None], carry.position[:, None])
    max_len = carry.keys[0].shape[2]
    # Positions up to this one: (batch, 1 head, 1 query, max_len keys).
    seen = jnp.arange(max_len)[None, :] <= carry.position[:, None]
    self_bias = padding_bias(seen, jnp.float32)[:, None, None, :]
    # Every row of a search is at the same step, so one slice of the cache takes this step's keys.
    at = carry.position[0]
    keys, values = [], []
    for layer, kv, k, v in zip(self.layers, memory["kv"], carry.keys, carry.values):
      x, probs, (k, v) = layer(x, self_bias, kv, memory["bias"], cache=(k, v, at))
      keys.append(k)
      values.append(v)
    hidden = self.final(x)[:, 0]
    return (hidden, TransformerCarry(carry.position + 1, tuple(keys), tuple(values)),
            probs[:, :, 0].mean(axis=1))
