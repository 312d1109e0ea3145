"""Config files load, convert strictly and reject what they should, with messages naming the key."""

import dataclasses
import pathlib
import subprocess
import sys

import pytest

from configs import cnn, common, gnmt_residual, gru_attn, lstm_attn, mixed, sockeye_system, tiny
from s2s_jax import config as config_lib
from s2s_jax.errors import ConfigError

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("module,arg", [
    (lstm_attn, None), (lstm_attn, "data=multi30k"), (lstm_attn, "data=multi30k,peers=true"),
    (gru_attn, None), (gru_attn, "data=multi30k"), (cnn, None), (cnn, "data=multi30k"),
    (gnmt_residual, None), (gnmt_residual, "data=multi30k"), (mixed, None),
    (mixed, "pair=rnn-cnn,data=multi30k"), (sockeye_system, "task=sort,family=cnn"),
    (sockeye_system, "task=copy,family=gru"), (tiny, None)])
def test_every_config_converts(module, arg):
  cfg = config_lib.from_configdict(module.get_config(arg))
  model = cfg.model_config(vocab_size_source=10, vocab_size_target=12)
  assert model.vocab_size_target == 12
  assert config_lib.ModelConfig.from_json(model.to_json()) == model


def test_unknown_variant_is_named():
  with pytest.raises(ValueError, match="unknown config variant 'dta'"):
    lstm_attn.get_config("dta=multi30k")


def _converted(section, key, value):
  cd = tiny.get_config()
  with cd.unlocked():
    cd[section][key] = value
  return config_lib.from_configdict(cd)


@pytest.mark.parametrize("section,key,value,match", [
    ("model", "rnn_attention_type", "luong", "rnn_attention_type='luong' is not allowed; choose one of: mlp"),
    ("model", "rnn_cell_type", "tree", "rnn_cell_type='tree' is not allowed"),
    ("model", "rnn_num_hidden", 15, "rnn_num_hidden must be even"),
    ("model", "embed_dropout_source", 1.5, r"embed_dropout_source must be in \[0, 1\)"),
    ("model", "num_hiden", 3, "unknown key config.model.num_hiden; known keys:"),
    ("train", "optimized_metric", "loss", "optimized_metric='loss' is not allowed; choose one of: "
     "perplexity, accuracy, bleu"),
    ("data", "batch_size", 0, "batch_size must be positive"),
    ("train", "adam_beta2", 1.0, r"adam_beta2 must be in \[0, 1\), got 1.0"),
    ("model", "dtype", "float16", "dtype='float16' is not allowed; choose one of: float32, bfloat16"),
])
def test_invalid_values_fail_at_config_time(section, key, value, match):
  with pytest.raises(ConfigError, match=match):
    _converted(section, key, value)


@pytest.mark.parametrize("values,match", [
    (dict(encoder_type="lstm"),
     "encoder_type='lstm' is not allowed; choose one of: rnn, cnn, transformer"),
    (dict(decoder_type="tcn"), "decoder_type='tcn' is not allowed; choose one of: rnn, cnn"),
    (dict(rnn_cell_type="lnlstm"), "rnn_cell_type='lnlstm' is not allowed; choose one of: lstm, gru"),
    (dict(rnn_attention_type="mhdot"), "choose one of: mlp, dot, dot_scaled, bilinear, fixed, "
     "location, coverage"),
    (dict(cnn_activation_type="gelu"), "choose one of: glu, relu, softrelu, sigmoid, tanh"),
    (dict(encoder_type="cnn", cnn_kernel_width_encoder=4),
     r"cnn_kernel_width_encoder must be odd \(a centred window\), got 4; allowed: 1, 3, 5"),
    (dict(rnn_num_hidden=15), "rnn_num_hidden must be even with the bidirectional RNN encoder"),
    (dict(decoder_type="cnn", rnn_num_hidden=16, cnn_num_hidden=32),
     r"cnn_num_hidden \(32\) must equal the encoder's output size \(16\)"),
    (dict(encoder_type="transformer", num_embed_source=8, transformer_model_size=16),
     r"num_embed_source \(8\) must equal transformer_model_size \(16\)"),
    (dict(decoder_type="transformer", num_embed_target=12, transformer_model_size=12,
          transformer_attention_heads=5),
     r"transformer_attention_heads \(5\) must divide transformer_model_size \(12\)"),
    (dict(transformer_postprocess="drx"),
     r"transformer_postprocess may hold only n \(layer norm\), d \(dropout\), r \(residual\), "
     "got 'drx'"),
    (dict(transformer_activation_type="tanh"), "choose one of: relu, gelu, swish1"),
    (dict(weight_tying_type="trg_softmax", num_embed_target=8, rnn_num_hidden=16),
     r"num_embed_target \(8\) must equal the decoder's output size \(16\)"),
    (dict(weight_tying_type="src_trg", num_embed_source=8, num_embed_target=16),
     r"num_embed_source \(8\) must equal num_embed_target \(16\)"),
    (dict(weight_tying_type="src_trg"), "needs one vocabulary: set config.data.single_vocab=True"),
    (dict(rnn_first_residual_layer=1), "rnn_first_residual_layer must be >= 2"),
    (dict(weight_tying_type="all"), "choose one of: none, trg_softmax, src_trg, src_trg_softmax"),
])
def test_invalid_architectures_fail_at_config_time(values, match):
  cd = tiny.get_config()
  cd.model.update(values)
  with pytest.raises(ConfigError, match=match):
    config_lib.from_configdict(cd)


