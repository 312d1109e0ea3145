r"""Convolutional encoder and decoder (Gehring et al. 2017, as Sockeye 1.x): GLU blocks with
residual connections, learned positional embeddings, dot attention in every decoder layer.

Synthetic reverse task (default) and Multi30k en-de:

  python launch.py --config=configs/cnn.py
  python launch.py --config=configs/cnn.py:data=multi30k
"""

from configs import lstm_attn


def get_config(arg=None):
  c = lstm_attn.get_config(arg)
  c.model.encoder_type = c.model.decoder_type = "cnn"
  data = c.data.source
  if data == "synthetic":
    c.model.cnn_num_hidden = 128
    c.model.num_layers_encoder = c.model.num_layers_decoder = 3
  else:  # multi30k
    c.model.cnn_num_hidden = 512
    c.model.num_layers_encoder = c.model.num_layers_decoder = 4
    c.model.cnn_kernel_width_encoder = c.model.cnn_kernel_width_decoder = 3
    c.model.cnn_hidden_dropout = 0.2
  return c
