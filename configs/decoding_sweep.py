r"""Britz et al. 2017's decoding axes on one trained model: beam width x length penalty.

  s2s-sweep --model=runs/britz/trials/seed=1 --sweep=configs/decoding_sweep.py \
      --workdir=runs/britz_decoding [--test=SOURCE,REFERENCE]

Each trial translates the test set (the model's text test set unless --test names one) with its
settings; the objective is its BLEU.
"""

from s2s_jax import hyper


def get_sweep():
  return hyper.product([
      hyper.sweep("decode.length_penalty_alpha", [0.0, 0.5, 1.0]),
      hyper.sweep("decode.beam_size", [1, 3, 5, 10, 25]),
  ])
