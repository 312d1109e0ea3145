r"""A 4-trial grid over configs/tiny.py, for tests and a first look at the sweep runner:

  s2s-sweep --config=configs/tiny.py --sweep=configs/tiny_sweep.py --workdir=/tmp/tiny_sweep
"""

from s2s_jax import hyper


def get_sweep():
  return hyper.product([
      hyper.sweep("model.rnn_cell_type", ["lstm", "gru"]),
      hyper.sweep("seed", [1, 2]),
  ])
