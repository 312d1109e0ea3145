r"""`s2s-plot-attention`: an attention heatmap (PNG) of one translated sentence: source tokens
across, target down. A model trained with SentencePiece subwords takes the sentence as raw text and
labels the axes with its pieces; the title is the raw translation.

  s2s-plot-attention --workdir=runs/lstm_attn_data-multi30k \
      --sentence="a man in an orange hat starring at something ." --output=attention.png

Also from a JSON response of the endpoint: `plot(matrix, source_tokens, target_tokens, path)`.
"""

import sys

from s2s_jax import startup

startup.before_imports()  # before anything imports JAX

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

from s2s_jax.bin import options  # noqa: E402

FLAGS = flags.FLAGS


def plot(matrix, source_tokens, target_tokens, path, title=None):
  """Writes the (target x source) matrix as a PNG heatmap with token labels."""
  import matplotlib
  matplotlib.use("Agg")  # files only, no display
  import matplotlib.pyplot as plt
  matrix = np.asarray(matrix, np.float32).reshape(len(target_tokens), len(source_tokens))
  width = max(4.0, 0.45 * len(source_tokens) + 2.0)
  height = max(3.0, 0.4 * len(target_tokens) + 1.8)
  fig, ax = plt.subplots(figsize=(width, height), dpi=120)
  image = ax.imshow(matrix, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
  ax.set_xticks(range(len(source_tokens)), source_tokens, rotation=60, ha="right")
  ax.set_yticks(range(len(target_tokens)), target_tokens)
  ax.set_xlabel("source")
  ax.set_ylabel("output")
  if title:
    ax.set_title(title, fontsize=9)
  fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="attention weight")
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def define_flags():
  options.define_workdir()
  options.define_decode()
  flags.DEFINE_string("sentence", None, "A source sentence: tokenized, or raw text for a model "
                      "with SentencePiece subwords.", required=True)
  flags.DEFINE_string("output", "attention.png", "PNG file to write.")


def main(argv):
  del argv
  startup.program()
  from s2s_jax.errors import UserError
  from s2s_jax.inference import Translator
  try:
    if not FLAGS.workdir:
      raise UserError("--workdir=MODEL is needed (a training workdir or an exported model)")
    translator = Translator.load(FLAGS.workdir, options.decode_config(FLAGS.workdir),
                                 FLAGS.checkpoint)
    models = translator.subword_models
    source = models[0].encode(FLAGS.sentence) if models else FLAGS.sentence.split()
    out = translator.translate([source], with_attention=True)[0]
    if not out.tokens:
      raise UserError("the model translated the sentence to nothing; no attention to plot")
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  text = models[1].decode(out.tokens) if models else " ".join(out.tokens)
  plot(out.attention, source, out.tokens, FLAGS.output, title=text)
  print(f"{text}\nwrote {FLAGS.output}")


def console():
  """The `s2s-plot-attention` command."""
  options.run_program(sys.modules[__name__], define_flags, main)


if __name__ == "__main__":
  console()
