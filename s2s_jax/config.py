"""The ConfigDict stops here: frozen, validated dataclasses for the model, data, training and decoding.

Every module below this one receives these dataclasses, never a ConfigDict. Unknown keys and invalid
values raise ConfigError naming the key and the allowed values.
"""

import dataclasses
import json
from typing import Any

from s2s_jax.errors import ConfigError
from s2s_jax.models import registry

CHOICES = {
    "encoder_type": registry.names("encoder"),
    "decoder_type": registry.names("decoder"),
    "rnn_cell_type": registry.names("cell"),
    "rnn_attention_type": registry.names("attention"),
    "cnn_activation_type": ("glu", "relu", "softrelu", "sigmoid", "tanh"),
    "cnn_positional_embedding_type": ("learned", "fixed"),
    "transformer_positional_embedding_type": ("fixed", "learned"),
    "transformer_activation_type": ("relu", "gelu", "swish1"),
    "weight_tying_type": ("none", "trg_softmax", "src_trg", "src_trg_softmax"),
    "rnn_decoder_state_init": ("last", "avg", "zero"),
    "weight_init_type": ("uniform", "xavier"),
    "xavier_factor_type": ("in", "out", "avg"),
    "source": ("synthetic", "text", "rec"),
    "model_type": ("", "unigram", "bpe"),
    "task": ("copy", "sort", "reverse"),
    "length_policy": ("truncate", "drop"),
    "batch_type": ("sentence", "word"),
    "optimizer_type": ("adam", "sgd", "rmsprop"),
    "optimized_metric": ("perplexity", "accuracy", "bleu", "chrf"),
    "training_metric": ("perplexity", "accuracy"),
    "loss_type": ("cross-entropy",),
    "lr_scheduler_type": ("plateau_reduce", "fixed_rate_inv_t", "fixed_rate_inv_sqrt_t",
                          "inv_sqrt_warmup"),
    "dtype": ("float32", "bfloat16"),
}


class JsonFile:
  """For the configs saved beside a model (model_config.json, decode_config.json)."""

  def to_json(self):
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  @classmethod
  def from_json(cls, text, name=None):
    """Parses and validates, ConfigError naming the file (`name`) for anything wrong."""
    name = name or cls.__name__
    try:
      values = json.loads(text)
    except json.JSONDecodeError as e:
      raise ConfigError(f"{name} is not valid JSON: {e}") from None
    return _build(cls, values, name)


