"""Metric output: log lines a SageMaker metric regex can read (`validation:bleu=0.3412`), a JSON-lines
file and TensorBoard scalars, all from one `write` call; and BLEU."""

import json
import logging
import math
import os

import sacrebleu

log = logging.getLogger("s2s_jax")


def _bleu_metric():
  # tok none: the text is already tokenized; force: it may look tokenized to sacrebleu (it is).
  return sacrebleu.metrics.BLEU(tokenize="none", force=True)


def bleu(hypotheses, references) -> float:
  """Corpus BLEU (0-100) on already tokenized text, as `sacrebleu -tok none`."""
  if not hypotheses:
    return 0.0
  return _bleu_metric().corpus_score(hypotheses, [references]).score


def bleu_signature() -> str:
  """sacreBLEU's signature of `bleu` (nrefs:1|case:mixed|eff:no|tok:none|smooth:exp|version:...)."""
  metric = _bleu_metric()
  metric.corpus_score(["x"], [["x"]])  # sacrebleu learns the number of references from a call
  return str(metric.get_signature())


def detokenized_signature() -> str:
  """sacreBLEU's signature of detokenized_scores' BLEU (nrefs:1|case:mixed|eff:no|tok:13a|...)."""
  metric = sacrebleu.metrics.BLEU(tokenize="13a")
  metric.corpus_score(["x"], [["x"]])
  return str(metric.get_signature())


def detokenized_scores(hypotheses, references) -> dict:
  """BLEU and chrF as papers report them: sacreBLEU on raw (detokenized) text, cased, BLEU with
  its 13a tokenization. {"bleu", "chrf", "bleu_signature", "chrf_signature"}."""
  out = {}
  for name, metric in (("bleu", sacrebleu.metrics.BLEU(tokenize="13a")),
                       ("chrf", sacrebleu.metrics.CHRF())):
    out[name] = metric.corpus_score(list(hypotheses), [list(references)]).score
    out[f"{name}_signature"] = str(metric.get_signature())
  return out


def perplexity(nll_sum, tokens) -> float:
  return math.exp(min(nll_sum / max(tokens, 1.0), 100.0))


class MetricWriter:
  """Writes metrics of one step to the log, `metrics.jsonl` and TensorBoard (workdir/tensorboard)."""

  def __init__(self, workdir: str, tensorboard: bool = True, after_step: int | None = None):
    """after_step: drop lines of later steps first (a resumed run writes them again)."""
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, "metrics.jsonl")
    if after_step is not None and os.path.exists(path):
      _keep_until(path, after_step)
    self._jsonl = open(path, "a", encoding="utf-8")
    self._tb = None
    if tensorboard:
      import tensorflow as tf  # already loaded by the input pipeline
      self._tf = tf
      self._tb = tf.summary.create_file_writer(os.path.join(workdir, "tensorboard"))

  def write(self, step: int, metrics: dict, echo: bool = True):
    """metrics: {"split:name": value}; e.g. {"validation:perplexity": 5.1}."""
    self._jsonl.write(json.dumps({"step": step, **metrics}) + "\n")
    self._jsonl.flush()
    if echo:
      log.info("step %d %s", step, " ".join(f"{k}={_fmt(v)}" for k, v in metrics.items()))
    if self._tb is not None:
      with self._tb.as_default(step=step):
        for key, value in metrics.items():
          self._tf.summary.scalar(key.replace(":", "/"), value)
      self._tb.flush()

  def close(self):
    self._jsonl.close()
    if self._tb is not None:
      self._tb.close()


def _keep_until(path, step):
  kept = []
  with open(path, encoding="utf-8") as f:
    for line in f:
      try:
        if json.loads(line)["step"] <= step:
          kept.append(line)
      except (ValueError, KeyError, TypeError):
        pass  # a line cut short by a crash
  with open(path + ".tmp", "w", encoding="utf-8") as f:
    f.writelines(kept)
  os.replace(path + ".tmp", path)


def _fmt(value):
  return f"{value:.4f}" if isinstance(value, float) else str(value)
