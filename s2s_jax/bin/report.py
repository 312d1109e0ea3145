r"""`s2s-report`: re-create a sweep's tables and plots from its folder.

  s2s-report --workdir=runs/britz [--output=experiments/X] [--baseline=rnn_cell_type=gru]
      [--published=experiments/X/paper.csv] [--storage=postgresql://...]

Writes results.csv, results.md (with the seeds table: mean ± std, the paired bootstrap against
the baseline, and a paper's figures beside them from --published), curves.png, and for searches
importance.png and parallel.png, then prints results.md. It reads the study (the folder's
study.journal unless --storage names another) and the trials' folders; the sweep file is not
needed (the folder's sweep.json records it).
"""

import os
import sys

from s2s_jax import startup

startup.before_imports()

from absl import flags  # noqa: E402

from s2s_jax.bin import options  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
  options.define_workdir(help_text="The sweep folder (as given to s2s-sweep).")
  flags.DEFINE_string("storage", None, "The study's storage, if not the folder's study.journal.")
  flags.DEFINE_string("study_name", None, "Study name (default: the folder's name).")
  flags.DEFINE_string("baseline", None, "The configuration the seeds table compares against "
                      "(its name in that table); default: the one without overrides.")
  flags.DEFINE_string("published", None, "CSV of published figures for the seeds table: a "
                      "`configuration` column naming its rows (baseline, rnn_cell_type=gru, ...), "
                      "then any columns to set beside ours.")
  flags.DEFINE_bool("plots", True, "Also draw the PNGs.")
  flags.DEFINE_string("output", None, "Write the tables and PNGs here (e.g. the experiment's "
                      "folder) instead of into the sweep folder.")


def report():
  import optuna
  from s2s_jax.errors import ConfigError
  from s2s_jax.sweeps import definition, results, study as study_lib
  if not FLAGS.workdir:
    raise ConfigError("--workdir=SWEEP_FOLDER is needed")
  sweep = definition.Sweep.saved(FLAGS.workdir)
  storage = study_lib.open_storage(FLAGS.storage, FLAGS.workdir)
  name = FLAGS.study_name or os.path.basename(os.path.abspath(FLAGS.workdir))
  optuna.logging.set_verbosity(optuna.logging.WARNING)
  try:
    study = optuna.load_study(study_name=name, storage=storage)
  except KeyError:
    raise ConfigError(f"no study named {name} in {FLAGS.storage or FLAGS.workdir}; give "
                      "--study_name") from None
  print(results.write(FLAGS.workdir, sweep, study, plots=FLAGS.plots, baseline=FLAGS.baseline,
                      output=FLAGS.output, published=FLAGS.published))


def main(argv):
  del argv
  options.setup_logging()
  from s2s_jax.errors import UserError
  try:
    report()
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


def console():
  """The `s2s-report` command."""
  options.run_program(sys.modules[__name__], define_flags, main)


if __name__ == "__main__":
  console()
