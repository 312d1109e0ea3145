r"""Transformer-tiny on Multi30k en-de: configs/transformer.py's multi30k variant, trained in the
background in pieces (the same command resumes from the workdir).

  python launch.py --config=experiments/2026-12-05_transformer_multi30k/config.py \
      --workdir=runs/transformer_tiny
"""

from configs import transformer


def get_config(arg=None):
  c = transformer.get_config("data=multi30k" + (f",{arg}" if arg else ""))
  c.model.dtype = "bfloat16"  # products in bf16 on the AMX Xeon; softmax, norms and loss in fp32
  return c
