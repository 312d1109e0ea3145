r"""`s2s-sweep`: run a sweep's trials, resumably, and keep its results table up to date.

  s2s-sweep --config=configs/gru_attn.py:data=multi30k --sweep=experiments/X/sweep.py \
      --workdir=runs/X [--workers=2] [--max_trials=8] [--storage=postgresql://...] [--dry_run]
  s2s-sweep --config=configs/sagemaker.py --config.data.rec.train=... --sweep=tuning_job.json ...
  s2s-sweep --model=runs/X/trials/seed=1 --sweep=decoding.py --workdir=runs/X_decoding

The sweep file's get_sweep() returns a grid or a search (s2s_jax/hyper.py); a .json file is a
SageMaker tuning job's ParameterRanges. Each trial trains in workdir/trials/<overrides>/, in its
own process. Restarting the same command skips finished trials and resumes interrupted ones;
Ctrl-C stops every trial with a checkpoint. results.md/.csv, curves.png and TensorBoard HParams
are rewritten as trials end (`s2s-report --workdir=...` rewrites them from the folders).
"""

import logging
import os
import sys

from s2s_jax import startup

startup.before_imports()

from absl import flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from s2s_jax.bin import options, train  # noqa: E402

FLAGS = flags.FLAGS
log = logging.getLogger("s2s_jax")


def define_flags():
  try:
    config_flags.DEFINE_config_file("config", None, "The base config file[:variant] every trial "
                                    "starts from, e.g. configs/gru_attn.py:data=multi30k; "
                                    "--config.key=value overrides apply to every trial.",
                                    lock_config=True)
  except Exception as e:  # noqa: BLE001
    train.exit_with(e)
  flags.DEFINE_string("sweep", None, "Sweep file (.py with get_sweep()) or a SageMaker tuning "
                      "job's ParameterRanges (.json).")
  options.define_workdir(help_text="The sweep folder: trials/, study.journal, results.")
  flags.DEFINE_integer("workers", 1, "Trials run side by side: one GPU each, or an equal share "
                       "of the CPU cores.")
  flags.DEFINE_integer("max_trials", None, "Start no more trials than this in the study (a grid: "
                       "its first points; a search: instead of its num_trials).")
  flags.DEFINE_string("storage", None, "Optuna storage shared by several runners: an RDB URL "
                      "(postgresql://user:pass@host/db, mysql://...) or a journal file path. "
                      "Default: <workdir>/study.journal.")
  flags.DEFINE_string("study_name", None, "Study name in --storage (default: the workdir's name).")
  flags.DEFINE_string("test", "auto", "Translate each finished trial's best checkpoint and score "
                      "it: SOURCE,REFERENCE files; 'auto': the config's text test set when it "
                      "has one; 'none': no test.")
  flags.DEFINE_string("model", None, "A decoding sweep: instead of --config, the trained model "
                      "(training workdir or export) whose test-set translation each trial makes "
                      "with its own decode.* keys (beam size, length penalty); objective: test BLEU.")
  flags.DEFINE_bool("retest", False, "Run no trial: translate the test set again with every "
                    "finished trial's best checkpoint and rewrite its test BLEU and the tables "
                    "(after changing --test or the decoder).")
  flags.DEFINE_bool("dry_run", False, "Check the sweep and list its trials (and commands); "
                    "run nothing.")


def test_files(cfg):
  """The --test files: (source, reference) or None."""
  from s2s_jax.errors import ConfigError
  if FLAGS.test == "none":
    return None
  if FLAGS.test != "auto":
    parts = FLAGS.test.split(",")
    if len(parts) != 2:
      raise ConfigError(f"--test={FLAGS.test}: give SOURCE,REFERENCE (two files), auto or none")
    for path in parts:
      if not os.path.exists(path):
        raise ConfigError(f"--test: {path} does not exist")
    return tuple(parts)
  text = cfg.data.text
  if cfg.data.source != "text" or not text.test:
    return None
  files = tuple(os.path.join(text.dir, f"{text.test}.{lang}")
                for lang in (text.src_lang, text.trg_lang))
  return files if all(os.path.exists(p) for p in files) else None


