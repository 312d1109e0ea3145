r"""Checkpoint averaging (beyond SageMaker): the mean of several checkpoints' parameters, written as
an exported model that translate, serve and batch transform load like any other.

  python -m s2s_jax.average --workdir=runs/lstm_attn --last=4 --output=runs/lstm_attn_avg4
  python -m s2s_jax.average --workdir=runs/lstm_attn --steps=3600,4050 --output=avg

Keep enough checkpoints while training: --config.train.keep_last_checkpoints=8.
"""

import os

import jax
import numpy as np
import orbax.checkpoint as ocp
from absl import app, flags

from s2s_jax import checkpoint, xla_setup
from s2s_jax.errors import UserError


def kept_steps(workdir) -> list[int]:
  folder = os.path.join(os.path.abspath(workdir), "checkpoints")
  if not os.path.isdir(folder):
    raise UserError(f"{workdir} has no checkpoints/ folder: averaging needs a training workdir")
  with ocp.CheckpointManager(folder, options=checkpoint.LOAD_OPTIONS,
                             item_names=("params",)) as manager:
    return sorted(manager.all_steps())


def average(workdir, steps) -> tuple:
  """(model config, averaged params, src vocab, trg vocab) of the given kept steps."""
  if not steps:
    raise UserError("no checkpoints to average")
  loaded = [checkpoint.load_model(workdir, str(step)) for step in steps]
  trees = [params for _, params, _, _ in loaded]
  mean = jax.tree_util.tree_map(
      lambda *xs: np.mean(np.stack([np.asarray(x, np.float32) for x in xs]), axis=0).astype(
          np.asarray(xs[0]).dtype), *trees)
  config, _, src_vocab, trg_vocab = loaded[0]
  return config, mean, src_vocab, trg_vocab


def main(argv):
  del argv
  f = flags.FLAGS
  try:
    available = kept_steps(f.workdir)
    if f.steps:
      steps = [int(s) for s in f.steps.split(",")]
      missing = sorted(set(steps) - set(available))
      if missing:
        raise UserError(f"{f.workdir} keeps no checkpoint {missing}; kept steps: {available}")
    else:
      steps = available[-f.last:]
    config, params, src_vocab, trg_vocab = average(f.workdir, steps)
    checkpoint.write_model_dir(f.output, config, params, src_vocab, trg_vocab)
  except UserError as e:
    raise SystemExit(f"error: {e}") from None
  print(f"averaged steps {steps} of {f.workdir} into {f.output}")


if __name__ == "__main__":
  flags.DEFINE_string("workdir", None, "Training workdir.", required=True)
  flags.DEFINE_integer("last", 4, "Average the last N kept checkpoints.")
  flags.DEFINE_string("steps", None, "Or these steps, comma-separated.")
  flags.DEFINE_string("output", None, "Folder for the averaged model.", required=True)
  xla_setup.command_line()
  app.run(main)
