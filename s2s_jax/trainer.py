"""The training loop: build the pieces, jit the steps once, iterate, evaluate, checkpoint, stop.

Every `checkpoint_frequency_num_batches` updates: validation perplexity/accuracy (and BLEU on a
fixed sample), the plateau learning-rate scheduler, a checkpoint (kept as best when the optimized
metric improved strictly), and early stopping after `checkpoint_threshold` checkpoints without
improvement (not before `min_num_epochs`). A restarted run resumes from the latest checkpoint.
"""

import dataclasses
import functools
import logging
import os
import signal
import sys
import threading
import time

import jax
import jax.numpy as jnp
import tqdm

from s2s_jax import checkpoint, evaluate, manifest, metrics, optim, sharding, steps
from s2s_jax.config import ExperimentConfig, ModelConfig, TrainConfig
from s2s_jax.data import pipeline, sources, subwords
from s2s_jax.data import vocab as vocab_lib
from s2s_jax.errors import UserError
from s2s_jax.inference import Decoder
from s2s_jax.models.seq2seq import Seq2Seq

log = logging.getLogger("s2s_jax")


@dataclasses.dataclass
class Setup:
  """Everything a run needs, built from the config and the data (shared with the benchmark)."""
  model_config: ModelConfig
  corpus: sources.Corpus
  mesh: jax.sharding.Mesh
  buckets: list
  rows: list
  batches: pipeline.TrainBatches
  model: Seq2Seq
  tx: object
  train_step: object
  eval_step: object


def build(cfg: ExperimentConfig, workdir: str, devices=None) -> Setup:
  corpus = sources.load_corpus(cfg.data, workdir, cfg.seed)
  corpus.train, changed = pipeline.fit_lengths(corpus.train, cfg.data)
  if changed:
    log.warning("%d training pairs were longer than max_seq_len_source=%d / max_seq_len_target=%d "
                "and were %s", changed, cfg.data.max_seq_len_source, cfg.data.max_seq_len_target,
                "dropped" if cfg.data.length_policy == "drop" else "truncated")
  corpus.validation, _ = pipeline.fit_lengths(corpus.validation, cfg.data)
  stats = pipeline.LengthStats.of(corpus.train)
  model_config = cfg.model_config(
      vocab_size_source=len(corpus.src_vocab), vocab_size_target=len(corpus.trg_vocab),
      length_ratio_mean=stats.mean, length_ratio_std=stats.std,
      max_seq_len_source=cfg.data.max_seq_len_source, max_seq_len_target=cfg.data.max_seq_len_target)
  mesh = sharding.make_mesh(devices)
  buckets = pipeline.define_buckets(cfg.data, stats.mean)
  # Every device's rows split into train.micro_batches equal micro-batches.
  rows = pipeline.batch_sizes(buckets, cfg.data, mesh.size, cfg.train.micro_batches)
  batches = pipeline.TrainBatches(corpus.train, buckets, rows, cfg.seed, jax.process_index(),
                                  jax.process_count())
  model, tx, train_step, eval_step = _programs(model_config, cfg.train, mesh)
  return Setup(model_config, corpus, mesh, buckets, rows, batches, model, tx, train_step, eval_step)


@functools.lru_cache(maxsize=4)
def _programs(model_config: ModelConfig, train_cfg: TrainConfig, mesh: jax.sharding.Mesh):
  """(model, optimizer, jitted train step, jitted eval step). Cached: a process that trains the
  same model again (a resume in a notebook, the tests) reuses the traced and compiled steps; the
  steps see the model and optimizer as static parts of their arguments, so these must be the
  same objects for JAX's own cache to hit."""
  model = Seq2Seq(model_config)
  repl, data = sharding.replicated(mesh), sharding.batch_sharding(mesh)
  train_step = jax.jit(sharding.data_parallel(functools.partial(
      steps.train_step, label_smoothing=train_cfg.label_smoothing,
      accuracy=train_cfg.training_metric == "accuracy", axis_name=sharding.DATA,
      micro_batches=train_cfg.micro_batches), mesh, 3),
      in_shardings=(repl, data, repl), out_shardings=(repl, repl), donate_argnums=0)
  eval_step = jax.jit(sharding.data_parallel(functools.partial(
      steps.eval_step, apply_fn=model.apply, axis_name=sharding.DATA), mesh, 2),
      in_shardings=(repl, data), out_shardings=repl)
  return model, optim.make_optimizer(train_cfg), train_step, eval_step


def init_state(s: Setup, seed: int) -> steps.TrainState:
  example = pipeline.pad_batch([], [], *s.buckets[0], s.rows[0])
  return _init(s.model, s.tx, s.mesh)(jax.random.PRNGKey(seed), example)


