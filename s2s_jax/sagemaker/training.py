"""`launch.py --sagemaker`: a training job as SageMaker's built-in seq2seq runs it.

Reads hyperparameters.json and the train / validation / vocab channels, trains with checkpoints in
<root>/checkpoints (a restarted job resumes there), exports the best checkpoint to <root>/model,
and on any error writes the reason to <root>/output/failure and exits non-zero.
"""

import json
import logging
import os
import sys
import traceback

from s2s_jax import checkpoint
from s2s_jax import config as config_lib
from s2s_jax.errors import ConfigError, DataError, UserError
from s2s_jax.sagemaker import hyperparameters
from s2s_jax.sagemaker.layout import Layout

log = logging.getLogger("s2s_jax")


def read_hyperparameters(path: str) -> dict:
  """{name: string} from hyperparameters.json; a missing file means all defaults."""
  if not os.path.exists(path):
    log.info("%s not found: every hyperparameter takes its default", path)
    return {}
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise ConfigError(f"{path} is not valid JSON: {e}") from None


def build_config(hyper: dict, channels: dict | None = None,
                 where: str = "hyperparameters") -> config_lib.ExperimentConfig:
  """SageMaker's defaults with `hyper` ({name: string}) on top and `channels` as the data; config
  errors name the hyperparameter."""
  c = hyperparameters.base_config()
  overrides = hyperparameters.to_overrides(hyper, where)
  for key, value in overrides.items():
    section, name = key.split(".")
    c[section][name] = value
  if "train.max_num_epochs" in overrides:
    # SageMaker's documentation: "Training continues until this number of epochs even if
    # validation accuracy is not improving if this parameter is passed."
    c.train.min_num_epochs = max(c.train.min_num_epochs, c.train.max_num_epochs)
  for channel, folder in (channels or {}).items():
    c.data.rec[channel] = folder
  try:
    return config_lib.from_configdict(c)
  except ConfigError as e:
    raise ConfigError(hyperparameters.name_config_errors(str(e))) from None


def experiment_config(layout: Layout) -> config_lib.ExperimentConfig:
  hyper = read_hyperparameters(layout.hyperparameters)
  for channel, folder in layout.channels.items():
    if not os.path.isdir(folder) or not any(not n.startswith(".") for n in os.listdir(folder)):
      raise DataError(f"{channel} channel: {folder} is {'empty' if os.path.isdir(folder) else 'missing'};"
                      " the algorithm needs the train, validation and vocab channels")
  return build_config(hyper, layout.channels, layout.hyperparameters)


def run(layout: Layout, command=None) -> dict:
  from s2s_jax import trainer
  cfg = experiment_config(layout)
  if cfg.model.weight_init_type == "xavier" and cfg.model.decoder_type == "rnn":
    log.warning("weight_init_type=xavier (SageMaker's default) can keep an RNN decoder from "
                "learning; if validation perplexity stalls near a unigram model's, pass "
                "weight_init_type=uniform and weight_init_scale=0.1")
  summary = trainer.train(cfg, layout.checkpoints, command=command)
  step = checkpoint.export_model(layout.checkpoints, layout.model)
  log.info("exported the checkpoint of step %s to %s", step, layout.model)
  return summary


def main(root: str | None = None, command=None) -> int:
  """Runs the job; returns the process exit status (0 done or stopped by SIGTERM, 2 a user error,
  1 an internal error), after writing the failure file for the last two."""
  layout = Layout.from_env(root)
  try:
    run(layout, command)
    return 0
  except UserError as e:
    layout.write_failure(f"error: {e}")
    print(f"error: {e}", file=sys.stderr)
    return 2
  except Exception as e:  # noqa: BLE001 - the job must still say why it failed
    traceback.print_exc()
    layout.write_failure(f"internal error: {type(e).__name__}: {e}")
    return 1
