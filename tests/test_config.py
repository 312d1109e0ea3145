"""Config files load, convert strictly and reject what they should, with messages naming the key."""

import pathlib
import subprocess
import sys

import pytest

from configs import common, lstm_attn, tiny
from s2s_jax import config as config_lib
from s2s_jax.errors import ConfigError

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("module,arg", [(lstm_attn, None), (lstm_attn, "data=multi30k"),
                                        (tiny, None)])
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
])
def test_invalid_values_fail_at_config_time(section, key, value, match):
  with pytest.raises(ConfigError, match=match):
    _converted(section, key, value)


def test_model_config_json_rejects_garbage():
  with pytest.raises(ConfigError, match="x.json is not valid JSON"):
    config_lib.ModelConfig.from_json("{", "x.json")


def test_defaults_match_the_base_config():
  """The dataclass defaults and configs/common.py agree, so a key has one default."""
  cfg = config_lib.from_configdict(common.base())
  assert cfg.train == config_lib.TrainConfig()
  assert cfg.data == config_lib.DataConfig()
  assert cfg.decode == config_lib.DecodeConfig()


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