@functools.lru_cache(maxsize=4)
def _init(model, tx, mesh):
  return jax.jit(functools.partial(steps.init_state, model, tx),
                 out_shardings=sharding.replicated(mesh))


@dataclasses.dataclass
class Progress:
  """Loop position and early-stopping state; saved in every checkpoint's meta item."""
  step: int = 0
  epoch: int = 0
  batch_in_epoch: int = 0
  best: float | None = None
  best_step: int = 0
  not_improved: int = 0
  lr_not_improved: int = 0

  def improved(self, value, metric):
    return self.best is None or (value < self.best if metric == "perplexity" else value > self.best)

  def record(self, value, t) -> tuple[bool, bool]:
    """Books a checkpoint's validation value: (is it the best so far, lower the learning rate now).

    As Sockeye: improvement is strict; the plateau scheduler counts its own checkpoints without
    improvement and lowers the rate after plateau_reduce_lr_threshold of them (factor >= 1: off).
    """
    if self.improved(value, t.optimized_metric):
      self.best, self.best_step, self.not_improved, self.lr_not_improved = value, self.step, 0, 0
      return True, False
    self.not_improved += 1
    self.lr_not_improved += 1
    if (t.lr_scheduler_type == "plateau_reduce" and t.plateau_reduce_lr_factor < 1.0
        and self.lr_not_improved >= t.plateau_reduce_lr_threshold):
      self.lr_not_improved = 0
      return False, True
    return False, False

  def stop_reason(self, t) -> str | None:
    """Why training is over, from the saved state alone (so a finished run stays finished)."""
    if self.not_improved >= t.checkpoint_threshold and self.epoch >= t.min_num_epochs:
      return f"no improvement in validation {t.optimized_metric} for {self.not_improved} checkpoints"
    if t.max_num_batches > 0 and self.step >= t.max_num_batches:
      return f"reached max_num_batches={t.max_num_batches}"
    if t.max_num_epochs > 0 and self.epoch >= t.max_num_epochs:
      return f"reached max_num_epochs={t.max_num_epochs}"
    return None


def train(cfg: ExperimentConfig, workdir: str, devices=None, command=None,
          allow_changes=()) -> dict:
  """Trains (or resumes) in workdir; returns a summary with the stop reason and the best step.

  SIGTERM (what SageMaker sends on stop) or Ctrl-C saves a checkpoint of the current step and
  returns; the same command resumes from it. One process trains a workdir at a time
  (manifest.exclusive). A resume with another config than the one in the
  workdir's manifest is refused unless every changed key is in `allow_changes` (manifest.py);
  command: the command line, recorded in the manifest.
  """
  with manifest.exclusive(workdir):
    manifest.start(workdir, cfg.to_dict(), checkpoint.has_checkpoint(workdir), command,
                   allow_changes, metrics.bleu_signature(), type(cfg)().to_dict())
    try:
      summary = _train(cfg, workdir, devices)
    except BaseException as e:
      manifest.finish(workdir, "interrupted" if isinstance(e, KeyboardInterrupt) else "failed",
                      error=f"{type(e).__name__}: {e}"[:500])
      raise
    manifest.finish(workdir, "interrupted" if summary["interrupted"] else "finished",
                    steps=summary["steps"], stop_reason=summary["stop_reason"],
                    best=summary["best"], best_step=summary["best_step"])
  return summary


