"""Batched beam search that knows nothing about the model (spec §5.10, Sockeye 1.x scoring).

Scores are accumulated negative log-probabilities. A hypothesis that emits </s> is finished: its
score is divided once by the length penalty lp(L) = ((beta + L) / (beta + 1)) ** alpha (L counts the
generated tokens incl. </s>) and from then on it is only extended by <pad> at no cost. A sentence's
hypotheses are forced to </s> at its own maximum length. Beam size 1 is greedy decoding.

When to stop: Sockeye 1.x runs until every hypothesis in the beam is finished (`stop_early=False`),
so low-ranked hypotheses that never emit </s> run to the length limit, typically twice the real
length. By default a sentence is done as soon as its best-ranked hypothesis is finished, as
OpenNMT-py does; its remaining hypotheses are dropped. The batch stops when every sentence is done.
"""

import flax
import jax
import jax.numpy as jnp

from s2s_jax.data.vocab import BOS_ID, EOS_ID, PAD_ID

INF = 1e9


@flax.struct.dataclass
class BeamState:
  step: jax.Array       # ()            tokens generated so far
  tokens: jax.Array     # (B, K, L)     generated ids, <pad> after </s>
  scores: jax.Array     # (B, K)        accumulated NLL; length-normalised once finished
  finished: jax.Array   # (B, K)        bool
  lengths: jax.Array    # (B, K)        generated tokens incl. </s>
  attention: jax.Array  # (B, K, L, S)  attention weights of each generated token
  carry: object         # model state, leading axis B*K, reordered with the beams


def length_penalty(lengths, alpha: float, beta: float):
  return ((beta + lengths.astype(jnp.float32)) / (beta + 1.0)) ** alpha


def beam_search(step_fn, carry, consts, max_lengths, *, beam: int, max_len: int, source_len: int,
                alpha: float = 1.0, beta: float = 0.0, with_attention: bool = False,
                stop_early: bool = True):
  """Decodes a batch.

  step_fn(prev_ids (B*K,), carry, consts) -> (logits (B*K, V), carry, attention (B*K, S)); carry and
  consts already have a leading B*K axis. max_lengths (B,): each sentence's output limit (<= max_len).
  Returns (tokens (B, K, L), scores (B, K), lengths (B, K), attention (B, K, L, S)), beams sorted
  best first. Without `with_attention` the attention array is all zeros (and costs nothing).
  """
  att_shape = (max_len, source_len) if with_attention else (1, 1)
  batch = max_lengths.shape[0]
  state = BeamState(
      step=jnp.zeros((), jnp.int32),
      tokens=jnp.full((batch, beam, max_len), PAD_ID, jnp.int32),
      scores=jnp.zeros((batch, beam), jnp.float32).at[:, 1:].set(INF),  # start from one live beam
      finished=jnp.zeros((batch, beam), bool),
      lengths=jnp.zeros((batch, beam), jnp.int32),
      attention=jnp.zeros((batch, beam) + att_shape, jnp.float32),
      carry=carry)

  def cond(s):
    done = s.finished[:, 0] if stop_early else s.finished.all(axis=1)
    return (s.step < max_len) & ~done.all()

  def body(s):
    prev = jnp.where(s.step == 0, BOS_ID,
                     jax.lax.dynamic_index_in_dim(s.tokens, s.step - 1, axis=2, keepdims=False))
    logits, carry, att = step_fn(prev.reshape(-1), s.carry, consts)
    vocab = logits.shape[-1]
    nll = -jax.nn.log_softmax(logits.astype(jnp.float32)).reshape(batch, beam, vocab)
    at_limit = (s.step + 1 >= max_lengths)[:, None, None]
    ids = jnp.arange(vocab)
    nll = jnp.where(at_limit & (ids != EOS_ID), INF, nll)
    nll = jnp.where(s.finished[:, :, None], jnp.where(ids == PAD_ID, 0.0, INF), nll)
    candidates = (s.scores[:, :, None] + nll).reshape(batch, beam * vocab)
    if beam == 1:  # greedy: one argmax pass (runs 2-3 of the benchmark: 125-133 sentences/s)
      flat = jnp.argmin(candidates, axis=1)[:, None]
      neg_best = -jnp.take_along_axis(candidates, flat, axis=1)
    else:  # XLA's TopK: ~20 ms at (64, 5 x 18.7k)
      neg_best, flat = jax.lax.top_k(-candidates, beam)
    origin, token = flat // vocab, flat % vocab

    def pick(x):  # reorders (B, K, ...) along the beams
      return jnp.take_along_axis(x, origin.reshape(origin.shape + (1,) * (x.ndim - 2)), axis=1)
    was_finished = pick(s.finished)
    finished = was_finished | (token == EOS_ID)
    lengths = pick(s.lengths) + (~was_finished).astype(jnp.int32)
    scores = -neg_best
    newly = finished & ~was_finished
    scores = jnp.where(newly, scores / length_penalty(lengths, alpha, beta), scores)
    if stop_early:  # a sentence whose best hypothesis is finished keeps only its finished ones
      done = finished[:, :1]
      scores = jnp.where(done & ~finished, INF, scores)
      finished = finished | done
    rows = (jnp.arange(batch)[:, None] * beam + origin).reshape(-1)
    carry = jax.tree_util.tree_map(lambda x: x[rows], carry)
    tokens = pick(s.tokens).at[:, :, s.step].set(token)
    attention = s.attention
    if with_attention:
      att = att.reshape(batch, beam, -1)[jnp.arange(batch)[:, None], origin]
      attention = pick(s.attention).at[:, :, s.step].set(att)
    return BeamState(s.step + 1, tokens, scores, finished, lengths, attention, carry)

  s = jax.lax.while_loop(cond, body, state)
  scores = jnp.where(s.finished, s.scores, s.scores / length_penalty(s.lengths, alpha, beta))
  order = jnp.argsort(scores, axis=1)

  def sort(x):
    return jnp.take_along_axis(x, order.reshape(order.shape + (1,) * (x.ndim - 2)), axis=1)
  return sort(s.tokens), sort(scores), sort(s.lengths), sort(s.attention)
