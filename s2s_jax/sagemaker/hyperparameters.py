"""SageMaker's 49 training hyperparameters (spec §1): names, allowed values, defaults, config keys.

SageMaker passes every value as a string. `to_overrides` parses a hyperparameters.json mapping into
config overrides, failing on an unknown name or an invalid value with the allowed values. The
table holds SageMaker's documented defaults (not this project's, which are in s2s_jax/config.py);
`base_config` applies them, so the table is the contract.
"""

import dataclasses
import re

from s2s_jax import config as config_lib
from s2s_jax.errors import ConfigError

# Names SageMaker itself may add to a job's hyperparameters (automatic model tuning adds
# `_tuning_objective_metric`; the Python SDK's framework estimators add `sagemaker_*`).
IGNORED_PREFIXES = ("_tuning_", "sagemaker_")


@dataclasses.dataclass(frozen=True)
class Hyper:
  name: str
  key: str  # where it lives in the config, e.g. "train.learning_rate"
  kind: str  # int, positive_int, nonneg_int, float, probability, bool, or choice
  default: str | None  # SageMaker's documented default as SageMaker would pass it; None: not set
  choices: tuple = ()
  unset: object = None  # the config value when SageMaker's default is "not set"
  unset_means: str = "not set"  # what that default means, for the README

  def parse(self, text: str):
    """The config value of a SageMaker string, or ConfigError naming the hyperparameter."""
    text = text.strip()
    try:
      if self.kind == "choice":
        if text not in self.choices:
          raise ValueError(f"choose one of: {', '.join(self.choices)}")
        return text
      if self.kind == "bool":
        if text.lower() not in ("true", "false"):
          raise ValueError("must be true or false")
        return text.lower() == "true"
      if self.kind in ("int", "positive_int", "nonneg_int"):
        value = int(text)
        if self.kind == "positive_int" and value <= 0:
          raise ValueError("must be a positive integer")
        if self.kind == "nonneg_int" and value < 0:
          raise ValueError("must be an integer >= 0")
        return value
      value = float(text)
      if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("must be a finite number")
      if self.kind == "probability" and not 0.0 <= value < 1.0:
        raise ValueError("must be a probability in [0, 1)")
      return value
    except ValueError as e:
      reason = str(e) if not str(e).startswith(("invalid literal", "could not convert")) else \
          f"must be {'an integer' if 'int' in self.kind else 'a number'}"
      raise ConfigError(f"hyperparameter {self.name}={text!r}: {reason}") from None


def _choice(name, key, default, *choices):
  return Hyper(name, key, "choice", default, tuple(choices))


TABLE = (
    Hyper("batch_size", "data.batch_size", "positive_int", "64"),
    Hyper("beam_size", "decode.beam_size", "positive_int", "5"),
    Hyper("bleu_sample_size", "train.bleu_sample_size", "int", "0"),
    Hyper("bucket_width", "data.bucket_width", "positive_int", "10"),
    Hyper("bucketing_enabled", "data.bucketing_enabled", "bool", "true"),
    Hyper("checkpoint_frequency_num_batches", "train.checkpoint_frequency_num_batches",
          "positive_int", "1000"),
    Hyper("checkpoint_threshold", "train.checkpoint_threshold", "positive_int", "3"),
    Hyper("clip_gradient", "train.clip_gradient", "float", "1"),
    _choice("cnn_activation_type", "model.cnn_activation_type", "glu",
            "glu", "relu", "softrelu", "sigmoid", "tanh"),
    Hyper("cnn_hidden_dropout", "model.cnn_hidden_dropout", "probability", "0"),
    Hyper("cnn_kernel_width_decoder", "model.cnn_kernel_width_decoder", "positive_int", "5"),
    Hyper("cnn_kernel_width_encoder", "model.cnn_kernel_width_encoder", "positive_int", "3"),
    Hyper("cnn_num_hidden", "model.cnn_num_hidden", "positive_int", "512"),
    _choice("decoder_type", "model.decoder_type", "rnn", "rnn", "cnn"),
    Hyper("embed_dropout_source", "model.embed_dropout_source", "probability", "0"),
    Hyper("embed_dropout_target", "model.embed_dropout_target", "probability", "0"),
    _choice("encoder_type", "model.encoder_type", "rnn", "rnn", "cnn"),
    Hyper("fixed_rate_lr_half_life", "train.fixed_rate_lr_half_life", "positive_int", "10"),
    Hyper("learning_rate", "train.learning_rate", "float", "0.0003"),
    _choice("loss_type", "train.loss_type", "cross-entropy", "cross-entropy"),
    _choice("lr_scheduler_type", "train.lr_scheduler_type", "plateau_reduce",
            "plateau_reduce", "fixed_rate_inv_t", "fixed_rate_inv_sqrt_t"),
    Hyper("max_num_batches", "train.max_num_batches", "int", "-1"),
    Hyper("max_num_epochs", "train.max_num_epochs", "positive_int", None, unset=0,
          unset_means="no limit"),
    Hyper("max_seq_len_source", "data.max_seq_len_source", "positive_int", "100"),
    Hyper("max_seq_len_target", "data.max_seq_len_target", "positive_int", "100"),
    Hyper("min_num_epochs", "train.min_num_epochs", "nonneg_int", "0"),
    Hyper("momentum", "train.momentum", "float", None, unset=0.0, unset_means="no momentum"),
    Hyper("num_embed_source", "model.num_embed_source", "positive_int", "512"),
    Hyper("num_embed_target", "model.num_embed_target", "positive_int", "512"),
    Hyper("num_layers_decoder", "model.num_layers_decoder", "positive_int", "1"),
    Hyper("num_layers_encoder", "model.num_layers_encoder", "positive_int", "1"),
    _choice("optimized_metric", "train.optimized_metric", "perplexity",
            "perplexity", "accuracy", "bleu"),
    _choice("optimizer_type", "train.optimizer_type", "adam", "adam", "sgd", "rmsprop"),
    Hyper("plateau_reduce_lr_factor", "train.plateau_reduce_lr_factor", "float", "0.5"),
    Hyper("plateau_reduce_lr_threshold", "train.plateau_reduce_lr_threshold", "positive_int", "3"),
    Hyper("rnn_attention_in_upper_layers", "model.rnn_attention_in_upper_layers", "bool", "true"),
    Hyper("rnn_attention_num_hidden", "model.rnn_attention_num_hidden", "positive_int", None,
          unset=0, unset_means="rnn_num_hidden"),
    _choice("rnn_attention_type", "model.rnn_attention_type", "mlp", "dot", "fixed", "mlp",
            "bilinear"),
    _choice("rnn_cell_type", "model.rnn_cell_type", "lstm", "lstm", "gru"),
    _choice("rnn_decoder_state_init", "model.rnn_decoder_state_init", "last", "last", "avg", "zero"),
    Hyper("rnn_first_residual_layer", "model.rnn_first_residual_layer", "positive_int", "2"),
    Hyper("rnn_num_hidden", "model.rnn_num_hidden", "positive_int", "1024"),
    Hyper("rnn_residual_connections", "model.rnn_residual_connections", "bool", "false"),
    Hyper("rnn_decoder_hidden_dropout", "model.rnn_decoder_hidden_dropout", "probability", "0"),
    _choice("training_metric", "train.training_metric", "perplexity", "perplexity", "accuracy"),
    Hyper("weight_decay", "train.weight_decay", "float", "0"),
    Hyper("weight_init_scale", "model.weight_init_scale", "float", "2.34"),
    _choice("weight_init_type", "model.weight_init_type", "xavier", "uniform", "xavier"),
    _choice("xavier_factor_type", "model.xavier_factor_type", "in", "in", "out", "avg"),
)
BY_NAME = {h.name: h for h in TABLE}
BY_KEY = {h.key: h for h in TABLE}