def _train(cfg: ExperimentConfig, workdir: str, devices=None) -> dict:
  s = build(cfg, workdir, devices)
  t = cfg.train
  checkpoint.write_model_files(workdir, s.model_config, cfg.decode, s.corpus.src_vocab,
                               s.corpus.trg_vocab, s.corpus.vocab_dir or None)
  subword_models = subwords.load_models(workdir, s.corpus.src_vocab, s.corpus.trg_vocab)
  # Subwords: validation scores raw text as papers do (detokenized sacreBLEU and chrF).
  detokenize = subword_models[1].decode if subword_models else None
  if detokenize is not None:  # the models are inputs of the run: their checksums go on record
    manifest.record(workdir, bleu_signature=metrics.detokenized_signature(), subword_models={
        side: {"file": os.path.basename(m.path), "sha256": m.checksum}
        for side, m in zip(("source", "target"), subword_models)})
  elif t.optimized_metric == "chrf":
    raise UserError("config.train.optimized_metric='chrf' needs SentencePiece subwords "
                    "(config.data.subwords.model_type): chrF is scored on raw text")
  ckpts = checkpoint.Checkpoints(workdir, t.keep_last_checkpoints)
  state = init_state(s, cfg.seed)
  progress = Progress()
  restored = ckpts.restore_latest(state.params, state.opt_state)
  if restored:
    params, opt_state, meta = restored
    progress = Progress(**meta["progress"])
    state = state.replace(step=sharding.put_replicated(jnp.asarray(progress.step, jnp.int32), s.mesh),
                          params=params,
                          opt_state=opt_state)
    log.info("resumed from step %d (epoch %d, batch %d) in %s", progress.step, progress.epoch,
             progress.batch_in_epoch, workdir)
    if progress.batch_in_epoch and meta.get("batch_order") != pipeline.BATCH_ORDER:
      log.warning("step %d's checkpoint predates the batch order %s: the rest of epoch %d "
                  "follows the new order (some of its pairs seen twice, others not at all)",
                  progress.step, pipeline.BATCH_ORDER, progress.epoch)
  n_params = sum(x.size for x in jax.tree_util.tree_leaves(state.params))
  manifest.record(workdir, parameters=int(n_params))
  shapes = s.batches.shapes  # the (source, target) shapes batches take: one compilation each
  log.info("model: %s parameters; %d train / %d validation pairs; %d device(s); %d batch shapes, "
           "%s to %s; %d batches per epoch", f"{n_params:,}", len(s.corpus.train),
           len(s.corpus.validation), s.mesh.size, len(shapes), shapes[0], shapes[-1],
           s.batches.batches_per_epoch)
  # Lines written after the checkpoint we resume from are written again by this run.
  writer = metrics.MetricWriter(workdir, after_step=progress.step)
  decoder = Decoder(s.model_config, state.params, cfg.decode)
  trg_words = vocab_lib.inverse(s.corpus.trg_vocab)
  bleu_indices = evaluate.bleu_sample_indices(len(s.corpus.validation), t.bleu_sample_size)
  rng = jax.random.PRNGKey(cfg.seed + 1)

  total = t.max_num_batches if t.max_num_batches > 0 else (
      t.max_num_epochs * s.batches.batches_per_epoch if t.max_num_epochs > 0 else None)
  bar = tqdm.tqdm(total=total, initial=progress.step, unit="batch", dynamic_ncols=True,
                  disable=not sys.stderr.isatty())
  window = Window(time.time())
  stop_reason = progress.stop_reason(t)
  last_saved_step = progress.step

  def checkpoint_now():
    nonlocal state, last_saved_step
    val = evaluate.perplexity_accuracy(s.eval_step, state.params, s.corpus.validation, s.buckets,
                                       s.rows, s.mesh)
    out = {"validation:perplexity": val["perplexity"], "validation:accuracy": val["accuracy"]}
    if t.optimized_metric in ("bleu", "chrf") or t.bleu_sample_size != 0:
      scores, _, _ = evaluate.bleu(decoder, state.params, s.corpus.validation, bleu_indices,
                                   trg_words, detokenize=detokenize)
      for name in ("bleu", "chrf"):  # Sockeye and SageMaker report BLEU in [0, 1]
        if name in scores:
          out[f"validation:{name}"] = scores[name] / 100.0
    is_best, lower_lr = progress.record(out[f"validation:{t.optimized_metric}"], t)
    if lower_lr:
      lr = optim.base_learning_rate(state.opt_state) * t.plateau_reduce_lr_factor
      state = state.replace(opt_state=optim.set_learning_rate(
          state.opt_state, sharding.put_replicated(jnp.asarray(lr, jnp.float32), s.mesh)))
      log.info("learning rate reduced to %.3g", lr)
    out["learning_rate"] = optim.learning_rate(state.opt_state, t)
    writer.write(progress.step, out)
    ckpts.save(progress.step, state.params, state.opt_state, _meta(progress, out, s), is_best)
    last_saved_step = progress.step

  try:
    with StopSignals() as signals:
      while stop_reason is None:
        for batch in s.batches.epoch(progress.epoch, progress.batch_in_epoch):
          state, out = s.train_step(state, sharding.put_batch(batch, s.mesh), rng)
          window.add(out, int((batch["trg_out"] != vocab_lib.PAD_ID).sum()))
          progress.step += 1
          progress.batch_in_epoch += 1
          bar.update(1)
          if progress.step % t.log_every == 0 or progress.step % t.checkpoint_frequency_num_batches == 0:
            window = window.flush(writer, progress, total, bar, t)
          if progress.step % t.checkpoint_frequency_num_batches == 0:
            checkpoint_now()
          stop_reason = signals.received or progress.stop_reason(t)
          if stop_reason:
            break
        else:
          progress.epoch += 1
          progress.batch_in_epoch = 0
          stop_reason = signals.received or progress.stop_reason(t)
      window.flush(writer, progress, total, bar, t)
      if progress.step != last_saved_step:
        if signals.received:  # no evaluation: the process may have seconds left
          ckpts.save(progress.step, state.params, state.opt_state, _meta(progress, {}, s), False)
          log.info("%s: saved a checkpoint at step %d; rerun the same command to resume",
                   signals.received, progress.step)
        else:
          checkpoint_now()  # the updates since the last checkpoint are not lost
  finally:
    bar.close()
    ckpts.close()
    writer.close()
  log.info("stopped: %s. Best validation %s %s at step %d", stop_reason, t.optimized_metric,
           "none" if progress.best is None else f"{progress.best:.4f}", progress.best_step)
  return {"stop_reason": stop_reason, "best": progress.best, "best_step": progress.best_step,
          "steps": progress.step, "corpus": s.corpus, "interrupted": bool(signals.received)}


