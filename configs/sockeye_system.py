r"""Sockeye 1.x's system tests (spec §5.11) as configs: copy or sort random digit sequences of
length 1-10 (10,000 training and 100 validation lines, Sockeye's generator and seeds), one small
model per family; tests/test_system.py checks Sockeye's perplexity and BLEU thresholds. Measured
last: copy ppl 1.004 / 1.010 / 1.0001 (lstm / gru at 900 updates / cnn), BLEU 1.0; sort ppl 1.020 /
1.002 / 1.073, BLEU 0.988 / 1.0 / 0.948.

  python launch.py --config=configs/sockeye_system.py:task=sort,family=cnn

Variants: task=copy|sort, family=lstm|gru|cnn. Larger batches and learning rate than Sockeye's
(batch 16, Adam 1e-3, 3,000-5,000 updates) reach its thresholds in fewer updates.
"""

from configs import common


def get_config(arg=None):
  arg = common.parse_arg(arg, task="copy", family="lstm")
  c = common.base()
  c.seed = 13
  c.data.synthetic.update(task=arg.task, num_train=10000, num_val=100, max_len=10, num_symbols=10)
  c.data.max_seq_len_source = c.data.max_seq_len_target = 11
  c.data.bucket_width = 11  # one bucket: a single compiled step
  c.data.batch_size = 64
  c.model.num_embed_source = c.model.num_embed_target = 32
  c.train.learning_rate = 3e-3
  c.train.optimized_metric = "perplexity"
  c.train.bleu_sample_size = -1
  c.train.checkpoint_threshold = 100  # run to max_num_batches
  c.train.log_every = 100
  c.train.num_examples = 0
  if arg.family in ("lstm", "gru"):
    c.model.rnn_cell_type = arg.family
    c.model.rnn_num_hidden = 64
    c.model.rnn_attention_num_hidden = 32
    c.decode.beam_size = 5
    c.train.max_num_batches = 1200 if arg.task == "copy" else 2000
  elif arg.family == "cnn":
    c.model.encoder_type = c.model.decoder_type = "cnn"
    c.model.num_layers_encoder = c.model.num_layers_decoder = 3
    c.model.cnn_num_hidden = 64  # Sockeye: 32 and 5,000 updates; 64 sorts in 1,500
    c.model.cnn_positional_embedding_type = "fixed"
    c.decode.beam_size = 1
    c.train.max_num_batches = 600 if arg.task == "copy" else 1500
  else:
    raise ValueError(f"unknown family '{arg.family}'; known: lstm, gru, cnn")
  c.train.checkpoint_frequency_num_batches = c.train.max_num_batches  # evaluate once, at the end
  return c
