r"""Britz et al. 2017, "Massive Exploration of Neural Machine Translation Architectures", at
Multi30k scale: one change at a time from the baseline (config.py), 2 seeds each.

  paper axis                    baseline          cells
  embedding size                128               64, 256
  cell                          LSTM              GRU
  encoder depth                 1 (bi)            2 (bi + uni)
  decoder depth                 1                 2, 2 with residual connections
  attention                     additive (mlp)    multiplicative: bilinear (Luong general), dot

Seeds vary slowest, so the first 9 trials give a whole table with one seed.
"""

from s2s_jax import hyper

CELLS = [
    {},  # the baseline
    {"model.num_embed_source": 64, "model.num_embed_target": 64},
    {"model.num_embed_source": 256, "model.num_embed_target": 256},
    {"model.rnn_cell_type": "gru"},
    {"model.num_layers_encoder": 2},
    {"model.num_layers_decoder": 2},
    {"model.num_layers_decoder": 2, "model.rnn_residual_connections": True},
    {"model.rnn_attention_type": "bilinear"},
    {"model.rnn_attention_type": "dot"},
]


def get_sweep():
  return hyper.product([hyper.sweep("seed", [1, 2]), CELLS])
