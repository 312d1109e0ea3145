"""Token embeddings with dropout after the lookup (Sockeye's `Embedding`)."""

from typing import Callable

import flax.linen as nn
import jax.numpy as jnp


class Embedding(nn.Module):
  vocab_size: int
  features: int
  init: Callable
  dropout: float = 0.0

  def setup(self):
    self.table = self.param("embedding", self.init, (self.vocab_size, self.features))
    self.drop = nn.Dropout(self.dropout)

  def __call__(self, ids, train: bool = False):
    x = jnp.take(self.table, ids, axis=0)
    return self.drop(x, deterministic=not train or self.dropout == 0.0)
