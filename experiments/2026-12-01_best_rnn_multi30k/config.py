r"""The best recurrent configuration of the Britz reproduction (experiments/2026-12-01_britz_multi30k),
trained to convergence: configs/lstm_attn.py's multi30k model (bi-LSTM 512 + LSTM 512 decoder with
input feeding, embeddings 256, the sweep's best embedding size) with bilinear attention, the sweep's
best attention. Every checkpoint is kept for averaging.

  python launch.py --config=experiments/2026-12-01_best_rnn_multi30k/config.py --workdir=runs/best_rnn
"""

from configs import lstm_attn


def get_config(arg=None):
  c = lstm_attn.get_config("data=multi30k" + (f",{arg}" if arg else ""))
  c.model.rnn_attention_type = "bilinear"
  c.train.keep_last_checkpoints = 40
  c.train.max_num_epochs = 20
  return c
