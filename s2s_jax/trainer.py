"""The training loop: build the pieces, jit the steps once, iterate, evaluate, checkpoint, stop.

Every `checkpoint_frequency_num_batches` updates: validation perplexity/accuracy (and BLEU on a
fixed sample), the plateau learning-rate scheduler, a checkpoint (kept as best when the optimized
metric improved strictly), and early stopping after `checkpoint_threshold` checkpoints without
improvement (not before `min_num_epochs`). A restarted run resumes from the latest checkpoint.
"""

import dataclasses
import functools
import logging
import sys
import time

import jax
import jax.numpy as jnp
import tqdm

from s2s_jax import checkpoint, evaluate, metrics, optim, sharding, steps
from s2s_jax.config import ExperimentConfig, ModelConfig
from s2s_jax.data import pipeline, sources
from s2s_jax.data import vocab as vocab_lib
from s2s_jax.errors import UserError
from s2s_jax.inference import Decoder
from s2s_jax.models.seq2seq import Seq2Seq

log = logging.getLogger("s2s_jax")
MAX_NONFINITE_IN_A_ROW = 10


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
  rows = pipeline.batch_sizes(buckets, cfg.data, mesh.size)
  batches = pipeline.TrainBatches(corpus.train, buckets, [r // jax.process_count() for r in rows],
                                  cfg.seed, jax.process_index(), jax.process_count())
  model = Seq2Seq(model_config)
  repl, data = sharding.replicated(mesh), sharding.batch_sharding(mesh)
  train_step = jax.jit(functools.partial(steps.train_step, label_smoothing=cfg.train.label_smoothing),
                       in_shardings=(repl, data, repl), out_shardings=(repl, repl), donate_argnums=0)
  eval_step = jax.jit(functools.partial(steps.eval_step, apply_fn=model.apply),
                      in_shardings=(repl, data), out_shardings=repl)
  return Setup(model_config, corpus, mesh, buckets, rows, batches, model,
               optim.make_optimizer(cfg.train), train_step, eval_step)


def init_state(s: Setup, seed: int) -> steps.TrainState:
  example = pipeline.pad_batch([], [], *s.buckets[0], s.rows[0])
  init = jax.jit(lambda rng: steps.init_state(s.model, s.tx, rng, example),
                 out_shardings=sharding.replicated(s.mesh))
  return init(jax.random.PRNGKey(seed))


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

  def stop_reason(self, t) -> str | None:
    """Why training is over, from the saved state alone (so a finished run stays finished)."""
    if self.not_improved >= t.checkpoint_threshold and self.epoch >= t.min_num_epochs:
      return f"no improvement in validation {t.optimized_metric} for {self.not_improved} checkpoints"
    if t.max_num_batches > 0 and self.step >= t.max_num_batches:
      return f"reached max_num_batches={t.max_num_batches}"
    if t.max_num_epochs > 0 and self.epoch >= t.max_num_epochs:
      return f"reached max_num_epochs={t.max_num_epochs}"
    return None


def train(cfg: ExperimentConfig, workdir: str, devices=None) -> dict:
  s = build(cfg, workdir, devices)
  t = cfg.train
  checkpoint.write_model_files(workdir, s.model_config, s.corpus.src_vocab, s.corpus.trg_vocab)
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
  n_params = sum(x.size for x in jax.tree_util.tree_leaves(state.params))
  shapes = s.batches.shapes  # the (source, target) shapes batches take: one compilation each
  log.info("model: %s parameters; %d train / %d validation pairs; %d device(s); %d batch shapes, "
           "%s to %s; %d batches per epoch", f"{n_params:,}", len(s.corpus.train),
           len(s.corpus.validation), s.mesh.size, len(shapes), shapes[0], shapes[-1],
           s.batches.batches_per_epoch)
  writer = metrics.MetricWriter(workdir)
  decoder = Decoder(s.model_config, state.params, cfg.decode)
  trg_words = vocab_lib.inverse(s.corpus.trg_vocab)
  bleu_indices = evaluate.bleu_sample_indices(len(s.corpus.validation), t.bleu_sample_size)
  rng = jax.random.PRNGKey(cfg.seed + 1)

  total = t.max_num_batches if t.max_num_batches > 0 else (
      t.max_num_epochs * s.batches.batches_per_epoch if t.max_num_epochs > 0 else None)
  bar = tqdm.tqdm(total=total, initial=progress.step, unit="batch", dynamic_ncols=True,
                  disable=not sys.stderr.isatty())
  window = []  # (device metrics, host token count) since the last log line
  window_start, stop_reason, nonfinite_run = time.time(), progress.stop_reason(t), 0

  last_saved_step = progress.step

  def checkpoint_now():
    nonlocal state, last_saved_step
    val = evaluate.perplexity_accuracy(s.eval_step, state.params, s.corpus.validation, s.buckets,
                                       s.rows, s.mesh)
    out = {"validation:perplexity": val["perplexity"], "validation:accuracy": val["accuracy"]}
    if t.optimized_metric == "bleu" or t.bleu_sample_size != 0:
      score, _, _ = evaluate.bleu(decoder, state.params, s.corpus.validation, bleu_indices, trg_words)
      out["validation:bleu"] = score / 100.0  # Sockeye and SageMaker report BLEU in [0, 1]
    value = out[f"validation:{t.optimized_metric}"]
    is_best = progress.improved(value, t.optimized_metric)
    if is_best:
      progress.best, progress.best_step, progress.not_improved, progress.lr_not_improved = (
          value, progress.step, 0, 0)
    else:
      progress.not_improved += 1
      progress.lr_not_improved += 1
      if (progress.lr_not_improved >= t.plateau_reduce_lr_threshold
          and t.plateau_reduce_lr_factor < 1.0):
        lr = optim.learning_rate(state.opt_state) * t.plateau_reduce_lr_factor
        state = state.replace(opt_state=optim.set_learning_rate(
            state.opt_state, sharding.put_replicated(jnp.asarray(lr, jnp.float32), s.mesh)))
        progress.lr_not_improved = 0
        log.info("learning rate reduced to %.3g", lr)
    out["learning_rate"] = optim.learning_rate(state.opt_state)
    writer.write(progress.step, out)
    ckpts.save(progress.step, state.params, state.opt_state,
               {"progress": dataclasses.asdict(progress), "metrics": out,
                "model_config": dataclasses.asdict(s.model_config)}, is_best)
    last_saved_step = progress.step

  try:
    while stop_reason is None:
      for batch in s.batches.epoch(progress.epoch, progress.batch_in_epoch):
        state, out = s.train_step(state, sharding.put_batch(batch, s.mesh), rng)
        window.append((out, int((batch["trg_out"] != vocab_lib.PAD_ID).sum())))
        progress.step += 1
        progress.batch_in_epoch += 1
        bar.update(1)
        if progress.step % t.log_every == 0 or progress.step % t.checkpoint_frequency_num_batches == 0:
          nonfinite_run = _log_window(window, writer, progress, window_start, total, bar, nonfinite_run)
          window, window_start = [], time.time()
        if progress.step % t.checkpoint_frequency_num_batches == 0:
          checkpoint_now()
        stop_reason = progress.stop_reason(t)
        if stop_reason:
          break
      else:
        progress.epoch += 1
        progress.batch_in_epoch = 0
        stop_reason = progress.stop_reason(t)
    if window:
      _log_window(window, writer, progress, window_start, total, bar, nonfinite_run)
    if progress.step != last_saved_step:
      checkpoint_now()  # the updates since the last checkpoint are not lost
  finally:
    bar.close()
    ckpts.close()
    writer.close()
  log.info("stopped: %s. Best validation %s %s at step %d", stop_reason, t.optimized_metric,
           "none" if progress.best is None else f"{progress.best:.4f}", progress.best_step)
  return {"stop_reason": stop_reason, "best": progress.best, "best_step": progress.best_step,
          "steps": progress.step, "corpus": s.corpus}


def _log_window(window, writer, progress, start, total, bar, nonfinite_run):
  """Writes train metrics of the steps since the last log line; returns the non-finite streak."""
  outs = jax.device_get([w[0] for w in window])
  for out in outs:
    nonfinite_run = 0 if out["finite"] else nonfinite_run + 1
    if nonfinite_run >= MAX_NONFINITE_IN_A_ROW:
      raise UserError(f"the loss was not finite for {nonfinite_run} updates in a row at step "
                      f"{progress.step}; lower train.learning_rate or enable clipping")
  finite = [o for o in outs if o["finite"]]
  nll = sum(float(o["nll"]) for o in finite)
  tokens = sum(float(o["tokens"]) for o in finite)
  elapsed = max(time.time() - start, 1e-9)
  speed = sum(w[1] for w in window) / elapsed
  line = {"train:perplexity": metrics.perplexity(nll, tokens), "train:tokens_per_sec": speed,
          "train:skipped_nonfinite": len(outs) - len(finite), "epoch": progress.epoch}
  eta = ""
  if total:
    eta = f" eta={_duration((total - progress.step) * elapsed / len(window))}"
  bar.set_postfix(ppl=f"{line['train:perplexity']:.2f}", tok_s=f"{speed:.0f}")
  writer.write(progress.step, line, echo=False)
  log.info("step %d%s epoch %d train:perplexity=%.3f tokens/s=%.0f%s", progress.step,
           f"/{total}" if total else "", progress.epoch, line["train:perplexity"], speed, eta)
  return nonfinite_run


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
