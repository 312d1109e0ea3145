r"""Bi-LSTM encoder, LSTM decoder with input feeding and MLP attention (Bahdanau / Luong "concat").

Default variant: a built-in synthetic task (reverse a sequence of 1-15 symbols), a small model,
about 3 minutes on a 2-core CPU to near-perfect BLEU:

  python launch.py --config=configs/lstm_attn.py

Multi30k en-de (tokenized, lower-cased; shared/data/multi30k), the benchmark model size
(bi-LSTM 2x256, decoder 512, embeddings 256), words seen twice or more, dropout 0.3, label
smoothing 0.1, checkpoints selected on validation BLEU:

  python launch.py --config=configs/lstm_attn.py:data=multi30k

The benchmark configuration, matched to shared/peers/ (OpenNMT-py, Sockeye): dropout 0.2, no label
smoothing, Adam 1e-3, global-norm clipping 5, batch 64 sentences, max length 60:

  python -m s2s_jax.bench --config=configs/lstm_attn.py:data=multi30k,peers=true

Any key can be overridden: --config.model.rnn_num_hidden=256 --config.train.learning_rate=3e-4.
"""

from configs import common


def get_config(arg=None):
  arg = common.parse_arg(arg, data="synthetic", data_dir="../shared/data/multi30k", peers=False)
  c = common.base()
  if arg.data == "synthetic":
    c.model.num_embed_source = c.model.num_embed_target = 64
    c.model.rnn_num_hidden = 128
    c.train.learning_rate = 2e-3
    c.train.checkpoint_frequency_num_batches = 500
    c.train.max_num_batches = 2500
    c.train.optimized_metric = "bleu"
    c.train.bleu_sample_size = 200
    c.train.checkpoint_threshold = 3
    c.data.bucket_width = 5
  elif arg.data == "multi30k":
    c.data.source = "text"
    c.data.text.dir = arg.data_dir
    c.data.bucket_width = 3  # short sentences: 89.5% of target positions real (width 10: 71%)
    c.data.max_seq_len_source = c.data.max_seq_len_target = 60
    # Words seen once are dropped from the vocabularies (German 18.7k -> 7.9k types; test OOV
    # 2.6% -> 3.8%): the output layer, most of the cost, gets 2.4x cheaper and overfits less.
    c.data.word_min_count_source = c.data.word_min_count_target = 2
    c.model.num_embed_source = c.model.num_embed_target = 256
    c.model.rnn_num_hidden = 512
    c.model.embed_dropout_source = c.model.embed_dropout_target = 0.3
    c.model.rnn_decoder_hidden_dropout = 0.3
    c.train.label_smoothing = 0.1
    c.train.optimized_metric = "bleu"
    c.train.bleu_sample_size = -1
    c.train.checkpoint_frequency_num_batches = 450  # about one epoch of 29k pairs
    c.train.checkpoint_threshold = 4
    c.train.plateau_reduce_lr_threshold = 1
    c.train.max_num_epochs = 25
    if arg.peers:  # full word vocabularies (10.2k / 18.7k), as the peers
      c.data.word_min_count_source = c.data.word_min_count_target = 1
      c.model.embed_dropout_source = c.model.embed_dropout_target = 0.2
      c.model.rnn_decoder_hidden_dropout = 0.2
      c.train.label_smoothing = 0.0
  else:
    raise ValueError(f"unknown data variant '{arg.data}'; known: synthetic, multi30k")
  return c
