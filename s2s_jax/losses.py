"""Masked (label-smoothed) cross-entropy and accuracy, returned as sums with their token count.

Dividing once at log time keeps averages exact over uneven batches, devices and processes.
"""

import jax
import jax.numpy as jnp

from s2s_jax.data.vocab import PAD_ID


def cross_entropy(logits, labels, label_smoothing: float = 0.0):
  """Returns (loss sum, nll sum, token count) over non-pad labels; logits (..., V)."""
  logp = jax.nn.log_softmax(logits.reshape(-1, logits.shape[-1]).astype(jnp.float32))
  labels = labels.reshape(-1)
  mask = (labels != PAD_ID).astype(jnp.float32)
  nll = -jnp.take_along_axis(logp, labels[:, None], axis=-1)[:, 0]
  loss = nll
  if label_smoothing > 0:
    loss = (1.0 - label_smoothing) * nll - label_smoothing * logp.mean(axis=-1)
  return (loss * mask).sum(), (nll * mask).sum(), mask.sum()


def correct_count(logits, labels):
  """Number of non-pad labels that are the argmax."""
  hit = (jnp.argmax(logits, axis=-1) == labels) & (labels != PAD_ID)
  return hit.sum().astype(jnp.float32)
