r"""`s2s-bench`: training and decoding throughput on the configured data; prints figures, asserts
nothing.

  s2s-bench --config=configs/lstm_attn.py:data=multi30k,peers=true \
      [--steps=200] [--workdir=runs/lstm_attn_data-multi30k [--skip_train]] [--json=bench.json]
      [--profile=DIR [--profile_steps=20]]

Training: a fresh model; the step is compiled ahead of time for every bucket shape (compile time is
measured by JAX's own compile events and reported apart), then `--steps` timed updates from the
first batch of the first epoch (so the decoding model has seen exactly `--steps` updates). Reported:
non-pad target tokens/s (incl. </s>), milliseconds per update split into the wait for the input
pipeline and the rest (dispatch and device compute), the precision (`model.dtype`), the CPU and
its widest vector/matrix extension, and peak memory. Decoding: the test set (config.data.text.test) with beam
`decode.beam_size` and greedy, a first pass that compiles and a timed second pass; with
--workdir a trained model is used (an untrained model's outputs run to the length limit).
--profile: then `--profile_steps` more updates of the most frequent batch shape under
jax.profiler (the trace goes to DIR, for TensorBoard or Perfetto), and the time by piece of the
model, forward and backward (s2s_jax/step_profile.py), as a table, also written to DIR/pieces.md.
"""

import collections
import json
import os
import resource
import sys
import time

from s2s_jax import startup

startup.before_imports()  # before anything imports JAX

from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from s2s_jax.bin import options, train  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
  config_flags.DEFINE_config_file("config", "configs/lstm_attn.py:data=multi30k,peers=true",
                                  "Config file[:variant].", lock_config=True)
  flags.DEFINE_integer("steps", 200, "Timed training updates after warm-up.")
  flags.DEFINE_string("scratch_dir", "/tmp/s2s_bench", "Scratch folder for the data.")
  options.define_workdir(help_text="A trained model to decode with (default: the benchmark's "
                         "freshly trained one).")
  flags.DEFINE_bool("skip_decode", False, "Only measure training.")
  flags.DEFINE_bool("skip_train", False, "Only measure decoding (needs --workdir).")
  flags.DEFINE_string("json", None, "Also write the figures to this file.")
  flags.DEFINE_string("profile", None, "Trace folder: also profile updates by piece of the model.")
  flags.DEFINE_integer("profile_steps", 20, "Updates traced with --profile.")


class CompileTimer:
  """Sums XLA compile durations reported by JAX's monitoring events."""

  def __init__(self):
    import jax
    self.seconds = 0.0
    jax.monitoring.register_event_duration_secs_listener(self._on_event)

  def _on_event(self, event, duration, **kwargs):
    del kwargs
    if event == "/jax/core/compile/backend_compile_duration":
      self.seconds += duration


def bench_training(cfg, workdir, steps, compile_timer, profile_dir=None, profile_steps=20):
  import jax
  import numpy as np
  from s2s_jax import sharding, trainer
  from s2s_jax.data import vocab as vocab_lib

  start = time.time()
  s = trainer.build(cfg, workdir)
  state = trainer.init_state(s, cfg.seed)
  setup_seconds = time.time() - start
  rng = jax.random.PRNGKey(0)
  # Compile the step for every bucket shape ahead of time, so that the timed updates start at the
  # first batch and compile time is measured on its own.
  compile_before, warm_start, compiled = compile_timer.seconds, time.time(), {}
  for src_len, trg_len in s.batches.shapes:
    rows = s.rows[s.buckets.index((src_len, trg_len))]
    example = {k: jax.ShapeDtypeStruct((rows, n), np.int32, sharding=sharding.batch_sharding(s.mesh))
               for k, n in (("src", src_len), ("trg_in", trg_len), ("trg_out", trg_len))}
    compiled[(src_len, trg_len)] = s.train_step.lower(state, example, rng).compile()
  warm_seconds, compile_seconds = time.time() - warm_start, compile_timer.seconds - compile_before
  batches = s.batches.epoch(0)

  tokens, waited, outs, shapes, examples = 0, 0.0, [], collections.Counter(), {}
  start = time.time()
  for _ in range(steps):
    t0 = time.time()
    try:
      batch = next(batches)
    except StopIteration:
      batches = s.batches.epoch(1)
      batch = next(batches)
    device_batch = sharding.put_batch(batch, s.mesh)
    waited += time.time() - t0
    tokens += int((batch["trg_out"] != vocab_lib.PAD_ID).sum())
    shape = batch["src"].shape[1], batch["trg_in"].shape[1]
    state, out = compiled[shape](state, device_batch, rng)
    outs.append(out)
    shapes[shape] += 1
    examples.setdefault(shape, device_batch)
  jax.block_until_ready(state)
  seconds = time.time() - start
  outs = jax.device_get(outs)
  nll = sum(float(o["nll"]) for o in outs)
  n_params = sum(x.size for x in jax.tree_util.tree_leaves(state.params))
  result = {
      "parameters": int(n_params), "devices": s.mesh.size, "platform": jax.devices()[0].platform,
      "source_vocab": len(s.corpus.src_vocab), "target_vocab": len(s.corpus.trg_vocab),
      "buckets_compiled": len(compiled), "setup_s": round(setup_seconds, 1),
      "train_compile_wall_s": round(warm_seconds, 1), "train_compile_s": round(compile_seconds, 1),
      "timed_updates": steps, "precision": cfg.model.dtype,
      "train_tokens_per_s": round(tokens / seconds, 1),
      "ms_per_update": round(1000 * seconds / steps, 1),
      "ms_per_update_input_wait": round(1000 * waited / steps, 1),
      "ms_per_update_compute": round(1000 * (seconds - waited) / steps, 1),
      "target_tokens_per_update": round(tokens / steps, 1),
      "input_pipeline_share": round(waited / seconds, 4),
      "train_perplexity_timed": round(float(np.exp(nll / tokens)), 2),
  }
  # the loss curve, for comparing precisions at equal updates (JSON only)
  result["train_nll_per_update"] = [round(float(o["nll"] / o["tokens"]), 4) for o in outs]
  if profile_dir:
    shape = shapes.most_common(1)[0][0]
    result["profile"] = profile_pieces(compiled[shape], state, examples[shape], rng, shape,
                                       profile_dir, profile_steps)
  return s, state, result


