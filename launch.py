r"""Entry point: train a model or translate with one.

  python launch.py --config=configs/lstm_attn.py                        # train (synthetic task)
  python launch.py --config=configs/lstm_attn.py:data=multi30k          # train on Multi30k en-de
  python launch.py --config=configs/lstm_attn.py --config.model.rnn_num_hidden=256
  python launch.py --mode=translate --workdir=runs/lstm_attn \
      --input=test.en --output=hyp.de [--reference=test.de] [--beam_size=5]
  python launch.py --sagemaker [--sagemaker_root=/opt/ml]       # a SageMaker training job
  python launch.py --mode=serve --workdir=runs/lstm_attn [--port=8080]   # the endpoint

The workdir defaults to runs/<config name>[_<variant>]; a run restarted with the same command
resumes from its latest checkpoint. Errors in the data or the config end with one line, `error: ...`.
"""

import logging
import os
import re
import sys
import time

from absl import app, flags
from absl import logging as absl_logging
from ml_collections import config_flags

from s2s_jax import xla_setup

xla_setup.configure()  # before anything imports JAX

def _exit_with(error):
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


try:  # with the default --config, ml_collections applies the overrides here already
  _CONFIG = config_flags.DEFINE_config_file("config", "configs/lstm_attn.py",
                                            "Config file[:variant].", lock_config=True)
except Exception as e:  # noqa: BLE001
  _exit_with(e)
_MODE = flags.DEFINE_enum("mode", "train", ["train", "translate", "serve"], "What to do.")
_PORT = flags.DEFINE_integer("port", 8080, "serve: the endpoint's port (python -m s2s_jax.serve "
                             "has every serving option).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Run folder (default: runs/<config name>).")
_INPUT = flags.DEFINE_string("input", None, "translate: file of tokenized sentences (- for stdin).")
_OUTPUT = flags.DEFINE_string("output", "-", "translate: output file (- for stdout).")
_REFERENCE = flags.DEFINE_string("reference", None, "translate: reference file; prints BLEU.")
_BEAM = flags.DEFINE_integer("beam_size", None, "translate: beam size (1 = greedy); default from config.")
_SAGEMAKER = flags.DEFINE_bool(
    "sagemaker", False, "Train as SageMaker's built-in seq2seq: hyperparameters.json and channels "
    "under --sagemaker_root, model exported to <root>/model, failures to <root>/output/failure.")
_SAGEMAKER_ROOT = flags.DEFINE_string(
    "sagemaker_root", None, "--sagemaker: the container root (default $S2S_SAGEMAKER_ROOT or /opt/ml).")
_NBEST = flags.DEFINE_integer("nbest", 1, "translate: hypotheses per sentence; above 1 the output "
                              'is JSON Lines, {"translations": [...], "scores": [...]} best first.')
_CHECKPOINT = flags.DEFINE_string("checkpoint", "best",
                                  "translate: 'best', 'latest' or the step of a kept checkpoint.")


def default_workdir(config_arg: str) -> str:
  path, _, variant = config_arg.partition(":")
  name = os.path.splitext(os.path.basename(path))[0]
  suffix = "_" + variant.replace("=", "-").replace(",", "_") if variant else ""
  return os.path.join("runs", name + suffix)


def parse_flags(argv):
  """absl's parsing, with a bad flag or --config override reported in one line, not a traceback."""
  try:
    return flags.FLAGS(argv)
  except Exception as e:  # ml_collections raises AttributeError/KeyError/TypeError/ValueError
    _exit_with(e)


def config_dict():
  """The --config ConfigDict; ml_collections reports a config file it could not load only here."""
  try:
    return _CONFIG.value.to_dict()
  except Exception as e:  # noqa: BLE001 - OSError or whatever the config file raised
    _exit_with(e)


def main(argv):
  del argv
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                      stream=sys.stdout, force=True)
  absl_logging.set_verbosity(absl_logging.WARNING)  # Orbax and JAX log through absl
  for noisy in ("jax", "orbax", "tensorflow", "etils"):
    logging.getLogger(noisy).setLevel(logging.WARNING)
  import jax
  # Compiled steps are cached on disk, so a rerun or a resumed run starts in seconds.
  jax.config.update("jax_compilation_cache_dir", os.environ.get(
      "S2S_JAX_CACHE", os.path.expanduser("~/.cache/s2s_jax/xla")))
  if _SAGEMAKER.value:
    from s2s_jax.sagemaker import training
    sys.exit(training.main(_SAGEMAKER_ROOT.value))
  from s2s_jax.errors import UserError  # imported late: absl parses the flags first
  try:
    run()
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


def run():
  from s2s_jax import config as config_lib
  cfg = config_lib.from_configdict(config_dict())
  workdir = _WORKDIR.value or default_workdir(flags.FLAGS["config"].config_filename)
  if _MODE.value == "translate":
    translate(cfg, workdir)
    return
  if _MODE.value == "serve":
    from s2s_jax import serve
    server, _ = serve.make_server(workdir, "0.0.0.0", _PORT.value, _BEAM.value or cfg.decode.beam_size)
    logging.getLogger("s2s_jax").info("serving %s on port %s (GET /ping, POST /invocations)",
                                      workdir, server.effective_port)
    server.run()
    return
  from s2s_jax import trainer
  start = time.time()
  summary = trainer.train(cfg, workdir)
  print(f"\ntrained {summary['steps']} updates in {time.time() - start:.0f} s; best validation "
        f"{cfg.train.optimized_metric} {summary['best']:.4g} at update {summary['best_step']}; "
        f"model in {workdir}\n\nexample translations (best checkpoint, beam {cfg.decode.beam_size}):")
  trainer.print_examples(workdir, cfg, summary["corpus"], cfg.train.num_examples)
  print(f"translate a file: python launch.py --mode=translate --workdir={workdir} --input=FILE")


def translate(cfg, workdir):
  from s2s_jax import translate_file
  translate_file.main(cfg.decode, workdir, _INPUT.value, _OUTPUT.value, _REFERENCE.value,
                      _BEAM.value, _CHECKPOINT.value, _NBEST.value)


if __name__ == "__main__":
  app.run(main, flags_parser=parse_flags)
