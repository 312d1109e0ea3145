"""The contract every attention flavour follows, and what they share.

An attention is a Flax module built with the sizes below. Its work is split so that decoding stays
cheap and the decoder's scan and beam search can share it:
- `prepare(memory, mask)`: per-sentence arrays (batch-leading; beam search repeats and reorders
  them), computed once per sentence;
- `weights()`: matrices the per-step part multiplies by, used only through `taps.dot`;
- `params()`: other parameters the per-step part reads;
- `init_state(prepared)`: the recurrent attention state (coverage), () when there is none;
- `attend(taps, consts, query, state)`, a static pure function, returns (context (batch,
  memory_size), probabilities (batch, source), new state); consts = prepared | params.
Padded source positions get probability exactly 0.
"""

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from s2s_jax.models import precision

NEG_INF = -1e9


def padding_bias(mask, dtype):
  return jnp.where(mask, 0.0, NEG_INF).astype(dtype)


def attend_scores(scores, consts):
  """Masked softmax over the source and the weighted sum of the memory."""
  probs = jax.nn.softmax(scores + consts["bias"], axis=-1)
  return jnp.einsum("bs,bsd->bd", probs, consts["memory"]), probs


def project(memory, w, dtype):
  """(batch, source, d) @ (d, k) as one 2-D product with `dtype` operands (precision.dot)."""
  batch, source, _ = memory.shape
  return precision.dot(memory.reshape(batch * source, -1), w, dtype).reshape(batch, source, -1)


class Attention(nn.Module):
  memory_size: int
  query_size: int
  num_hidden: int
  kernel_init: Callable
  vector_init: Callable
  max_source_len: int = 0
  dtype: str = "float32"  # of the products with weight matrices (precision.py)

  def prepare(self, memory, mask):
    return {"memory": memory, "bias": padding_bias(mask, memory.dtype)}

  def weights(self):
    return {}

  def params(self):
    return {}

  def init_state(self, prepared):
    del prepared
    return ()
