r"""`s2s-train` (and `python launch.py`): train a model, or resume it.

  s2s-train --config=configs/lstm_attn.py                       # the synthetic task
  s2s-train --config=configs/lstm_attn.py:data=multi30k         # Multi30k en-de
  s2s-train --config=configs/lstm_attn.py --config.model.rnn_num_hidden=256
  s2s-train --config=configs/tiny.py --workdir=runs/t --allow_changes=train.max_num_batches
  s2s-train --sagemaker [--sagemaker_root=/opt/ml]                # a SageMaker training job

The workdir defaults to runs/<config name>[_<variant>]; a run restarted with the same command
resumes from its latest checkpoint, and one restarted with another config is refused unless
--allow_changes names every changed key (the workdir's manifest.json records it). Errors in the
data or the config end with one line, `error: ...`.
"""

import os
import re
import sys
import time

from s2s_jax import startup

startup.before_imports()  # before anything imports JAX

from absl import flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from s2s_jax.bin import options  # noqa: E402

FLAGS = flags.FLAGS


def define_flags(default_config=None):
  """The training flags (launch.py passes its default config). A bad --config or override is
  reported here in one line: ml_collections loads the default config while defining the flag."""
  try:
    config_flags.DEFINE_config_file("config", default_config, "Config file[:variant], e.g. "
                                    "configs/lstm_attn.py:data=multi30k.", lock_config=True)
  except Exception as e:  # noqa: BLE001
    exit_with(e)
  options.define_workdir(help_text="Run folder (default: runs/<config name>[_<variant>]); for "
                         "translate and serve, the model folder.")
  flags.DEFINE_list("allow_changes", [], "Config keys a resumed run may change, comma-separated "
                    "(e.g. train.max_num_batches); recorded in the manifest.")
  flags.DEFINE_bool("sagemaker", False, "Train as SageMaker's built-in seq2seq: hyperparameters."
                    "json and channels under --sagemaker_root, model exported to <root>/model, "
                    "failures to <root>/output/failure.")
  flags.DEFINE_string("sagemaker_root", None,
                      "--sagemaker: the container root (default $S2S_SAGEMAKER_ROOT or /opt/ml).")


def exit_with(error):
  """Prints an exception from flag or config parsing as one line and exits with status 2."""
  lines = [line.strip() for line in str(error).replace("\\n", "\n").splitlines() if line.strip()]
  if any(line.startswith("Traceback") for line in lines):
    lines = lines[-1:]  # an error inside a config file: its last line says what is wrong
  message = " ".join(" ".join(lines).replace("\\'", "'").split())
  unknown = re.match(r"^'+([\w.]+)'+ (Did you mean .*?)'*$", message)
  if unknown:  # ml_collections' KeyError for an override of a key that does not exist
    message = f"--config override: unknown key '{unknown[1]}'. {unknown[2]}"
  print(f"error: invalid command line: {message}", file=sys.stderr)
  sys.exit(2)


def config_package_on_path(argv):
  """Config files import their siblings as a package (`from configs import common`): put the
  folder that holds the --config file's package on sys.path, as `python launch.py` does."""
  paths = [a.split("=", 1)[1] for a in argv if a.startswith("--config=")]
  for path in paths or ["configs/lstm_attn.py"]:
    folder = os.path.dirname(os.path.abspath(path.split(":", 1)[0]))
    if os.path.exists(os.path.join(folder, "__init__.py")):
      sys.path.insert(0, os.path.dirname(folder))


def parse_flags(argv):
  """absl's parsing, with a bad flag or --config override reported in one line, not a traceback."""
  try:
    return FLAGS(argv)
  except Exception as e:  # ml_collections raises AttributeError/KeyError/TypeError/ValueError
    exit_with(e)


def default_workdir(config_arg: str) -> str:
  path, _, variant = config_arg.partition(":")
  name = os.path.splitext(os.path.basename(path))[0]
  suffix = "_" + variant.replace("=", "-").replace(",", "_") if variant else ""
  return os.path.join("runs", name + suffix)


def workdir() -> str:
  return FLAGS.workdir or default_workdir(FLAGS["config"].config_filename)


def experiment_config():
  """The --config as an ExperimentConfig; ml_collections reports a file it could not load here."""
  from s2s_jax import config as config_lib
  from s2s_jax.errors import ConfigError
  if FLAGS.config is None:  # s2s-train has no default config
    raise ConfigError("--config=FILE[:variant] is needed, e.g. --config=configs/lstm_attn.py")
  try:
    values = FLAGS.config.to_dict()
  except Exception as e:  # noqa: BLE001 - OSError or whatever the config file raised
    exit_with(e)
  return config_lib.from_configdict(values)


def command_line() -> list:
  return [os.path.basename(sys.executable), *sys.argv]


def main(argv):
  del argv
  options.setup_logging(stream=sys.stdout)  # training's log is its result: stdout
  startup.keep_freed_memory()  # JAX has not started a thread yet
  startup.program()
  if FLAGS.sagemaker:
    from s2s_jax.sagemaker import training
    sys.exit(training.main(FLAGS.sagemaker_root, command_line()))
  from s2s_jax.errors import UserError  # imported late: absl parses the flags first
  try:
    run()
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


def run():
  from s2s_jax import trainer
  cfg, folder = experiment_config(), workdir()
  start = time.time()
  summary = trainer.train(cfg, folder, command=command_line(), allow_changes=FLAGS.allow_changes)
  best = "none yet" if summary["best"] is None else f"{summary['best']:.4g}"
  print(f"\ntrained {summary['steps']} updates in {time.time() - start:.0f} s "
        f"({summary['stop_reason']}); best validation {cfg.train.optimized_metric} {best} at "
        f"update {summary['best_step']}; model in {folder}")
  if summary["interrupted"]:
    print("rerun the same command to resume")
    return
  print(f"\nexample translations (best checkpoint, beam {cfg.decode.beam_size}):")
  trainer.print_examples(folder, cfg, summary["corpus"], cfg.train.num_examples)
  print(f"translate a file: s2s-translate --workdir={folder} --input=FILE  (or python launch.py "
        f"--mode=translate --workdir={folder} --input=FILE)")


def console():
  """The `s2s-train` command."""
  config_package_on_path(sys.argv)
  options.run_program(sys.modules[__name__], define_flags, main, parse_flags)


if __name__ == "__main__":
  console()