@dataclasses.dataclass(frozen=True)
class ModelSettings:
  """The model keys a config file sets (config.model.*), with their defaults. Key names follow
  SageMaker's hyperparameters (spec §1); the defaults are this project's, chosen to learn out of
  the box (SageMaker's own are in s2s_jax/sagemaker/hyperparameters.py)."""
  encoder_type: str = "rnn"  # rnn, cnn, transformer
  decoder_type: str = "rnn"  # rnn, cnn, transformer
  rnn_cell_type: str = "lstm"  # lstm, gru
  # mlp, dot, dot_scaled, bilinear, fixed, location, coverage (RNN decoder; the CNN decoder
  # always uses dot attention in every layer)
  rnn_attention_type: str = "mlp"
  num_layers_encoder: int = 1
  num_layers_decoder: int = 1
  num_embed_source: int = 512
  num_embed_target: int = 512
  rnn_num_hidden: int = 1024
  rnn_attention_num_hidden: int = 0  # 0: same as rnn_num_hidden
  rnn_decoder_state_init: str = "last"  # last, avg, zero
  embed_dropout_source: float = 0.0
  embed_dropout_target: float = 0.0
  rnn_decoder_hidden_dropout: float = 0.0
  rnn_residual_connections: bool = False
  rnn_first_residual_layer: int = 2  # 1-based; the bidirectional encoder layer is layer 1
  rnn_attention_in_upper_layers: bool = True  # GNMT-style, with num_layers_decoder > 1
  cnn_num_hidden: int = 512
  cnn_kernel_width_encoder: int = 3  # odd: a centred window
  cnn_kernel_width_decoder: int = 5
  cnn_activation_type: str = "glu"  # glu, relu, softrelu, sigmoid, tanh
  cnn_hidden_dropout: float = 0.0
  cnn_positional_embedding_type: str = "learned"  # or 'fixed' (sinusoids)
  # Beyond SageMaker: the Transformer (models/transformer.py), with Sockeye 1.x's keys and
  # defaults. Its embeddings (num_embed_*) must be transformer_model_size wide.
  transformer_model_size: int = 512
  transformer_attention_heads: int = 8
  transformer_feed_forward_num_hidden: int = 2048
  transformer_activation_type: str = "relu"  # relu, gelu, swish1
  transformer_positional_embedding_type: str = "fixed"  # or 'learned'
  # Around each sub-layer: n layer norm, d dropout, r residual. "n" / "dr" is pre-norm (Sockeye's
  # default), "" / "drn" the original post-norm.
  transformer_preprocess: str = "n"
  transformer_postprocess: str = "dr"
  transformer_dropout_attention: float = 0.1
  transformer_dropout_act: float = 0.1
  transformer_dropout_prepost: float = 0.1
  # Beyond SageMaker (Sockeye names): tie the target embedding and output layer ('trg_softmax'),
  # the source and target embeddings ('src_trg', needs one shared vocabulary), or all three.
  weight_tying_type: str = "none"
  layer_normalization: bool = False  # in the RNN cells and before the decoder's hidden tanh
  # U(-0.1, 0.1) learns out of the box; SageMaker's xavier/in/2.34 can saturate the decoder
  # (shared/notes/XAVIER_SATURATION.md) and stays available by name.
  weight_init_type: str = "uniform"  # uniform, xavier
  weight_init_scale: float = 0.1
  xavier_factor_type: str = "in"  # in, out, avg
  # Beyond SageMaker: the products' dtype, float32 or bfloat16 (mixed precision: parameters,
  # states, softmaxes and the loss stay float32; models/precision.py says exactly where).
  dtype: str = "float32"

  @property
  def attention_num_hidden(self):
    return self.rnn_attention_num_hidden or self.rnn_num_hidden

  def _num_hidden(self, kind):
    return {"rnn": self.rnn_num_hidden, "cnn": self.cnn_num_hidden,
            "transformer": self.transformer_model_size}[kind]

  @property
  def encoder_num_hidden(self):
    return self._num_hidden(self.encoder_type)

  @property
  def decoder_num_hidden(self):
    return self._num_hidden(self.decoder_type)


@dataclasses.dataclass(frozen=True)
class ModelConfig(ModelSettings, JsonFile):
  """What inference needs to rebuild the network: the settings plus what the data tells (filled in
  by the trainer); saved as JSON beside every checkpoint."""
  vocab_size_source: int = 0
  vocab_size_target: int = 0
  # Length statistics of the training data (target incl. BOS / source), for the output length limit.
  length_ratio_mean: float = 1.0
  length_ratio_std: float = 0.0
  max_seq_len_source: int = 100
  max_seq_len_target: int = 100


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
  task: str = "reverse"  # copy, sort, reverse
  num_train: int = 20000
  num_val: int = 500
  max_len: int = 15
  num_symbols: int = 30


@dataclasses.dataclass(frozen=True)
class TextConfig:
  dir: str = ""
  train: str = "train"
  validation: str = "val"
  test: str = "test_2016_flickr"
  src_lang: str = "en"
  trg_lang: str = "de"


