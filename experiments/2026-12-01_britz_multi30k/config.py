r"""The base of the Britz et al. (2017) reproduction at Multi30k scale: configs/lstm_attn.py's
multi30k setup (words seen twice, dropout 0.3, label smoothing 0.1, Adam 1e-3 halved on a
plateau, a checkpoint per epoch selected on validation BLEU) with a model small enough for
18 trials on a 2-core CPU: embeddings 128, bi-LSTM 2 x 128 encoder, LSTM 256 decoder, 6 epochs,
validation BLEU on 500 sentences.

  s2s-sweep --config=experiments/2026-12-01_britz_multi30k/config.py \
      --sweep=experiments/2026-12-01_britz_multi30k/sweep.py --workdir=runs/britz --workers=2
"""

from configs import lstm_attn


def get_config(arg=None):
  c = lstm_attn.get_config("data=multi30k" + (f",{arg}" if arg else ""))
  c.model.num_embed_source = c.model.num_embed_target = 128
  c.model.rnn_num_hidden = 256
  c.train.max_num_epochs = 6
  c.train.bleu_sample_size = 500
  return c
