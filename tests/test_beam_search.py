"""Beam search against brute force on a toy model, length limits, greedy, and batch independence."""

import itertools
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from s2s_jax import beam_search as beam_search_lib
from s2s_jax.beam_search import beam_search, length_penalty
from s2s_jax.config import DecodeConfig, ModelConfig
from s2s_jax.data.vocab import BOS_ID, EOS_ID, PAD_ID
from s2s_jax.errors import UserError
from s2s_jax.inference import Decoder
from s2s_jax.models.seq2seq import Seq2Seq

VOCAB = 6  # ids 0-3 special, 4 and 5 real
TABLE = jax.random.normal(jax.random.PRNGKey(3), (VOCAB, VOCAB)) * 2.0


def toy_step(prev, carry, consts):
  """A bigram model: the next-token distribution depends only on the previous token."""
  del consts
  logits = TABLE[prev]
  return logits.at[:, 0].set(-1e9).at[:, 1].set(-1e9).at[:, 2].set(-1e9), carry + 1, jnp.zeros(
      (prev.shape[0], 1))


def brute_force(max_len, alpha=1.0, beta=0.0):
  logp = np.asarray(jax.nn.log_softmax(toy_step(jnp.arange(VOCAB), 0, None)[0]))
  best = (np.inf, None)
  for n in range(1, max_len + 1):
    for body in itertools.product([4, 5, EOS_ID], repeat=n - 1):
      if EOS_ID in body:
        continue
      seq = list(body) + [EOS_ID]
      prev, nll = 2, 0.0
      for t in seq:
        nll -= logp[prev, t]
        prev = t
      best = min(best, (nll / float(length_penalty(jnp.array(n), alpha, beta)), seq))
  return best


def test_length_penalty_is_sockeyes_formula():
  assert float(length_penalty(jnp.array(5), 1.0, 0.0)) == pytest.approx(5.0)
  assert float(length_penalty(jnp.array(5), 0.6, 2.0)) == pytest.approx((7.0 / 3.0) ** 0.6)
  assert float(length_penalty(jnp.array(5), 0.0, 2.0)) == pytest.approx(1.0)


@pytest.mark.parametrize("max_len,alpha,beta", [(1, 1.0, 0.0), (3, 1.0, 0.0), (5, 1.0, 0.0),
                                                (5, 0.6, 2.0), (5, 0.0, 0.0), (5, 2.0, 5.0)])
def test_exhaustive_wide_beam_finds_the_best_normalised_hypothesis(max_len, alpha, beta):
  tokens, scores, lengths, _ = beam_search(
      toy_step, jnp.zeros((2 * 64,)), None, jnp.array([max_len, max_len]), beam=64,
      max_len=max_len, source_len=1, alpha=alpha, beta=beta, stop_early=False)
  score, seq = brute_force(max_len, alpha, beta)
  n = int(lengths[0, 0])
  assert tokens[0, 0, :n].tolist() == seq
  assert float(scores[0, 0]) == pytest.approx(score, rel=1e-5)
  assert bool((scores[:, :-1] <= scores[:, 1:]).all())  # beams come sorted, best first


@pytest.mark.parametrize("max_len", [3, 5])
def test_early_stop_returns_a_finished_hypothesis_no_better_than_the_optimum(max_len):
  tokens, scores, lengths, _ = beam_search(
      toy_step, jnp.zeros((2 * 4,)), None, jnp.array([max_len, max_len]), beam=4,
      max_len=max_len, source_len=1)
  n = int(lengths[0, 0])
  assert int(tokens[0, 0, n - 1]) == EOS_ID
  assert float(scores[0, 0]) >= brute_force(max_len)[0] - 1e-5


@pytest.mark.parametrize("alpha", [0.6, 1.0])
def test_early_stopping_ranks_live_hypotheses_by_their_normalised_score(alpha, monkeypatch):
  """With a beam holding every hypothesis, stopping at the first finished best still finds the
  optimum: a live hypothesis competes with its length-normalised score, not its raw sum (which
  made finished ones look better and ended sentences early: 4 of these 12 missed at alpha 1)."""
  for seed in range(12):
    monkeypatch.setattr(sys.modules[__name__], "TABLE",
                        jax.random.normal(jax.random.PRNGKey(seed), (VOCAB, VOCAB)) * 2.0)
    _, scores, _, _ = beam_search(toy_step, jnp.zeros((64,)), None, jnp.array([6]), beam=64,
                                  max_len=6, source_len=1, alpha=alpha, stop_early=True)
    assert float(scores[0, 0]) == pytest.approx(brute_force(6, alpha)[0], rel=1e-5), seed


