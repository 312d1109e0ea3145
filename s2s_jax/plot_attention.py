r"""An attention heatmap (PNG) of one translated sentence: source tokens across, target down.

  python -m s2s_jax.plot_attention --model_dir=runs/lstm_attn_data-multi30k \
      --sentence="a man in an orange hat starring at something ." --output=attention.png

Also from a JSON response of the endpoint: `plot(matrix, source_tokens, target_tokens, path)`.
"""

import numpy as np
from absl import app, flags

from s2s_jax import xla_setup


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


def main(argv):
  del argv
  from s2s_jax.config import DecodeConfig
  from s2s_jax.inference import Translator
  f = flags.FLAGS
  translator = Translator.load(f.model_dir, DecodeConfig(beam_size=f.beam_size, batch_size=1))
  source = f.sentence.split()
  out = translator.translate([source], with_attention=True)[0]
  if not out.tokens:
    raise SystemExit("error: the model translated the sentence to nothing; no attention to plot")
  plot(out.attention, source, out.tokens, f.output, title=" ".join(out.tokens))
  print(f"{' '.join(out.tokens)}\nwrote {f.output}")


if __name__ == "__main__":
  flags.DEFINE_string("model_dir", None, "Exported model or training workdir.", required=True)
  flags.DEFINE_string("sentence", None, "A tokenized source sentence.", required=True)
  flags.DEFINE_string("output", "attention.png", "PNG file to write.")
  flags.DEFINE_integer("beam_size", 5, "Beam size.")
  xla_setup.command_line()
  app.run(main)