def test_an_odd_rnn_size_is_fine_without_the_bidirectional_encoder():
  cd = tiny.get_config()
  cd.model.update(encoder_type="cnn", rnn_num_hidden=15, cnn_num_hidden=16)
  assert config_lib.from_configdict(cd).model.rnn_num_hidden == 15


def test_shared_vocabulary_sizes_are_checked_when_the_model_is_built():
  cd = tiny.get_config()
  cd.model.weight_tying_type = "src_trg"
  cd.data.single_vocab = True
  cfg = config_lib.from_configdict(cd)
  with pytest.raises(ConfigError, match=r"vocab_size_source \(10\) must equal vocab_size_target"):
    cfg.model_config(vocab_size_source=10, vocab_size_target=12)


def test_the_registry_is_where_the_allowed_names_come_from():
  from s2s_jax.models import registry
  for kind, key in (("encoder", "encoder_type"), ("decoder", "decoder_type"),
                    ("cell", "rnn_cell_type"), ("attention", "rnn_attention_type")):
    assert config_lib.CHOICES[key] == registry.names(kind)
    for name in registry.names(kind):
      assert registry.get(kind, name).__name__  # every entry imports
  from s2s_jax.models import convolution
  assert tuple(convolution.ACTIVATIONS) == config_lib.CHOICES["cnn_activation_type"]
  with pytest.raises(KeyError, match="unknown attention 'x'; known: mlp, dot"):
    registry.get("attention", "x")


def test_model_config_json_rejects_garbage():
  with pytest.raises(ConfigError, match="x.json is not valid JSON"):
    config_lib.ModelConfig.from_json("{", "x.json")


def test_the_base_config_is_the_dataclass_defaults():
  """configs/common.py's base() is built from the dataclasses, every section the model's included,
  so each key has one default; the model section is typed, not a dict."""
  cfg = config_lib.from_configdict(common.base())
  assert cfg == config_lib.ExperimentConfig()
  assert isinstance(cfg.model, config_lib.ModelSettings)
  assert set(common.base().model) == {f.name for f in dataclasses.fields(config_lib.ModelSettings)}
  data_facts = ({f.name for f in dataclasses.fields(config_lib.ModelConfig)}
                - set(common.base().model))
  assert data_facts == {"vocab_size_source", "vocab_size_target", "length_ratio_mean",
                        "length_ratio_std", "max_seq_len_source", "max_seq_len_target"}


def _launch(*args):
  return subprocess.run([sys.executable, "launch.py", *args], cwd=ROOT, capture_output=True,
                        text=True, timeout=120)


def test_launch_rejects_unknown_override_in_one_line(tmp_path):
  out = _launch("--config=configs/tiny.py", "--config.model.rnn_hidden=8", f"--workdir={tmp_path}")
  assert out.returncode != 0
  assert "rnn_hidden" in out.stderr
  assert "Traceback" not in out.stderr


def test_launch_reports_missing_text_data_in_one_line(tmp_path):
  out = _launch("--config=configs/lstm_attn.py:data=multi30k", f"--config.data.text.dir={tmp_path}",
                f"--workdir={tmp_path / 'run'}")
  assert out.returncode == 2
  assert out.stderr.strip().splitlines()[-1] == f"error: text data: {tmp_path}/train.en does not exist"
  assert "Traceback" not in out.stderr


def test_the_train_command_without_a_config_says_so_in_one_line(tmp_path):
  out = subprocess.run([sys.executable, "-m", "s2s_jax.bin.train", f"--workdir={tmp_path}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert out.returncode == 2 and "Traceback" not in out.stderr
  assert out.stderr.strip() == ("error: --config=FILE[:variant] is needed, e.g. "
                                "--config=configs/lstm_attn.py")
