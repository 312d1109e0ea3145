r"""Mixed pairs, as SageMaker's separate encoder_type / decoder_type allow.

  python launch.py --config=configs/mixed.py                        # CNN encoder, LSTM decoder
  python launch.py --config=configs/mixed.py:pair=rnn-cnn           # bi-LSTM encoder, CNN decoder
  python launch.py --config=configs/mixed.py:pair=cnn-rnn,data=multi30k

Variants: pair=cnn-rnn|rnn-cnn, data=synthetic|multi30k.
"""

from configs import common, lstm_attn


def get_config(arg=None):
  arg = common.parse_arg(arg, pair="cnn-rnn", data="synthetic")
  c = lstm_attn.get_config(f"data={arg.data}")
  encoder, _, decoder = arg.pair.partition("-")
  if {encoder, decoder} != {"cnn", "rnn"}:
    raise ValueError(f"unknown pair '{arg.pair}'; known: cnn-rnn, rnn-cnn")
  c.model.encoder_type, c.model.decoder_type = encoder, decoder
  c.model.cnn_num_hidden = c.model.rnn_num_hidden  # the CNN decoder attends to the RNN states
  c.model.num_layers_encoder = 3 if encoder == "cnn" else 1
  c.model.num_layers_decoder = 3 if decoder == "cnn" else 1
  return c
