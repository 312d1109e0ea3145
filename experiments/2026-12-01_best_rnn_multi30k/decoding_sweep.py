r"""Beam width x length penalty for the converged model, scored on the validation set (val), so
that the test set is translated once, with the settings chosen here.

  s2s-sweep --model=runs/best_rnn_avg --sweep=experiments/2026-12-01_best_rnn_multi30k/decoding_sweep.py \
      --workdir=runs/best_rnn_decoding --test=../shared/data/multi30k/val.en,../shared/data/multi30k/val.de
"""

from s2s_jax import hyper


def get_sweep():
  return hyper.product([
      hyper.sweep("decode.beam_size", [5, 10]),
      hyper.sweep("decode.length_penalty_alpha", [0.6, 1.0, 1.4]),
  ])
