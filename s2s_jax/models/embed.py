"""Token embeddings with dropout after the lookup (Sockeye's `Embedding`), the same table shared
with another dropout rate (source/target weight tying), and the output layer, optionally tied to
the target embedding (logits = h E^T + b)."""

from typing import Callable, Optional

import flax.linen as nn
import jax.numpy as jnp

from s2s_jax.models import precision


class Embedding(nn.Module):
  vocab_size: int
  features: int
  init: Callable
  dropout: float = 0.0

  def setup(self):
    self.table = self.param("embedding", self.init, (self.vocab_size, self.features))
    self.drop = nn.Dropout(self.dropout)

  def lookup(self, ids):
    # float32 whatever the table's dtype (precision.cast_matrices keeps tables float32)
    return jnp.take(self.table, ids, axis=0).astype(jnp.float32)

  def __call__(self, ids, train: bool = False):
    return self.drop(self.lookup(ids), deterministic=not train or self.dropout == 0.0)


class Shared(nn.Module):
  """Another embedding's table with its own dropout rate."""
  embedding: Embedding
  dropout: float = 0.0

  @nn.compact
  def __call__(self, ids, train: bool = False):
    x = self.embedding.lookup(ids)
    return nn.Dropout(self.dropout)(x, deterministic=not train or self.dropout == 0.0)


class OutputLayer(nn.Module):
  vocab_size: int
  hidden: int
  kernel_init: Callable
  tied: Optional[Embedding] = None  # use this embedding's table as the weight
  # The weight as stored in checkpoints is (H, V). Decoding holds it as (V, H) instead (see
  # vocab_major_params): XLA's CPU product of a few rows with a (V, H) weight is 1.3x faster at
  # 64 rows and 2.7x at 32 (experiments/2026-11-22_decode_speed).
  vocab_major: bool = False
  dtype: str = "float32"  # of the product (precision.py); the logits are float32

  def setup(self):
    if self.tied is None:
      shape = (self.vocab_size, self.hidden) if self.vocab_major else (self.hidden, self.vocab_size)
      self.w_out = self.param("w_out", self.kernel_init, shape)
    self.b_out = self.param("b_out", nn.initializers.zeros, (self.vocab_size,))

  def __call__(self, hidden):
    """Applied to a 2-D (positions, H) array, XLA's fastest shape for this product."""
    lead = hidden.shape[:-1]
    flat = hidden.reshape(-1, hidden.shape[-1])
    if self.tied is not None:
      logits = precision.dot_t(flat, self.tied.table, self.dtype)
    elif self.vocab_major:
      logits = precision.dot_t(flat, self.w_out, self.dtype)
    else:
      logits = precision.dot(flat, self.w_out, self.dtype)
    return precision.add_bias(logits, self.b_out).reshape(*lead, -1)


def vocab_major_params(params):
  """Checkpoint params with the output weight stored (V, H), for a model built with
  vocab_major_output."""
  if "w_out" not in params.get("output", {}):
    return params  # tied to the target embedding, already (V, H)
  w_t = jnp.transpose(params["output"]["w_out"])  # run eagerly: a new (V, H) buffer
  return {**params, "output": {**params["output"], "w_out": w_t}}