def run():
  from s2s_jax import config as config_lib
  from s2s_jax.errors import ConfigError
  from s2s_jax.sweeps import definition, runner, study as study_lib
  if (FLAGS.config is None) == (FLAGS.model is None) or not FLAGS.sweep or not FLAGS.workdir:
    raise ConfigError("--sweep=FILE, --workdir=FOLDER and one of --config=FILE[:variant] (a "
                      "training sweep) or --model=DIR (a decoding sweep) are needed")
  if FLAGS.model:
    from s2s_jax import manifest
    import ml_collections
    saved = (manifest.read(FLAGS.model) or {}).get("config")
    cfg = config_lib.from_configdict(ml_collections.ConfigDict(saved)) if saved else None
    sweep = definition.load_decoding(FLAGS.model, FLAGS.sweep, cfg and test_files(cfg))
  else:
    overrides = [a for a in sys.argv[1:] if a.startswith("--config.")]
    try:
      base = FLAGS.config.copy_and_resolve_references()
    except Exception as e:  # noqa: BLE001 - what the config file raised
      train.exit_with(e)
    sweep = definition.load(base, FLAGS["config"].config_filename, overrides, FLAGS.sweep)
    sweep.test = test_files(config_lib.from_configdict(base))
  if FLAGS.dry_run:
    return dry_run(sweep)
  runner.plan_slots(FLAGS.workers)  # a bad --workers before the study is touched
  storage = study_lib.open_storage(FLAGS.storage, FLAGS.workdir)
  name = FLAGS.study_name or os.path.basename(os.path.abspath(FLAGS.workdir))
  study = study_lib.Study(storage, name, sweep)
  r = runner.Runner(sweep, study, FLAGS.workdir, FLAGS.workers, FLAGS.max_trials)
  log.info("sweep %s: %s, objective %s (%s); %d worker(s) on %s; test set: %s", name,
           f"{len(sweep.points)} grid trials" if sweep.is_grid else
           f"{sweep.search.sampler} search of {FLAGS.max_trials or sweep.search.num_trials} trials",
           sweep.objective, sweep.direction, len(r.slots), ", ".join(s.name for s in r.slots),
           ", ".join(sweep.test) if sweep.test else "none")
  if FLAGS.retest:
    if not sweep.test:
      raise ConfigError("--retest needs a test set: --test=SOURCE,REFERENCE (or a text config)")
    print(f"re-tested {r.retest()} finished trials. Results: "
          f"{os.path.join(FLAGS.workdir, 'results.md')}")
    return
  summary = r.run()
  counts = ", ".join(f"{n} {k}" for k, n in sorted(summary["counts"].items()))
  print(f"\nsweep {name}: {counts}. Results: {os.path.join(FLAGS.workdir, 'results.md')}")
  if summary["stopped"]:
    print("stopped; rerun the same command to resume")
    sys.exit(130)


def dry_run(sweep):
  from s2s_jax.sweeps import definition
  if not sweep.is_grid:
    s = sweep.search
    print(f"{s.sampler} search, {FLAGS.max_trials or s.num_trials} trials, pruner {s.pruner}, "
          f"objective {sweep.objective} ({sweep.direction}):")
    for key, dist in s.space.items():
      print(f"  {key}: {dist}")
    for key, value in s.fixed.items():
      print(f"  {key}: {value!r} (every trial)")
    return
  print(f"{len(sweep.points)} trials, objective {sweep.objective} ({sweep.direction}):")
  for point in sweep.points:
    flags_ = " ".join(f"--config.{k}={v!r}" if isinstance(v, float) else f"--config.{k}={v}"
                      for k, v in point.items())
    print(f"  {definition.trial_name(point) or 'base'}: {flags_}")


def main(argv):
  del argv
  options.setup_logging(stream=sys.stdout)
  from s2s_jax.errors import UserError
  try:
    run()
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


def console():
  """The `s2s-sweep` command."""
  train.config_package_on_path(sys.argv)
  options.run_program(sys.modules[__name__], define_flags, main, train.parse_flags)


if __name__ == "__main__":
  console()
