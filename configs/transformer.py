r"""Transformer encoder and decoder (Vaswani et al. 2017; Sockeye 1.x's `transformer`, pre-norm).

Default variant: the built-in synthetic task (reverse a sequence of 1-15 symbols), a small model:

  python launch.py --config=configs/transformer.py

Multi30k en-de (tokenized, lower-cased; shared/data/multi30k): Transformer-tiny (Wu et al. 2021;
4+4 layers, model size 128, 4 heads, feed-forward 256) with strong dropout and label smoothing, one
vocabulary and one embedding for both languages and the output layer, the inverse-square-root
schedule with warm-up:

  python launch.py --config=configs/transformer.py:data=multi30k

The speed benchmark's variant, matched to OpenNMT-py's Transformer: every word in the vocabulary
and batches of 128 sentences (experiments/2026-12-05_transformer_speed):

  s2s-bench --config=configs/transformer.py:data=multi30k,peers=true
Any key can be overridden: --config.model.transformer_model_size=512 ...
"""

from configs import common


def get_config(arg=None):
  arg = common.parse_arg(arg, data="synthetic", data_dir="../shared/data/multi30k", peers=False)
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
    # Transformer-tiny (Wu et al. 2021, 41.02 BLEU on test_2016_flickr): 4+4 layers, model 128,
    # 4 heads, feed-forward 256, dropout 0.3, one vocabulary shared by both languages and all
    # three embeddings, Adam (0.9, 0.98) at 5e-3 after 2,000 warm-up updates, 4,096-token batches.
    c.data.source = "text"
    c.data.text.dir = arg.data_dir
    c.data.bucket_width = 3
    c.data.max_seq_len_source = c.data.max_seq_len_target = 60
    c.data.word_min_count_source = c.data.word_min_count_target = 2
    c.data.single_vocab = True
    c.data.batch_type, c.data.batch_size = "word", 4096
    m.num_embed_source = m.num_embed_target = m.transformer_model_size = 128
    m.transformer_attention_heads = 4
    m.transformer_feed_forward_num_hidden = 256
    m.num_layers_encoder = m.num_layers_decoder = 4
    m.transformer_dropout_prepost = 0.3
    m.transformer_dropout_attention = m.transformer_dropout_act = 0.0
    m.weight_tying_type = "src_trg_softmax"
    m.weight_init_type, m.weight_init_scale, m.xavier_factor_type = "xavier", 3.0, "avg"
    t.label_smoothing = 0.1
    t.learning_rate, t.adam_beta2 = 5e-3, 0.98
    t.learning_rate_warmup = 2000
    t.optimized_metric = "bleu"
    t.bleu_sample_size = -1
    t.checkpoint_frequency_num_batches = 400  # about 4 epochs of 29k pairs at 4,096 tokens
    t.checkpoint_threshold = 5
    t.keep_last_checkpoints = 10  # for averaging
    t.max_num_batches = 8000
    if arg.peers:  # as the OpenNMT-py Transformer of experiments/2026-12-05_transformer_speed
      c.data.word_min_count_source = c.data.word_min_count_target = 1  # every word, as the peer
      c.data.batch_type, c.data.batch_size = "sentence", 128  # the same rows in both toolkits
  else:
    raise ValueError(f"unknown data variant '{arg.data}'; known: synthetic, multi30k")
  return c