def profile_pieces(step, state, batch, rng, shape, folder, steps) -> str:
  """The step's time by piece of the model (step_profile.py) on one batch, as markdown; the
  updates go to a copy of the state (the step donates its input)."""
  import jax
  import jax.numpy as jnp
  from s2s_jax import step_profile
  holder = [jax.tree_util.tree_map(jnp.copy, state)]

  def run():
    holder[0], out = step(holder[0], batch, rng)
    jax.block_until_ready(out)
  table, wall = step_profile.profile(step, run, steps, folder)
  text = (f"Time by piece of an update: batch shape (source, target) {shape}, {steps} updates "
          f"traced (trace: {folder}).\n\n" + step_profile.markdown(table, steps, wall))
  with open(os.path.join(folder, "pieces.md"), "w", encoding="utf-8") as f:
    f.write(text)
  return text


def bench_decoding(cfg, setup, params, model_dir, compile_timer):
  from s2s_jax import metrics
  from s2s_jax.data import sources, text
  from s2s_jax.inference import Decoder, Translator

  if model_dir:
    translator = Translator.load(model_dir, cfg.decode)
  else:
    translator = Translator(Decoder(setup.model_config, params, cfg.decode), setup.corpus.src_vocab,
                            setup.corpus.trg_vocab)
  src_path, ref_path = sources.text_files(cfg.data, "test")
  sentences = text.read_token_lines(src_path)
  refs = [" ".join(t) for t in text.read_token_lines(ref_path)]
  result = {"decode_sentences": len(sentences), "decode_model": model_dir or "benchmark model"}
  for name, beam in (("beam%d" % cfg.decode.beam_size, cfg.decode.beam_size), ("greedy", 1)):
    compile_before, start = compile_timer.seconds, time.time()
    translator.translate(sentences, beam)
    first = time.time() - start
    start = time.time()
    outputs = translator.translate(sentences, beam)
    warm = time.time() - start
    hyps = [" ".join(o.tokens) for o in outputs]
    result.update({
        f"decode_{name}_sentences_per_s": round(len(sentences) / warm, 1),
        f"decode_{name}_first_pass_s": round(first, 1),
        f"decode_{name}_compile_s": round(compile_timer.seconds - compile_before, 1),
        f"decode_{name}_bleu": round(metrics.bleu(hyps, refs), 2)})
  return result


def peak_memory_gib():
  import jax
  stats = jax.devices()[0].memory_stats() or {}
  if "peak_bytes_in_use" in stats:  # accelerators
    return {"peak_device_memory_gib": round(stats["peak_bytes_in_use"] / 2**30, 2)}
  return {"peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def main(argv):
  del argv
  startup.keep_freed_memory()  # JAX has not started a thread yet
  startup.program(compile_cache=False)  # compile time is one of the figures
  from s2s_jax import config as config_lib
  cfg = config_lib.from_configdict(FLAGS.config)
  timer = CompileTimer()
  if FLAGS.skip_train and not FLAGS.workdir:
    raise app.UsageError("--skip_train needs --workdir=MODEL, a model to decode with")
  setup = params = None
  from s2s_jax import manifest
  result = {"cpu": manifest.cpu()}
  if not FLAGS.skip_train:
    setup, state, training = bench_training(cfg, FLAGS.scratch_dir, FLAGS.steps, timer,
                                            FLAGS.profile, FLAGS.profile_steps)
    result.update(training)
    params = state.params
  if not FLAGS.skip_decode:
    result.update(bench_decoding(cfg, setup, params, FLAGS.workdir, timer))
  result.update(peak_memory_gib())
  printed = {k: v for k, v in result.items() if k not in ("profile", "train_nll_per_update")}
  width = max(map(len, printed))
  for key, value in printed.items():
    print(f"{key:<{width}}  {value}")
  if "profile" in result:
    print("\n" + result["profile"])
  if FLAGS.json:
    with open(FLAGS.json, "w") as f:
      json.dump(result, f, indent=2)
  sys.stdout.flush()


def console():
  """The `s2s-bench` command."""
  train.config_package_on_path(sys.argv)
  options.run_program(sys.modules[__name__], define_flags, main)


if __name__ == "__main__":
  console()