@dataclasses.dataclass(frozen=True)
class SubwordConfig:
  """SentencePiece subwords for data.source='text' (s2s_jax/data/subwords.py): with a model_type
  the text files are raw (untokenized) and a model trained on the training files segments them."""
  model_type: str = ""  # '' (the text is tokenized: whitespace splits it), 'unigram' or 'bpe'
  vocab_size: int = 8000  # pieces of each model, <unk> included
  joint: bool = True  # one model (and vocabulary) for both languages, or one for each
  max_sentences: int = 1_000_000  # lines sampled for training: memory bounded by the sample
  character_coverage: float = 1.0  # share of characters the model covers (the rest are <unk>)


@dataclasses.dataclass(frozen=True)
class RecConfig:
  train: str = ""
  validation: str = ""
  vocab: str = ""


@dataclasses.dataclass(frozen=True)
class DataConfig:
  # Where the data comes from: 'synthetic' (generated into the workdir), 'text' (tokenized
  # parallel text, preprocessed into the workdir) or 'rec' (SageMaker channels: .rec + vocab JSON).
  source: str = "synthetic"
  synthetic: SyntheticConfig = SyntheticConfig()
  text: TextConfig = TextConfig()
  subwords: SubwordConfig = SubwordConfig()
  rec: RecConfig = RecConfig()
  num_words_source: int = 50000
  num_words_target: int = 50000
  word_min_count_source: int = 1
  word_min_count_target: int = 1
  single_vocab: bool = False
  max_seq_len_source: int = 100
  max_seq_len_target: int = 100
  length_policy: str = "truncate"  # 'truncate' (SageMaker's docs) or 'drop' (Sockeye 1.x)
  bucketing_enabled: bool = True
  bucket_width: int = 10
  batch_size: int = 64
  batch_type: str = "sentence"  # 'sentence' or 'word' (batch_size target tokens)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  optimizer_type: str = "adam"  # adam, sgd, rmsprop (MXNet's defaults for each)
  momentum: float = 0.0  # sgd only
  # adam only: MXNet's defaults; Transformer recipes use adam_beta2=0.98 (Sockeye 1.x passes them
  # as --optimizer-params beta1:...,beta2:...)
  adam_beta1: float = 0.9
  adam_beta2: float = 0.999
  learning_rate: float = 1e-3
  # plateau_reduce (x plateau_reduce_lr_factor after plateau_reduce_lr_threshold checkpoints
  # without improvement), fixed_rate_inv_t or fixed_rate_inv_sqrt_t (halved after
  # fixed_rate_lr_half_life checkpoints); learning_rate_warmup updates of linear warm-up on top.
  # inv_sqrt_warmup (beyond SageMaker): the Transformer's (Noam) schedule, linear warm-up to
  # learning_rate over learning_rate_warmup updates, then learning_rate sqrt(warm-up / t).
  lr_scheduler_type: str = "plateau_reduce"
  fixed_rate_lr_half_life: int = 10  # in checkpoints, for the fixed_rate_* schedulers
  learning_rate_warmup: int = 0  # updates of linear warm-up (beyond SageMaker)
  clip_gradient: float = -1.0  # element-wise value clipping (MXNet's meaning); < 0 disables
  clip_gradient_norm: float = 5.0  # global-norm clipping, as OpenNMT-py; < 0 disables
  weight_decay: float = 0.0
  loss_type: str = "cross-entropy"  # the only one, as SageMaker
  label_smoothing: float = 0.0
  training_metric: str = "perplexity"  # logged on training batches: perplexity or accuracy
  # 'perplexity', 'accuracy', 'bleu' (detokenized sacreBLEU with subwords, else tokenized) or
  # 'chrf' (subwords only)
  optimized_metric: str = "perplexity"
  checkpoint_frequency_num_batches: int = 1000
  checkpoint_threshold: int = 3  # early stop after this many checkpoints without improvement
  max_num_batches: int = -1
  max_num_epochs: int = 0  # 0: no limit
  min_num_epochs: int = 0
  plateau_reduce_lr_factor: float = 0.5
  plateau_reduce_lr_threshold: int = 3
  bleu_sample_size: int = 500  # validation pairs decoded for BLEU; -1: all
  log_every: int = 50
  keep_last_checkpoints: int = 2
  num_examples: int = 5  # example translations printed at the end
  max_nonfinite_in_a_row: int = 10  # skipped non-finite updates in a row that stop the run
  # Gradient accumulation (beyond SageMaker): each device's rows of a batch run as this many
  # micro-batches, one after the other, with the gradients summed before the one update.
  # data.batch_size stays the update's size, so the update is the same as with 1 (equal up to the
  # order of summation, and the dropout masks) at 1/micro_batches of the activation memory.
  micro_batches: int = 1