def defaults() -> dict:
  """{config key: value} of SageMaker's documented defaults."""
  return {h.key: h.unset if h.default is None else h.parse(h.default) for h in TABLE}


def base_config():
  """SageMaker's built-in seq2seq, default for default: this project's ConfigDict with every
  hyperparameter at SageMaker's documented value, RecordIO channels as data, and no global-norm
  clipping (SageMaker has only the element-wise `clip_gradient`)."""
  c = config_lib.default_configdict()
  for key, value in defaults().items():
    section, name = key.split(".")
    c[section][name] = value
  c.data.source = "rec"
  c.data.length_policy = "truncate"  # SageMaker's documentation: over-long sequences are truncated
  c.train.clip_gradient_norm = -1.0
  return c


def to_overrides(hyperparameters: dict, where: str = "hyperparameters") -> dict:
  """{config key: value} from SageMaker's {name: string} mapping (non-strings are accepted as their
  JSON text, e.g. 64 or true). Unknown names fail, listing the known ones."""
  if not isinstance(hyperparameters, dict):
    raise ConfigError(f"{where}: expected a JSON object of name: value, got "
                      f"{type(hyperparameters).__name__}")
  out = {}
  for name, value in hyperparameters.items():
    if name.startswith(IGNORED_PREFIXES):
      continue
    if name not in BY_NAME:
      raise ConfigError(f"{where}: unknown hyperparameter '{name}'; known: "
                        f"{', '.join(sorted(BY_NAME))}")
    if isinstance(value, bool):
      value = "true" if value else "false"
    elif isinstance(value, (int, float)):
      value = repr(value)
    elif not isinstance(value, str):
      raise ConfigError(f"{where}: hyperparameter {name} must be a string, got {value!r}")
    out[BY_NAME[name].key] = BY_NAME[name].parse(value)
  return out


def name_config_errors(message: str) -> str:
  """Adds the SageMaker name to a ConfigError that names a config key from the table."""
  return re.sub(r"config\.(\w+\.\w+)\b", lambda m: f"hyperparameter {BY_KEY[m[1]].name} "
                f"({m[0]})" if m[1] in BY_KEY else m[0], message)


def markdown_table() -> str:
  """The README's table (a test checks the README holds exactly this)."""
  def allowed(h):
    return {"choice": ", ".join(h.choices), "bool": "true, false", "int": "integer",
            "positive_int": "integer > 0", "nonneg_int": "integer >= 0", "float": "number",
            "probability": "0 <= p < 1"}[h.kind]
  rows = ["| hyperparameter | allowed | SageMaker default | config key |", "|---|---|---|---|"]
  for h in TABLE:
    default = h.default if h.default is not None else f"{h.unset_means} (config: {h.unset!r})"
    rows.append(f"| `{h.name}` | {allowed(h)} | {default} | `{h.key}` |")
  return "\n".join(rows)