def test_every_output_ends_at_its_own_length_limit():
  tokens, _, lengths, _ = beam_search(toy_step, jnp.zeros((3 * 2,)), None, jnp.array([1, 2, 4]),
                                      beam=2, max_len=4, source_len=1)
  assert (np.asarray(lengths[:, 0]) <= np.array([1, 2, 4])).all()
  for b in range(3):
    assert int(tokens[b, 0, int(lengths[b, 0]) - 1]) == EOS_ID


TRANSFORMER = dict(encoder_type="transformer", decoder_type="transformer", transformer_model_size=8,
                   transformer_attention_heads=2, transformer_feed_forward_num_hidden=16)


def _decoder(model=None, **decode):
  cfg = ModelConfig(vocab_size_source=20, vocab_size_target=20, num_embed_source=8,
                    num_embed_target=8, rnn_num_hidden=16, length_ratio_mean=1.5, **(model or {}))
  src = jnp.ones((2, 5), jnp.int32) * 5
  params = jax.jit(Seq2Seq(cfg).init)(jax.random.PRNGKey(0), src, src)["params"]
  return Decoder(cfg, params, DecodeConfig(**{"beam_size": 3, "batch_size": 4, **decode}))


@pytest.mark.parametrize("min_hypotheses", [1, 1000])  # rows leave the batch as they finish, or not
@pytest.mark.parametrize("family", ["rnn", "transformer"])  # a carry of states, or of key/value caches
def test_batched_and_one_by_one_decoding_agree(min_hypotheses, family, monkeypatch):
  monkeypatch.setattr(beam_search_lib, "MIN_HYPOTHESES", min_hypotheses)
  decoder = _decoder(TRANSFORMER if family == "transformer" else None)
  rng = np.random.RandomState(1)
  sources = [rng.randint(4, 20, n).tolist() for n in (3, 9, 1, 5, 7, 2)]
  batched = decoder.decode_ids(sources, with_attention=True)
  for src, out in zip(sources, batched):
    alone = decoder.decode_ids([src], with_attention=True)[0]
    assert alone.ids == out.ids
    assert alone.score == pytest.approx(out.score, abs=1e-4)
    np.testing.assert_allclose(alone.attention, out.attention, atol=1e-5)


def test_attention_matrix_shape_and_rows():
  decoder = _decoder()
  out, = decoder.decode_ids([[5, 6, 7]], with_attention=True)
  assert out.attention.shape == (len(out.ids), 3)
  np.testing.assert_allclose(out.attention.sum(axis=1), 1.0, rtol=1e-4)


@pytest.mark.parametrize("source", [[5, 9, 7, 11], [9, 4], [6, 6, 13, 4, 8, 19, 5]])
def test_greedy_is_beam_one_is_step_by_step_argmax(source):
  decoder = _decoder()
  model, variables = decoder.model, {"params": decoder.params}
  enc = model.apply(variables, jnp.array([source]), method=Seq2Seq.encode)
  max_len = decoder.max_output_length(len(source))
  carry, memory = model.apply(variables, enc, max_len, method=Seq2Seq.init_state)
  prev, expected = jnp.array([2]), []
  for _ in range(max_len - 1):  # the limit counts </s>
    logits, carry, _ = model.apply(variables, carry, memory, prev, method=Seq2Seq.decode_step)
    prev = jnp.argmax(logits, axis=-1)
    if int(prev[0]) == EOS_ID:
      break
    expected.append(int(prev[0]))
  # An untrained model may pick <pad>; it is fed back like any token but left out of the output.
  expected = [t for t in expected if t != PAD_ID]
  assert decoder.decode_ids([source], beam=1)[0].ids == expected


