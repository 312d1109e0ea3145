r"""Bi-GRU encoder, GRU decoder with input feeding and dot attention (Luong "dot").

Default variant: the built-in synthetic reverse task, a small model (a few minutes on 2 CPU cores):

  python launch.py --config=configs/gru_attn.py

Multi30k en-de (shared/data/multi30k), the same sizes and regularisation as lstm_attn's
multi30k variant:

  python launch.py --config=configs/gru_attn.py:data=multi30k

Any key can be overridden, e.g. --config.model.rnn_attention_type=bilinear.
"""

from configs import lstm_attn


def get_config(arg=None):
  c = lstm_attn.get_config(arg)
  c.model.rnn_cell_type = "gru"
  c.model.rnn_attention_type = "dot"
  return c
