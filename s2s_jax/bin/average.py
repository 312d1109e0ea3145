r"""`s2s-average`: checkpoint averaging (beyond SageMaker): the mean of several checkpoints'
parameters, written as an exported model that translate, serve and batch transform load like any
other (with the run's decoding settings and manifest).

  s2s-average --workdir=runs/lstm_attn --last=4 --output=runs/lstm_attn_avg4
  s2s-average --workdir=runs/lstm_attn --steps=3600,4050 --output=avg

Keep enough checkpoints while training: --config.train.keep_last_checkpoints=8.
"""

import os
import sys

from s2s_jax import startup

startup.before_imports()  # before anything imports JAX

import jax  # noqa: E402
import numpy as np  # noqa: E402
import orbax.checkpoint as ocp  # noqa: E402
from absl import flags  # noqa: E402

from s2s_jax import checkpoint, manifest  # noqa: E402
from s2s_jax.bin import options  # noqa: E402
from s2s_jax.errors import UserError  # noqa: E402

FLAGS = flags.FLAGS


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


def define_flags():
  options.define_workdir(help_text="Training workdir whose kept checkpoints are averaged.")
  flags.DEFINE_integer("last", 4, "Average the last N kept checkpoints.")
  flags.DEFINE_list("steps", None, "Or these steps, comma-separated.")
  flags.DEFINE_string("output", None, "Folder for the averaged model.", required=True)


def main(argv):
  del argv
  startup.program(compile_cache=False)  # nothing is compiled
  f = FLAGS
  try:
    if not f.workdir:
      raise UserError("--workdir=WORKDIR is needed (a training workdir with kept checkpoints)")
    available = kept_steps(f.workdir)
    if f.steps:
      steps = [int(s) for s in f.steps]
      missing = sorted(set(steps) - set(available))
      if missing:
        raise UserError(f"{f.workdir} keeps no checkpoint {missing}; kept steps: {available}")
    else:
      steps = available[-f.last:]
    config, params, src_vocab, trg_vocab = average(f.workdir, steps)
    run_manifest = manifest.read(f.workdir)
    if run_manifest is not None:
      run_manifest["averaged_steps"] = steps
    checkpoint.write_model_dir(f.output, config, params, src_vocab, trg_vocab,
                               checkpoint.load_decode_config(f.workdir), run_manifest,
                               subwords_dir=f.workdir)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  print(f"averaged steps {steps} of {f.workdir} into {f.output}")


def console():
  """The `s2s-average` command."""
  options.run_program(sys.modules[__name__], define_flags, main)


if __name__ == "__main__":
  console()
