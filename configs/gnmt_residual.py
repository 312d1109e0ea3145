r"""Deep GNMT-style RNN: 2+2 LSTM layers (bidirectional first encoder layer), residual connections
from layer 2 on, attention computed after the first decoder layer and passed to the upper ones.

Synthetic reverse task (default) and Multi30k en-de:

  python launch.py --config=configs/gnmt_residual.py
  python launch.py --config=configs/gnmt_residual.py:data=multi30k

Deeper: --config.model.num_layers_encoder=4 --config.model.num_layers_decoder=4.
"""

from configs import lstm_attn


def get_config(arg=None):
  c = lstm_attn.get_config(arg)
  c.model.num_layers_encoder = 2
  c.model.num_layers_decoder = 2
  c.model.rnn_residual_connections = True
  c.model.rnn_first_residual_layer = 2
  c.model.rnn_attention_in_upper_layers = True
  return c
