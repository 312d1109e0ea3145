r"""Transformer encoder and decoder (Vaswani et al. 2017; Sockeye 1.x's `transformer`, pre-norm).

Default variant: the built-in synthetic task (reverse a sequence of 1-15 symbols), a small model:

  python launch.py --config=configs/transformer.py

Multi30k en-de (tokenized, lower-cased; shared/data/multi30k): a small Transformer (3+3 layers,
model size 256, 4 heads, feed-forward 1024) with strong dropout and label smoothing, the target
embedding tied to the output layer, the inverse-square-root schedule with warm-up:

  python launch.py --config=configs/transformer.py:data=multi30k

The Multi30k sizes and regularisation are a starting point; the sweep in issue 29 chooses them.
Any key can be overridden: --config.model.transformer_model_size=512 ...
"""

from configs import common


def get_config(arg=None):
  arg = common.parse_arg(arg, data="synthetic", data_dir="../shared/data/multi30k")
  c = common.base()
  m, t = c.model, c.train
  m.encoder_type = m.decoder_type = "transformer"
  t.lr_scheduler_type = "inv_sqrt_warmup"
  if arg.data == "synthetic":
    m.num_embed_source = m.num_embed_target = m.transformer_model_size = 64
    m.transformer_attention_heads = 4
    m.transformer_feed_forward_num_hidden = 128
    m.num_layers_encoder = m.num_layers_decoder = 2
    m.transformer_dropout_attention = m.transformer_dropout_act = 0.0
    m.transformer_dropout_prepost = 0.0
    t.learning_rate = 2e-3
    t.learning_rate_warmup = 200
    t.checkpoint_frequency_num_batches = 500
    t.max_num_batches = 2500
    t.optimized_metric = "bleu"
    t.bleu_sample_size = 200
    t.checkpoint_threshold = 3
    c.data.bucket_width = 5
  elif arg.data == "multi30k":
    c.data.source = "text"
    c.data.text.dir = arg.data_dir
    c.data.bucket_width = 3
    c.data.max_seq_len_source = c.data.max_seq_len_target = 60
    c.data.word_min_count_source = c.data.word_min_count_target = 2
    c.data.batch_size = 128
    m.num_embed_source = m.num_embed_target = m.transformer_model_size = 256
    m.transformer_attention_heads = 4
    m.transformer_feed_forward_num_hidden = 1024
    m.num_layers_encoder = m.num_layers_decoder = 3
    m.transformer_dropout_prepost = 0.3
    m.transformer_dropout_attention = m.transformer_dropout_act = 0.1
    m.weight_tying_type = "trg_softmax"
    m.weight_init_type, m.weight_init_scale, m.xavier_factor_type = "xavier", 3.0, "avg"
    t.label_smoothing = 0.1
    t.learning_rate = 1e-3
    t.learning_rate_warmup = 1000
    t.optimized_metric = "bleu"
    t.bleu_sample_size = -1
    t.checkpoint_frequency_num_batches = 230  # about one epoch of 29k pairs
    t.checkpoint_threshold = 6
    t.max_num_epochs = 40
  else:
    raise ValueError(f"unknown data variant '{arg.data}'; known: synthetic, multi30k")
  return c
