"""Validation at a checkpoint: perplexity and accuracy over every pair, BLEU on a fixed sample."""

import random

import jax

from s2s_jax import metrics, sharding
from s2s_jax.data import pipeline
from s2s_jax.data import vocab as vocab_lib


def perplexity_accuracy(eval_fn, params, pairs, buckets, rows, mesh) -> dict:
  totals = {"nll": 0.0, "tokens": 0.0, "correct": 0.0}
  outs = [eval_fn(params, sharding.put_batch(batch, mesh))
          for batch in pipeline.eval_batches(pairs, buckets, rows)]
  for out in jax.device_get(outs):
    for k in totals:
      totals[k] += float(out[k])
  return {"perplexity": metrics.perplexity(totals["nll"], totals["tokens"]),
          "accuracy": totals["correct"] / max(totals["tokens"], 1.0)}


def bleu_sample_indices(num_pairs: int, sample_size: int, seed: int = 42):
  """Sockeye's fixed sample: random.Random(42).sample; sample_size <= 0 (or too large) means all
  (0 reaches here only with optimized_metric='bleu', which Sockeye then scores on all pairs)."""
  if sample_size <= 0 or sample_size >= num_pairs:
    return list(range(num_pairs))
  return sorted(random.Random(seed).sample(range(num_pairs), sample_size))


def bleu(decoder, params, pairs, indices, trg_words, beam=None, detokenize=None):
  """({"bleu": 0-100, ...}, hypotheses, references) of the sample, decoded with `params`.

  Tokenized BLEU (sacrebleu -tok none) of the tokens; with detokenize (a subword model's pieces ->
  raw text), hypotheses and references are raw text and the scores sacreBLEU's detokenized BLEU
  (13a, cased) and chrF ("chrf")."""
  decoded = decoder.decode_ids([pairs.source(i).tolist() for i in indices], beam, params=params)
  join = detokenize or " ".join
  hyps = [join([trg_words[t] for t in d.ids]) for d in decoded]
  refs = [join(vocab_lib.tokens_from_ids(pairs.target(i), trg_words)) for i in indices]
  if detokenize is not None:
    return metrics.detokenized_scores(hyps, refs), hyps, refs
  return {"bleu": metrics.bleu(hyps, refs)}, hyps, refs
