"""Batched beam search that knows nothing about the model (spec §5.10, Sockeye 1.x scoring).

Scores are accumulated negative log-probabilities. A hypothesis that emits </s> is finished: its
score is divided once by the length penalty lp(L) = ((beta + L) / (beta + 1)) ** alpha (L counts the
generated tokens incl. </s>) and from then on it is only extended by <pad> at no cost. A sentence's
hypotheses are forced to </s> at its own maximum length. Beam size 1 is greedy decoding.

When to stop: Sockeye 1.x runs until every hypothesis in the beam is finished (`stop_early=False`),
so low-ranked hypotheses that never emit </s> run to the length limit, typically twice the real
length. By default a sentence is done as soon as its best hypothesis is finished, as OpenNMT-py
does, with live hypotheses ranked by their length-normalised score too; its remaining hypotheses
are dropped. The batch stops when every sentence is done.
"""

import flax
import jax
import jax.numpy as jnp

from s2s_jax.data.vocab import BOS_ID, EOS_ID, PAD_ID

INF = 1e9
# Compaction stops at this many hypotheses (rows x beam): below it, the output-layer product
# costs about the same for fewer rows on CPU (5.2 ms at 16 rows, 5.0 at 8, 9.4 at 32, 11.9 at 64
# for 512 x 18.7k on 2 AVX2 cores: experiments/2026-11-22_decode_speed).
MIN_HYPOTHESES = 16


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


def _first_max(logits):
  """(max (N, 1), index of its first occurrence (N, 1)) over the last axis: jnp.argmax, as two
  plain float max-reductions. XLA:CPU runs argmax's (value, index) reduction unvectorised: 2.5 ms
  against 0.65 ms at (64, 18726), 16% of greedy decoding (experiments/2026-12-01_train_speed).
  Indices are exact in float32 below 2^24; a row with NaN (no position equals its max) gives 0."""
  top = logits.max(axis=-1, keepdims=True)
  position = jnp.arange(logits.shape[-1], dtype=jnp.float32)
  first = jnp.where(logits == top, -position, -jnp.inf).max(axis=-1, keepdims=True)
  return top, jnp.where(first > -jnp.inf, -first, 0.0).astype(jnp.int32)


def _logsumexp(logits, row_max):
  """jax.nn.logsumexp over the last axis, given each row's max, which saves it a max pass over the
  logits. A row of -inf gives -inf."""
  shift = jnp.where(jnp.isfinite(row_max), row_max, 0.0)
  return shift + jnp.log(jnp.exp(logits - shift[:, None]).sum(axis=-1))


def _select(logits, scores, finished, at_limit, beam: int):
  """The `beam` best continuations of each sentence: (origin beam, token, -score), each (B, K).

  Exact top-k over all K x V candidates in two small stages: a hypothesis's candidates differ only by
  their logits, so the sentence's best K lie among each hypothesis's top K logits (ties resolve as a
  flat top-k over origin * V + token would). This never materialises the (B, K * V) candidate array:
  per step one log-sum-exp and one top-k pass over the logits (71 vs 146 ms with the output-layer
  GEMM at 64 x 5 x 18.7k on 2 AVX2 cores). A finished hypothesis may only continue with <pad> at no
  cost, one at its length limit only with </s>.
  """
  batch, vocab = finished.shape[0], logits.shape[-1]
  if beam == 1:  # greedy: a max pass is cheaper than XLA's TopK
    top, top_ids = _first_max(logits)
    lse = _logsumexp(logits, top[:, 0])
  else:  # (the top-k's first value as the max would make XLA:CPU lower TopK to a full sort: 20x slower)
    top, top_ids = jax.lax.top_k(logits, min(beam, vocab))
    lse = jax.nn.logsumexp(logits, axis=-1)
  k = top_ids.shape[-1]
  nll = (lse[:, None] - top).reshape(batch, beam, k)
  top_ids = top_ids.reshape(batch, beam, k)
  # Forced continuations take the first slot and rule out the others.
  eos_nll = (lse - logits[:, EOS_ID]).reshape(batch, beam)
  forced = finished | at_limit[:, None]
  forced_id = jnp.where(finished, PAD_ID, EOS_ID)[..., None]
  forced_nll = jnp.where(finished, 0.0, eos_nll)[..., None]
  first = jnp.arange(k) == 0
  top_ids = jnp.where(forced[..., None], forced_id, top_ids)
  nll = jnp.where(forced[..., None], jnp.where(first, forced_nll, INF), nll)
  candidates = (scores[..., None] + nll).reshape(batch, beam * k)
  neg_best, flat = jax.lax.top_k(-candidates, beam)
  token = jnp.take_along_axis(top_ids.reshape(batch, beam * k), flat, axis=1)
  return flat // k, token, neg_best


def _take_hypotheses(tree, sentences, beam: int):
  """Gathers the hypotheses (leading axis B*K) of the given sentences."""
  rows = (sentences[:, None] * beam + jnp.arange(beam)).reshape(-1)
  return jax.tree_util.tree_map(lambda x: x[rows], tree)