@dataclasses.dataclass(frozen=True)
class DecodeConfig(JsonFile):
  """Beam search settings; saved with the model (decode_config.json) as its defaults."""
  beam_size: int = 5
  batch_size: int = 64
  length_penalty_alpha: float = 1.0
  length_penalty_beta: float = 0.0
  max_output_length_num_stds: float = 2.0


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
  """The whole run: what `launch.py` hands to the trainer. Its defaults are every key's default
  (configs/common.py's base() is built from them)."""
  seed: int = 13
  data: DataConfig = DataConfig()
  model: ModelSettings = ModelSettings()
  train: TrainConfig = TrainConfig()
  decode: DecodeConfig = DecodeConfig()

  def model_config(self, **data_facts) -> ModelConfig:
    return _build(ModelConfig, {**dataclasses.asdict(self.model), **data_facts}, "model")

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)


def default_configdict():
  """Every key with its default, as the ConfigDict config files start from."""
  import ml_collections  # only the config-file side needs it
  return ml_collections.ConfigDict(ExperimentConfig().to_dict())


def with_values(config, values: dict, where: str):
  """A copy of a config dataclass with `values` replaced, checked as a config file's would be;
  errors name the key as `where` + key (e.g. "--beam_size")."""
  return _build(type(config), {**dataclasses.asdict(config), **values}, where)


def from_configdict(cd) -> ExperimentConfig:
  """Converts the launcher's ConfigDict strictly: every key must be known, every value valid."""
  values = cd.to_dict() if hasattr(cd, "to_dict") else dict(cd)
  _check_keys(values, {f.name for f in dataclasses.fields(ExperimentConfig)}, "config")
  model = _build(ModelSettings, values.get("model", {}), "config.model")
  # Validate the whole model now (with placeholder data facts) so mistakes fail before any data work.
  _build(ModelConfig, {**dataclasses.asdict(model), "vocab_size_source": 8,
                       "vocab_size_target": 8}, "config.model")
  data = _build(DataConfig, values.get("data", {}), "config.data")
  if model.weight_tying_type.startswith("src_trg") and not data.single_vocab:
    raise ConfigError(f"config.model.weight_tying_type='{model.weight_tying_type}' shares the "
                      "source and target embeddings, so it needs one vocabulary: set "
                      "config.data.single_vocab=True")
  return ExperimentConfig(
      seed=_typed(values.get("seed", ExperimentConfig.seed), int, "config.seed"),
      data=data,
      model=model,
      train=_build(TrainConfig, values.get("train", {}), "config.train"),
      decode=_build(DecodeConfig, values.get("decode", {}), "config.decode"))


def _key(where, name):
  """How an error names a key: config.train.learning_rate, or a flag (where='--'): --beam_size."""
  return f"{where}{name}" if where.endswith("-") else f"{where}.{name}"


def _check_keys(values, allowed, where):
  unknown = sorted(set(values) - set(allowed))
  if unknown:
    raise ConfigError(f"unknown key {_key(where, unknown[0])}; known keys: {', '.join(sorted(allowed))}")


def _typed(value, typ, key):
  if typ is float and isinstance(value, int) and not isinstance(value, bool):
    return float(value)
  if typ is int and isinstance(value, float) and value.is_integer():
    return int(value)
  if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
    raise ConfigError(f"{key} must be {typ.__name__}, got {value!r}")
  return value


