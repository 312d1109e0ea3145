r"""`s2s-batch-transform`: SageMaker's batch transform, JSON Lines in, JSON Lines out, same order.

  s2s-batch-transform --workdir=MODEL --input=in.jsonl --output=out.jsonl
  s2s-batch-transform --workdir=MODEL --input=DIR --output=OUT_DIR

Each input line is {"source": "tok tok ..."}; each output line {"target": "..."}. A folder is
translated file by file into OUT_DIR/<name>.out (s2s_jax/serving/batch_transform.py). Decoding
settings are the model's saved ones unless a flag gives them.
"""

import sys

from s2s_jax import startup

startup.before_imports()  # before anything imports JAX

from absl import flags  # noqa: E402

from s2s_jax.bin import options  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
  options.define_workdir("/opt/ml/model")
  options.define_decode()
  flags.DEFINE_string("input", None, "A JSON Lines file or a folder of them.", required=True)
  flags.DEFINE_string("output", None, "Output file (or folder, for an input folder).",
                      required=True)


def main(argv):
  del argv
  startup.program()
  from s2s_jax.errors import UserError
  from s2s_jax.inference import Translator
  from s2s_jax.serving.batch_transform import transform
  try:
    translator = Translator.load(FLAGS.workdir, options.decode_config(FLAGS.workdir),
                                 FLAGS.checkpoint)
    counts = transform(translator, FLAGS.input, FLAGS.output)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  for name, n in counts.items():
    print(f"{name}: {n} lines")


def console():
  """The `s2s-batch-transform` command."""
  options.run_program(sys.modules[__name__], define_flags, main)


if __name__ == "__main__":
  console()