def beam_search(step_fn, carry, consts, max_lengths, *, beam: int, max_len: int, source_len: int,
                alpha: float = 1.0, beta: float = 0.0, with_attention: bool = False,
                stop_early: bool = True):
  """Decodes a batch.

  step_fn(prev_ids (B*K,), carry, consts) -> (logits (B*K, V), carry, attention (B*K, S)); carry and
  consts already have a leading B*K axis. max_lengths (B,): each sentence's output limit
  (<= max_len); 0 marks an empty row (batch padding), done from the start, so that the first
  compaction drops it before any step.
  Returns (tokens (B, K, L), scores (B, K), lengths (B, K), attention (B, K, L, S)), beams sorted
  best first. Without `with_attention` the attention array is all zeros (and costs nothing).

  Sentences that are done leave the batch: once at most half of the rows are still decoding, those
  are gathered into a batch of half the size, down to the fewest rows that hold MIN_HYPOTHESES
  hypotheses (below that, the output-layer product stops getting cheaper).
  Each size is one more while loop in the same program; the outputs do not depend on it.
  """
  min_rows = -(-MIN_HYPOTHESES // beam)
  att_shape = (max_len, source_len) if with_attention else (1, 1)
  batch = max_lengths.shape[0]
  state = BeamState(
      step=jnp.zeros((), jnp.int32),
      tokens=jnp.full((batch, beam, max_len), PAD_ID, jnp.int32),
      scores=jnp.zeros((batch, beam), jnp.float32).at[:, 1:].set(INF),  # start from one live beam
      finished=jnp.broadcast_to((max_lengths <= 0)[:, None], (batch, beam)),
      lengths=jnp.zeros((batch, beam), jnp.int32),
      attention=jnp.zeros((batch, beam) + att_shape, jnp.float32),
      carry=carry)

  def done(s):  # with stop_early, a sentence's hypotheses are all marked finished at once
    return s.finished.all(axis=1)

  def body(s, max_lengths, consts):
    rows = s.scores.shape[0]
    prev = jnp.where(s.step == 0, BOS_ID,
                     jax.lax.dynamic_index_in_dim(s.tokens, s.step - 1, axis=2, keepdims=False))
    logits, carry, att = step_fn(prev.reshape(-1), s.carry, consts)
    origin, token, neg_best = _select(logits.astype(jnp.float32), s.scores, s.finished,
                                      s.step + 1 >= max_lengths, beam)

    def pick(x):  # reorders (B, K, ...) along the beams
      return jnp.take_along_axis(x, origin.reshape(origin.shape + (1,) * (x.ndim - 2)), axis=1)
    was_finished = pick(s.finished)
    finished = was_finished | (token == EOS_ID)
    lengths = pick(s.lengths) + (~was_finished).astype(jnp.int32)
    scores = -neg_best
    newly = finished & ~was_finished
    scores = jnp.where(newly, scores / length_penalty(lengths, alpha, beta), scores)
    if stop_early:  # a sentence whose best hypothesis is finished keeps only its finished ones
      # "Best" by length-normalised score for live hypotheses too (as OpenNMT-py's scorer ranks
      # them): the beam's order compares a finished hypothesis's normalised score with a live
      # one's raw sum, which with alpha > 0 ends sentences too soon (shorter output, lower BLEU
      # as the beam widens: experiments/2026-12-01_britz_multi30k).
      ranked = jnp.where(finished, scores, scores / length_penalty(jnp.maximum(lengths, 1),
                                                                   alpha, beta))
      best = jnp.argmin(ranked, axis=1)[:, None]
      first_done = jnp.take_along_axis(finished, best, axis=1)
      scores = jnp.where(first_done & ~finished, INF, scores)
      finished = finished | first_done
    if beam > 1:  # (greedy: every origin is 0, and the gather would copy the whole carry)
      flat_rows = (jnp.arange(rows)[:, None] * beam + origin).reshape(-1)
      carry = jax.tree_util.tree_map(lambda x: x[flat_rows], carry)
    tokens = pick(s.tokens).at[:, :, s.step].set(token)
    attention = s.attention
    if with_attention:
      att = att.reshape(rows, beam, -1)[jnp.arange(rows)[:, None], origin]
      attention = pick(s.attention).at[:, :, s.step].set(att)
    return BeamState(s.step + 1, tokens, scores, finished, lengths, attention, carry)

  results = (state.tokens, state.scores, state.lengths, state.attention, state.finished)
  where = jnp.arange(batch)  # each current row's place in the results
  rows = batch
  while True:
    smaller = rows // 2 if rows // 2 >= min_rows else 0
    state = jax.lax.while_loop(
        lambda s, smaller=smaller: (s.step < max_len) & ((~done(s)).sum() > smaller),
        lambda s, m=max_lengths, c=consts: body(s, m, c), state)
    results = tuple(r.at[where].set(x) for r, x in zip(results, (
        state.tokens, state.scores, state.lengths, state.attention, state.finished)))
    if not smaller:
      break
    keep = jnp.argsort(done(state), stable=True)[:smaller]  # sentences still decoding come first
    state = state.replace(
        tokens=state.tokens[keep], scores=state.scores[keep], finished=state.finished[keep],
        lengths=state.lengths[keep], attention=state.attention[keep],
        carry=_take_hypotheses(state.carry, keep, beam))
    consts = _take_hypotheses(consts, keep, beam)
    max_lengths, where, rows = max_lengths[keep], where[keep], smaller

  tokens, scores, lengths, attention, finished = results
  scores = jnp.where(finished, scores, scores / length_penalty(lengths, alpha, beta))
  order = jnp.argsort(scores, axis=1)

  def sort(x):
    return jnp.take_along_axis(x, order.reshape(order.shape + (1,) * (x.ndim - 2)), axis=1)
  return sort(tokens), sort(scores), sort(lengths), sort(attention)
