"""The one table of swappable parts: encoders, decoders, RNN cells and attention flavours.

Each entry names the module and class that implements it; the module is imported only when the
part is built, so this table imports nothing and `config.py` can take its allowed values from it.
Adding a part is one small module plus one line here.
"""

import importlib

PARTS = {
    "encoder": {
        "rnn": "s2s_jax.models.rnn_encoder:RNNEncoder",
        "cnn": "s2s_jax.models.cnn_encoder:CNNEncoder",
        "transformer": "s2s_jax.models.transformer:TransformerEncoder",
    },
    "decoder": {
        "rnn": "s2s_jax.models.rnn_decoder:RNNDecoder",
        "cnn": "s2s_jax.models.cnn_decoder:CNNDecoder",
        "transformer": "s2s_jax.models.transformer:TransformerDecoder",
    },
    "cell": {
        "lstm": "s2s_jax.models.cells:LSTM",
        "gru": "s2s_jax.models.cells:GRU",
    },
    "attention": {
        "mlp": "s2s_jax.models.attention.mlp:MLPAttention",
        "dot": "s2s_jax.models.attention.dot:DotAttention",
        "dot_scaled": "s2s_jax.models.attention.dot:ScaledDotAttention",
        "bilinear": "s2s_jax.models.attention.bilinear:BilinearAttention",
        "fixed": "s2s_jax.models.attention.fixed:FixedAttention",
        "location": "s2s_jax.models.attention.location:LocationAttention",
        "coverage": "s2s_jax.models.attention.coverage:CoverageAttention",
    },
}


def names(kind: str) -> tuple:
  return tuple(PARTS[kind])


def get(kind: str, name: str):
  """The class registered as `name` of `kind`; KeyError lists the known names."""
  try:
    module, attr = PARTS[kind][name].split(":")
  except KeyError:
    raise KeyError(f"unknown {kind} '{name}'; known: {', '.join(PARTS.get(kind, ()))}") from None
  return getattr(importlib.import_module(module), attr)