def _forced_score(decoder, source, ids):
  """Length-normalised NLL of `ids` + </s> under the model, by teacher forcing."""
  model, variables = decoder.model, {"params": decoder.params}
  enc = model.apply(variables, jnp.array([source]), method=Seq2Seq.encode)
  carry, memory = model.apply(variables, enc, len(ids) + 1, method=Seq2Seq.init_state)
  prev, nll = jnp.array([BOS_ID]), 0.0
  for token in ids + [EOS_ID]:
    logits, carry, _ = model.apply(variables, carry, memory, prev, method=Seq2Seq.decode_step)
    nll -= float(jax.nn.log_softmax(logits[0])[token])
    prev = jnp.array([token])
  d = decoder.decode_config
  return nll / float(length_penalty(jnp.array(len(ids) + 1), d.length_penalty_alpha,
                                    d.length_penalty_beta))


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.6, 2.0)])
def test_nbest_lists_distinct_hypotheses_best_first_with_their_scores(alpha, beta):
  decoder = _decoder(length_penalty_alpha=alpha, length_penalty_beta=beta)
  # No <pad> from this untrained model: the outputs leave it out, so it could not be re-scored.
  output = decoder.params["output"]
  no_pad = {**output, "b_out": output["b_out"].at[PAD_ID].set(-1e4)}
  decoder = Decoder(decoder.config, {**decoder.params, "output": no_pad}, decoder.decode_config)
  sources = [[5, 9, 7, 11], [6, 4]]
  for source, out in zip(sources, decoder.decode_ids(sources, nbest=3)):
    assert len(out.nbest) == 3
    assert (out.ids, out.score) == out.nbest[0]
    scores = [score for _, score in out.nbest]
    assert scores == sorted(scores)
    assert len({tuple(ids) for ids, _ in out.nbest}) == 3
    for ids, score in out.nbest:  # each score is the model's own: no hypothesis is mixed up
      assert score == pytest.approx(_forced_score(decoder, source, ids), abs=1e-4)


def test_nbest_larger_than_the_beam_is_refused():
  with pytest.raises(UserError, match="nbest is 4; it must be between 1 and the beam size \\(3\\)"):
    _decoder().decode_ids([[5, 6]], nbest=4)


def test_evaluation_decodes_with_the_params_it_is_given_and_leaves_the_decoders_own():
  from s2s_jax import evaluate
  from s2s_jax.data.recordio import TokenPairs
  decoder = _decoder()
  own = decoder.params
  sources = [[5, 9, 7, 11], [6, 4, 8]]
  before = [d.ids for d in decoder.decode_ids(sources)]
  other = jax.tree_util.tree_map(lambda x: x * -3.0, own)
  words = {i: f"w{i}" for i in range(20)}
  _, hyps, _ = evaluate.bleu(decoder, other, TokenPairs.from_lists(sources, sources), [0, 1], words)
  expected = [" ".join(words[t] for t in d.ids)
              for d in Decoder(decoder.config, other, decoder.decode_config).decode_ids(sources)]
  assert hyps == expected and hyps != [" ".join(words[t] for t in ids) for ids in before]
  assert decoder.params is own and [d.ids for d in decoder.decode_ids(sources)] == before


def test_greedy_first_max_is_argmax_with_ties_and_infinities():
  logits = jax.random.normal(jax.random.PRNGKey(0), (6, 300))
  logits = logits.at[1, 7].set(9.0).at[1, 250].set(9.0)  # a tie: the first index wins
  logits = logits.at[2].set(-jnp.inf).at[2, 299].set(0.0)  # masked-out vocabulary
  logits = logits.at[3].set(-jnp.inf)  # nothing allowed: argmax's 0
  top, ids = jax.jit(beam_search_lib._first_max)(logits)
  np.testing.assert_array_equal(ids[:, 0], jnp.argmax(logits, axis=-1))
  np.testing.assert_array_equal(top[:, 0], logits.max(axis=-1))
  assert ids[1, 0] == 7 and ids[2, 0] == 299
  _, nan_ids = beam_search_lib._first_max(logits.at[4, 3].set(jnp.nan))
  assert 0 <= int(nan_ids[4, 0]) < 300  # a NaN row still gives an index inside the vocabulary


def test_logsumexp_given_the_row_max_is_logsumexp():
  logits = jax.random.normal(jax.random.PRNGKey(3), (4, 300)).at[1, :200].set(-jnp.inf)
  got = beam_search_lib._logsumexp(logits, logits.max(axis=-1))
  np.testing.assert_allclose(got, jax.nn.logsumexp(logits, axis=-1), rtol=1e-6)
  row = jnp.full((1, 256), -jnp.inf)
  assert beam_search_lib._logsumexp(row, row.max(axis=-1))[0] == -jnp.inf


def test_beam_step_selection_compiles_to_xla_topk_not_a_full_sort():
  # The benchmark's shapes: 64 sentences x beam 5, 18,726 target words. Using the top-k's first
  # value as the log-sum-exp's max made XLA:CPU sort every row of logits instead: 20x slower.
  batch, beam, vocab = 64, 5, 18726
  select = jax.jit(lambda *a: beam_search_lib._select(*a, beam=beam))
  text = select.lower(jnp.zeros((batch * beam, vocab)), jnp.zeros((batch, beam)),
                      jnp.zeros((batch, beam), bool), jnp.zeros((batch,), bool)).compile().as_text()
  assert 'custom_call_target="TopK"' in text
  assert not [line for line in text.splitlines() if " sort(" in line and f",{vocab}]" in line]