def _build(cls, values: dict[str, Any], where: str):
  fields = {f.name: f for f in dataclasses.fields(cls)}
  _check_keys(values, fields, where)
  kwargs = {}
  for name, value in values.items():
    key = _key(where, name)
    typ = fields[name].type
    if dataclasses.is_dataclass(typ):
      kwargs[name] = _build(typ, dict(value), key)
      continue
    value = _typed(value, typ, key)
    if name in CHOICES and value not in CHOICES[name]:
      raise ConfigError(f"{key}='{value}' is not allowed; choose one of: {', '.join(CHOICES[name])}")
    kwargs[name] = value
  result = cls(**kwargs)
  _validate(result, where)
  return result


def _validate(c, where):
  def need(ok, key, message):
    if not ok:
      raise ConfigError(f"{_key(where, key)} {message}")
  if isinstance(c, ModelConfig):
    for key in ("num_embed_source", "num_embed_target", "rnn_num_hidden", "num_layers_encoder",
                "num_layers_decoder", "vocab_size_source", "vocab_size_target", "cnn_num_hidden",
                "cnn_kernel_width_encoder", "cnn_kernel_width_decoder", "transformer_model_size",
                "transformer_attention_heads", "transformer_feed_forward_num_hidden"):
      need(getattr(c, key) > 0, key, f"must be positive, got {getattr(c, key)}")
    if c.encoder_type == "rnn":
      need(c.rnn_num_hidden % 2 == 0, "rnn_num_hidden", "must be even with the bidirectional RNN "
           f"encoder (half per direction), got {c.rnn_num_hidden}")
    if c.encoder_type == "cnn":
      need(c.cnn_kernel_width_encoder % 2 == 1, "cnn_kernel_width_encoder", "must be odd (a "
           f"centred window), got {c.cnn_kernel_width_encoder}; allowed: 1, 3, 5, ...")
    if c.decoder_type == "cnn":
      need(c.encoder_num_hidden == c.cnn_num_hidden, "cnn_num_hidden",
           f"({c.cnn_num_hidden}) must equal the encoder's output size "
           f"({c.encoder_num_hidden}): the CNN decoder's dot attention compares them directly")
    for side, kind, embed in (("source", c.encoder_type, c.num_embed_source),
                              ("target", c.decoder_type, c.num_embed_target)):
      if kind == "transformer":
        need(embed == c.transformer_model_size, f"num_embed_{side}",
             f"({embed}) must equal transformer_model_size ({c.transformer_model_size}): the "
             f"Transformer adds positions to the embeddings and sums its layers onto them")
    if "transformer" in (c.encoder_type, c.decoder_type):
      need(c.transformer_model_size % c.transformer_attention_heads == 0,
           "transformer_attention_heads", f"({c.transformer_attention_heads}) must divide "
           f"transformer_model_size ({c.transformer_model_size})")
    for key in ("transformer_preprocess", "transformer_postprocess"):
      need(set(getattr(c, key)) <= set("ndr"), key,
           f"may hold only n (layer norm), d (dropout), r (residual), got '{getattr(c, key)}'")
    need(c.rnn_first_residual_layer >= 2, "rnn_first_residual_layer",
         f"must be >= 2 (the first layer cannot be residual), got {c.rnn_first_residual_layer}")
    need(c.rnn_attention_num_hidden >= 0, "rnn_attention_num_hidden", "must be >= 0 (0: rnn_num_hidden)")
    for key in ("embed_dropout_source", "embed_dropout_target", "rnn_decoder_hidden_dropout",
                "cnn_hidden_dropout", "transformer_dropout_attention", "transformer_dropout_act",
                "transformer_dropout_prepost"):
      need(0.0 <= getattr(c, key) < 1.0, key, f"must be in [0, 1), got {getattr(c, key)}")
    if c.weight_tying_type.endswith("softmax"):
      need(c.num_embed_target == c.decoder_num_hidden, "num_embed_target",
           f"({c.num_embed_target}) must equal the decoder's output size ({c.decoder_num_hidden}) "
           f"with weight_tying_type='{c.weight_tying_type}'")
    if c.weight_tying_type.startswith("src_trg"):
      need(c.num_embed_source == c.num_embed_target, "num_embed_source",
           f"({c.num_embed_source}) must equal num_embed_target ({c.num_embed_target}) with "
           f"weight_tying_type='{c.weight_tying_type}'")
      need(c.vocab_size_source == c.vocab_size_target, "vocab_size_source",
           f"({c.vocab_size_source}) must equal vocab_size_target ({c.vocab_size_target}) with "
           f"weight_tying_type='{c.weight_tying_type}': use one shared vocabulary")
    need(c.weight_init_scale > 0, "weight_init_scale", "must be positive")
  elif isinstance(c, DataConfig):
    for key in ("max_seq_len_source", "max_seq_len_target", "bucket_width", "batch_size"):
      need(getattr(c, key) > 0, key, f"must be positive, got {getattr(c, key)}")
  elif isinstance(c, SubwordConfig):
    # SentencePiece's own limits, said before it reads the corpus
    need(c.vocab_size >= 8, "vocab_size", f"must be at least 8, got {c.vocab_size}")
    need(c.max_sentences > 100, "max_sentences", f"must be over 100, got {c.max_sentences}")
    need(0.9 <= c.character_coverage <= 1.0, "character_coverage",
         f"must be in [0.9, 1], got {c.character_coverage}")
  elif isinstance(c, TrainConfig):
    need(c.learning_rate > 0, "learning_rate", "must be positive")
    need(0.0 <= c.momentum < 1.0, "momentum", f"must be in [0, 1), got {c.momentum}")
    for key in ("adam_beta1", "adam_beta2"):
      need(0.0 <= getattr(c, key) < 1.0, key, f"must be in [0, 1), got {getattr(c, key)}")
    need(c.momentum == 0.0 or c.optimizer_type == "sgd", "momentum",
         f"applies only to optimizer_type='sgd', not '{c.optimizer_type}'; leave it unset")
    need(c.fixed_rate_lr_half_life > 0, "fixed_rate_lr_half_life", "must be positive")
    need(c.learning_rate_warmup >= 0, "learning_rate_warmup", "must be >= 0")
    need(c.lr_scheduler_type != "inv_sqrt_warmup" or c.learning_rate_warmup > 0,
         "learning_rate_warmup", "must be positive with lr_scheduler_type='inv_sqrt_warmup'")
    need(c.weight_decay >= 0, "weight_decay", "must be >= 0")
    need(0.0 < c.plateau_reduce_lr_factor, "plateau_reduce_lr_factor",
         "must be positive (>= 1 turns the plateau scheduler off)")
    need(c.plateau_reduce_lr_threshold > 0, "plateau_reduce_lr_threshold", "must be positive")
    need(c.checkpoint_threshold > 0, "checkpoint_threshold", "must be positive")
    need(c.max_num_epochs >= 0, "max_num_epochs", "must be >= 0 (0: no limit)")
    need(c.min_num_epochs >= 0, "min_num_epochs", "must be >= 0")
    need(c.max_nonfinite_in_a_row > 0, "max_nonfinite_in_a_row", "must be positive")
    need(c.micro_batches >= 1, "micro_batches", "must be >= 1 (1: no gradient accumulation)")
    need(c.checkpoint_frequency_num_batches > 0, "checkpoint_frequency_num_batches", "must be positive")
    need(0.0 <= c.label_smoothing < 1.0, "label_smoothing", "must be in [0, 1)")
  elif isinstance(c, DecodeConfig):
    need(c.beam_size > 0, "beam_size", "must be positive")
    need(c.batch_size > 0, "batch_size", "must be positive")
