"""Pieces shared by every config file: `parse_arg` for `file.py:key=value,...` variants and `base()`.

Key names follow SageMaker's hyperparameters where one exists (spec §1), so that a SageMaker user
recognises them; the defaults are this project's, chosen to learn out of the box (see README).
"""

import ml_collections


def parse_arg(arg, **defaults):
  """Parses 'a=1,b=x' into a ConfigDict typed after `defaults`; an unknown key is an error."""
  result = ml_collections.ConfigDict(defaults)
  for item in filter(None, (arg or "").split(",")):
    key, _, value = item.partition("=")
    if key not in defaults:
      raise ValueError(f"unknown config variant '{key}' in '{arg}'; known: {sorted(defaults)}")
    default = defaults[key]
    if isinstance(default, bool):
      result[key] = value.lower() in ("1", "true", "yes", "")
    else:
      result[key] = type(default)(value)
  return result


def base():
  """Every key the trainer reads, with its default. Config files change values, never add keys."""
  c = ml_collections.ConfigDict()
  c.seed = 13

  c.data = ml_collections.ConfigDict()
  # Where the data comes from: 'synthetic' (generated into the workdir), 'text' (tokenized
  # parallel text, preprocessed into the workdir) or 'rec' (SageMaker channels: .rec + vocab JSON).
  c.data.source = "synthetic"
  c.data.synthetic = ml_collections.ConfigDict(dict(
      task="reverse", num_train=20000, num_val=500, max_len=15, num_symbols=30))
  c.data.text = ml_collections.ConfigDict(dict(
      dir="", train="train", validation="val", test="test_2016_flickr", src_lang="en", trg_lang="de"))
  c.data.rec = ml_collections.ConfigDict(dict(train="", validation="", vocab=""))
  c.data.num_words_source = 50000
  c.data.num_words_target = 50000
  c.data.word_min_count_source = 1
  c.data.word_min_count_target = 1
  c.data.single_vocab = False
  c.data.max_seq_len_source = 100
  c.data.max_seq_len_target = 100
  c.data.length_policy = "truncate"  # 'truncate' (SageMaker's docs) or 'drop' (Sockeye 1.x)
  c.data.bucketing_enabled = True
  c.data.bucket_width = 10
  c.data.batch_size = 64
  c.data.batch_type = "sentence"  # 'sentence' or 'word' (batch_size target tokens)

  c.model = ml_collections.ConfigDict()
  c.model.encoder_type = "rnn"  # rnn, cnn
  c.model.decoder_type = "rnn"  # rnn, cnn
  c.model.rnn_cell_type = "lstm"  # lstm, gru
  # mlp, dot, dot_scaled, bilinear, fixed, location, coverage (RNN decoder; the CNN decoder
  # always uses dot attention in every layer)
  c.model.rnn_attention_type = "mlp"
  c.model.num_layers_encoder = 1
  c.model.num_layers_decoder = 1
  c.model.num_embed_source = 512
  c.model.num_embed_target = 512
  c.model.rnn_num_hidden = 1024
  c.model.rnn_attention_num_hidden = 0  # 0: same as rnn_num_hidden
  c.model.rnn_decoder_state_init = "last"
  c.model.embed_dropout_source = 0.0
  c.model.embed_dropout_target = 0.0
  c.model.rnn_decoder_hidden_dropout = 0.0
  c.model.rnn_residual_connections = False
  c.model.rnn_first_residual_layer = 2  # 1-based; the bidirectional encoder layer is layer 1
  c.model.rnn_attention_in_upper_layers = True  # GNMT-style, with num_layers_decoder > 1
  c.model.cnn_num_hidden = 512
  c.model.cnn_kernel_width_encoder = 3  # odd: a centred window
  c.model.cnn_kernel_width_decoder = 5
  c.model.cnn_activation_type = "glu"  # glu, relu, softrelu, sigmoid, tanh
  c.model.cnn_hidden_dropout = 0.0
  c.model.cnn_positional_embedding_type = "learned"  # or 'fixed' (sinusoids)
  c.model.weight_tying_type = "none"  # trg_softmax, src_trg (one vocabulary), src_trg_softmax
  c.model.layer_normalization = False
  # U(-0.1, 0.1) learns out of the box; SageMaker's xavier/in/2.34 can saturate the decoder
  # (shared/notes/XAVIER_SATURATION.md) and stays available by name.
  c.model.weight_init_type = "uniform"
  c.model.weight_init_scale = 0.1
  c.model.xavier_factor_type = "in"

  c.train = ml_collections.ConfigDict()
  c.train.optimizer_type = "adam"  # adam, sgd, rmsprop (MXNet's defaults for each)
  c.train.momentum = 0.0  # sgd only
  c.train.learning_rate = 1e-3
  # plateau_reduce (x plateau_reduce_lr_factor after plateau_reduce_lr_threshold checkpoints
  # without improvement), fixed_rate_inv_t or fixed_rate_inv_sqrt_t (halved after
  # fixed_rate_lr_half_life checkpoints); learning_rate_warmup updates of linear warm-up on top.
  c.train.lr_scheduler_type = "plateau_reduce"
  c.train.fixed_rate_lr_half_life = 10
  c.train.learning_rate_warmup = 0
  c.train.clip_gradient = -1.0  # element-wise value clipping (MXNet's meaning); < 0 disables
  c.train.clip_gradient_norm = 5.0  # global-norm clipping, as OpenNMT-py; < 0 disables
  c.train.weight_decay = 0.0
  c.train.loss_type = "cross-entropy"  # the only one, as SageMaker
  c.train.label_smoothing = 0.0
  c.train.training_metric = "perplexity"  # logged on training batches: perplexity or accuracy
  c.train.optimized_metric = "perplexity"  # 'perplexity', 'accuracy' or 'bleu'
  c.train.checkpoint_frequency_num_batches = 1000
  c.train.checkpoint_threshold = 3  # early stop after this many checkpoints without improvement
  c.train.max_num_batches = -1
  c.train.max_num_epochs = 0  # 0: no limit
  c.train.min_num_epochs = 0
  c.train.plateau_reduce_lr_factor = 0.5
  c.train.plateau_reduce_lr_threshold = 3
  c.train.bleu_sample_size = 500  # validation pairs decoded for BLEU; -1: all
  c.train.log_every = 50
  c.train.keep_last_checkpoints = 2
  c.train.num_examples = 5  # example translations printed at the end
  c.train.max_nonfinite_in_a_row = 10  # updates with a non-finite loss (skipped) that stop the run

  c.decode = ml_collections.ConfigDict()
  c.decode.beam_size = 5
  c.decode.batch_size = 64
  c.decode.length_penalty_alpha = 1.0
  c.decode.length_penalty_beta = 0.0
  c.decode.max_output_length_num_stds = 2.0
  return c
