r"""A TPE search on the tiny config, for showing two runners sharing one study (README.md).

  s2s-sweep --config=configs/tiny.py --sweep=experiments/2026-12-01_sweeps/tiny_search.py \
      --workdir=runs/tiny_search --storage=postgresql://s2s:s2s@localhost/sweeps
"""

from s2s_jax import hyper


def get_sweep():
  return hyper.search({"train.learning_rate": hyper.loguniform(1e-4, 3e-2),
                       "model.rnn_cell_type": hyper.choice(["lstm", "gru"]),
                       "model.rnn_num_hidden": hyper.choice([16, 32])},
                      sampler="tpe", num_trials=8, pruner="median", seed=1)
