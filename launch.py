r"""Entry point from a checkout: train, translate or serve (the programs s2s-train, s2s-translate
and s2s-serve, with all their flags; see s2s_jax/bin/).

  python launch.py --config=configs/lstm_attn.py                        # train (synthetic task)
  python launch.py --config=configs/lstm_attn.py:data=multi30k          # train on Multi30k en-de
  python launch.py --config=configs/lstm_attn.py --config.model.rnn_num_hidden=256
  python launch.py --mode=translate --workdir=runs/lstm_attn \
      --input=test.en --output=hyp.de [--reference=test.de] [--beam_size=5]
  python launch.py --sagemaker [--sagemaker_root=/opt/ml]       # a SageMaker training job
  python launch.py --mode=serve --workdir=runs/lstm_attn [--port=8080]   # the endpoint
"""

import sys

from s2s_jax.bin import train  # noqa: I001  (sets XLA flags before anything imports JAX)
from s2s_jax.bin import options, serve, translate

from absl import app, flags

train.config_package_on_path(sys.argv)
train.define_flags(default_config="configs/lstm_attn.py")
translate.define_flags()
serve.define_flags()
_MODE = flags.DEFINE_enum("mode", "train", ["train", "translate", "serve"], "What to do.")
options.show_in_help(train, translate, serve)


def main(argv):
  if _MODE.value == "train":
    return train.main(argv)
  if not flags.FLAGS.workdir:
    flags.FLAGS.workdir = train.default_workdir(flags.FLAGS["config"].config_filename)
  return {"translate": translate.main, "serve": serve.main}[_MODE.value](argv)


if __name__ == "__main__":
  app.run(main, flags_parser=train.parse_flags)