def _meta(progress, metrics_out, s: Setup):
  return {"progress": dataclasses.asdict(progress), "metrics": metrics_out,
          "model_config": dataclasses.asdict(s.model_config), "batch_order": pipeline.BATCH_ORDER}


class StopSignals:
  """While active, SIGTERM and SIGINT set `received` (a reason) instead of killing the process, so
  the loop can save a checkpoint first; a second one interrupts at once (Ctrl-C twice). Only the
  main thread can own signal handlers."""

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self):
    self.received = None
    self._previous = {}

  def _handle(self, signum, frame):
    del frame
    if self.received:
      raise KeyboardInterrupt(f"{self.received}, then {signal.Signals(signum).name}")
    self.received = f"received {signal.Signals(signum).name}"
    log.info("%s: stopping after this update to save a checkpoint (send it again to stop now)",
             self.received)

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in self.SIGNALS:
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


class Window:
  """Training metrics of the updates since the last log line; kept on the device until logged."""

  def __init__(self, start, nonfinite_run=0):
    self.start, self.nonfinite_run, self.outs, self.tokens = start, nonfinite_run, [], 0

  def add(self, out, tokens):
    self.outs.append(out)
    self.tokens += tokens

  def flush(self, writer, progress, total, bar, t) -> "Window":
    """Logs the window and returns a fresh one; raises after too many non-finite losses in a row."""
    if not self.outs:
      return self
    outs = jax.device_get(self.outs)
    run = self.nonfinite_run
    for out in outs:
      run = 0 if out["finite"] else run + 1
      if run >= t.max_nonfinite_in_a_row:
        raise UserError(f"the loss was not finite for {run} updates in a row at step "
                        f"{progress.step} (train.max_nonfinite_in_a_row={t.max_nonfinite_in_a_row});"
                        " no parameters were changed by those updates; lower train.learning_rate "
                        "or enable clipping, and rerun to resume from the last checkpoint")
    finite = [o for o in outs if o["finite"]]
    nll = sum(float(o["nll"]) for o in finite)
    tokens = sum(float(o["tokens"]) for o in finite)
    elapsed = max(time.time() - self.start, 1e-9)
    speed = self.tokens / elapsed
    line = {"train:perplexity": metrics.perplexity(nll, tokens)}
    if t.training_metric == "accuracy":
      line["train:accuracy"] = sum(float(o["correct"]) for o in finite) / max(tokens, 1.0)
    line.update({"train:tokens_per_sec": speed, "train:skipped_nonfinite": len(outs) - len(finite),
                 "epoch": progress.epoch})
    eta = f" eta={_duration((total - progress.step) * elapsed / len(outs))}" if total else ""
    shown = f"train:{t.training_metric}"
    bar.set_postfix({t.training_metric[:3]: f"{line[shown]:.3f}", "tok_s": f"{speed:.0f}"})
    writer.write(progress.step, line, echo=False)
    log.info("step %d%s epoch %d %s=%.4f tokens/s=%.0f%s", progress.step,
             f"/{total}" if total else "", progress.epoch, shown, line[shown], speed, eta)
    return Window(time.time(), run)


def _duration(seconds):
  seconds = int(seconds)
  return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else \
      f"{seconds // 60}m{seconds % 60:02d}s"


def print_examples(workdir, cfg: ExperimentConfig, corpus, count: int):
  """Translates the first `count` validation sources with the best checkpoint and prints them."""
  from s2s_jax.inference import Translator
  translator = Translator.load(workdir, cfg.decode)
  src_words, trg_words = vocab_lib.inverse(corpus.src_vocab), vocab_lib.inverse(corpus.trg_vocab)
  n = min(count, len(corpus.validation))
  sources = [vocab_lib.tokens_from_ids(corpus.validation.source(i), src_words) for i in range(n)]
  for i, out in enumerate(translator.translate(sources)):
    ref = vocab_lib.tokens_from_ids(corpus.validation.target(i), trg_words)
    print(f"  source:    {' '.join(sources[i])}\n  reference: {' '.join(ref)}\n"
          f"  output:    {' '.join(out.tokens)}\n")
