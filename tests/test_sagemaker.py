"""SageMaker training mode: the hyperparameter table, the /opt/ml layout, the failure file, and an
end-to-end job on channels written with the SageMaker SDK's record writer."""

import io
import json
import os
import pathlib
import re
import sys

import jax
import numpy as np
import optax
import pytest

import subprocesses

from configs import common
from configs import sagemaker as sagemaker_config
from s2s_jax import config as config_lib
from s2s_jax import checkpoint, optim
from s2s_jax.config import DecodeConfig, TrainConfig
from s2s_jax.data import synthetic
from s2s_jax.data import vocab as vocab_lib
from s2s_jax.errors import ConfigError
from s2s_jax.sagemaker import hyperparameters, training
from s2s_jax.sagemaker.layout import Layout

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
ROOT = pathlib.Path(__file__).resolve().parents[1]
SPEC = ROOT.parent / "shared" / "spec" / "SAGEMAKER_SEQ2SEQ.md"

# A valid non-default value for every hyperparameter (with what it needs alongside).
OTHER_VALUE = {
    "batch_size": "32", "beam_size": "3", "bleu_sample_size": "100", "bucket_width": "5",
    "bucketing_enabled": "false", "checkpoint_frequency_num_batches": "50",
    "checkpoint_threshold": "5", "clip_gradient": "-1", "cnn_activation_type": "relu",
    "cnn_hidden_dropout": "0.2", "cnn_kernel_width_decoder": "3", "cnn_kernel_width_encoder": "5",
    "cnn_num_hidden": "256", "decoder_type": "cnn", "embed_dropout_source": "0.1",
    "embed_dropout_target": "0.1", "encoder_type": "cnn", "fixed_rate_lr_half_life": "20",
    "learning_rate": "0.001", "loss_type": None, "lr_scheduler_type": "fixed_rate_inv_t",
    "max_num_batches": "2000", "max_num_epochs": "7", "max_seq_len_source": "50",
    "max_seq_len_target": "60", "min_num_epochs": "2", "momentum": "0.9",
    "num_embed_source": "256", "num_embed_target": "128", "num_layers_decoder": "2",
    "num_layers_encoder": "3", "optimized_metric": "bleu", "optimizer_type": "rmsprop",
    "plateau_reduce_lr_factor": "0.3", "plateau_reduce_lr_threshold": "2",
    "rnn_attention_in_upper_layers": "false", "rnn_attention_num_hidden": "128",
    "rnn_attention_type": "bilinear", "rnn_cell_type": "gru", "rnn_decoder_state_init": "zero",
    "rnn_first_residual_layer": "3", "rnn_num_hidden": "512", "rnn_residual_connections": "true",
    "rnn_decoder_hidden_dropout": "0.3", "training_metric": "accuracy", "weight_decay": "0.01",
    "weight_init_scale": "1.5", "weight_init_type": "uniform", "xavier_factor_type": "avg",
}
NEEDS = {"momentum": {"optimizer_type": "sgd"}, "decoder_type": {"encoder_type": "cnn"}}


def _experiment(hyper: dict) -> config_lib.ExperimentConfig:
  return training.build_config(hyper)


def _value(cfg, key):
  section, name = key.split(".")
  return getattr(getattr(cfg, section), name)


def test_the_table_is_the_documented_list():
  names = [h.name for h in hyperparameters.TABLE]
  assert len(names) == len(set(names)) == 49  # the spec's table (its heading says 47)
  if SPEC.exists():
    section = SPEC.read_text().split("## 1. Training")[1].split("### 1.1")[0]
    documented = [n for n in re.findall(r"^\| ([a-z_]+) \|", section, flags=re.M) if n != "name"]
    assert sorted(documented) == sorted(names)
  base = common.base()
  for h in hyperparameters.TABLE:  # each is also a key of every config, usable as an override
    section, name = h.key.split(".")
    assert name == h.name and name in base[section], h


def test_sagemaker_config_has_every_documented_default():
  cfg = config_lib.from_configdict(sagemaker_config.get_config())
  for h in hyperparameters.TABLE:
    expected = h.unset if h.default is None else h.parse(h.default)
    assert _value(cfg, h.key) == expected, h.name
  assert cfg.train.learning_rate == 3e-4 and cfg.model.weight_init_scale == 2.34
  assert cfg.train.clip_gradient_norm < 0 and cfg.data.source == "rec"


@pytest.mark.parametrize("name", [h.name for h in hyperparameters.TABLE])
def test_every_hyperparameter_changes_the_config(name):
  if OTHER_VALUE[name] is None:  # loss_type: one allowed value, anything else fails
    with pytest.raises(ConfigError, match="loss_type='hinge'.*cross-entropy"):
      _experiment({name: "hinge"})
    return
  default = _experiment(NEEDS.get(name, {}))
  changed = _experiment({**NEEDS.get(name, {}), name: OTHER_VALUE[name]})
  key = hyperparameters.BY_NAME[name].key
  assert _value(changed, key) != _value(default, key)
  assert _value(changed, key) == hyperparameters.BY_NAME[name].parse(OTHER_VALUE[name])


@pytest.mark.parametrize("hyper, match", [
    ({"learning_rat": "0.1"}, "unknown hyperparameter 'learning_rat'; known: batch_size, "),
    ({"batch_size": "sixty"}, "batch_size='sixty': must be an integer"),
    ({"batch_size": "0"}, "batch_size='0': must be a positive integer"),
    ({"learning_rate": "nan"}, "learning_rate='nan': must be a finite number"),
    ({"learning_rate": "-1"}, r"hyperparameter learning_rate \(config.train.learning_rate\) must "
     "be positive"),
    ({"bucketing_enabled": "yes"}, "bucketing_enabled='yes': must be true or false"),
    ({"rnn_cell_type": "lstmx"}, "rnn_cell_type='lstmx': choose one of: lstm, gru"),
    ({"embed_dropout_source": "1.5"}, r"must be a probability in \[0, 1\)"),
    ({"momentum": "0.9"}, r"hyperparameter momentum \(config.train.momentum\) applies only to "
     "optimizer_type='sgd', not 'adam'"),
    ({"rnn_num_hidden": "513"}, r"hyperparameter rnn_num_hidden .* must be even"),
    ({"cnn_kernel_width_encoder": "4", "encoder_type": "cnn"}, "must be odd"),
    ({"min_num_epochs": "-1"}, "must be an integer >= 0"),
    ({"beam_size": ["5"]}, "beam_size must be a string"),
])
def test_invalid_hyperparameters_are_named(hyper, match):
  with pytest.raises(ConfigError, match=match):
    _experiment(hyper)


def test_max_num_epochs_turns_early_stopping_off_until_then():
  assert _experiment({"max_num_epochs": "5"}).train.min_num_epochs == 5
  assert _experiment({"max_num_epochs": "5", "min_num_epochs": "7"}).train.min_num_epochs == 7
  assert _experiment({}).train.min_num_epochs == 0


def test_non_string_values_and_sagemaker_added_names():
  cfg = _experiment({"batch_size": 32, "bucketing_enabled": False, "learning_rate": 0.01,
                     "_tuning_objective_metric": "validation:bleu", "sagemaker_region": "x"})
  assert (cfg.data.batch_size, cfg.data.bucketing_enabled, cfg.train.learning_rate) == \
      (32, False, 0.01)
  with pytest.raises(ConfigError, match="expected a JSON object"):
    hyperparameters.to_overrides(["batch_size"])


def test_fixed_rate_schedules_halve_after_the_half_life():
  cfg = TrainConfig(fixed_rate_lr_half_life=3, checkpoint_frequency_num_batches=100)
  for kind in ("fixed_rate_inv_t", "fixed_rate_inv_sqrt_t"):
    c = TrainConfig(**{**vars(cfg), "lr_scheduler_type": kind})
    assert float(optim.schedule_factor(c, 0)) == 1.0
    assert float(optim.schedule_factor(c, 300)) == pytest.approx(0.5)
  inv_t = TrainConfig(**{**vars(cfg), "lr_scheduler_type": "fixed_rate_inv_t"})
  assert float(optim.schedule_factor(inv_t, 900)) == pytest.approx(0.25)
  sqrt_t = TrainConfig(**{**vars(cfg), "lr_scheduler_type": "fixed_rate_inv_sqrt_t"})
  assert float(optim.schedule_factor(sqrt_t, 900)) == pytest.approx(1 / np.sqrt(10))
  assert float(optim.schedule_factor(cfg, 10**6)) == 1.0  # plateau_reduce: no fixed decay
  warm = TrainConfig(learning_rate_warmup=4)
  assert [float(optim.schedule_factor(warm, t)) for t in range(5)] == [0.25, 0.5, 0.75, 1, 1]


def _updates(cfg: TrainConfig, grads):
  """The parameter updates the optimizer makes for a sequence of gradients of one scalar."""
  tx = optim.make_optimizer(cfg)
  params = {"w": np.float32(1.0)}
  state, out = tx.init(params), []
  for g in grads:
    update, state = tx.update({"w": np.float32(g)}, state, params)
    params = optax.apply_updates(params, update)
    out.append(float(update["w"]))
  return out, state


def test_optimizers_follow_mxnet():
  plain = dict(clip_gradient_norm=-1.0, learning_rate=0.1)
  sgd, _ = _updates(TrainConfig(optimizer_type="sgd", **plain), [1.0, 1.0])
  assert sgd == pytest.approx([-0.1, -0.1])
  momentum, _ = _updates(TrainConfig(optimizer_type="sgd", momentum=0.5, **plain), [1.0, 1.0])
  assert momentum == pytest.approx([-0.1, -0.15])  # v = 0.5 v + g
  rms, _ = _updates(TrainConfig(optimizer_type="rmsprop", **plain), [2.0])
  assert rms == pytest.approx([-0.1 * 2.0 / np.sqrt(0.1 * 4.0)], rel=1e-4)
  clipped, _ = _updates(TrainConfig(optimizer_type="sgd", clip_gradient=0.5, **plain), [3.0])
  assert clipped == pytest.approx([-0.05])  # element-wise clip to 0.5
  decay, _ = _updates(TrainConfig(optimizer_type="sgd", weight_decay=0.1, **plain), [0.0])
  assert decay == pytest.approx([-0.01])  # wd * w added to the gradient
  cfg = TrainConfig(optimizer_type="sgd", lr_scheduler_type="fixed_rate_inv_t",
                    fixed_rate_lr_half_life=1, checkpoint_frequency_num_batches=2, **plain)
  steps, state = _updates(cfg, [1.0] * 3)
  assert steps == pytest.approx([-0.1, -0.1 / 1.5, -0.05])
  assert optim.learning_rate(state, cfg) == pytest.approx(0.1 / 2.5)


def test_layout_roots_and_sagemaker_variables(tmp_path):
  default = Layout.from_env(env={})
  assert default.hyperparameters == "/opt/ml/input/config/hyperparameters.json"
  assert default.channels["vocab"] == "/opt/ml/input/data/vocab"
  assert (default.model, default.failure) == ("/opt/ml/model", "/opt/ml/output/failure")
  moved = Layout.from_env(env={"S2S_SAGEMAKER_ROOT": str(tmp_path),
                               "SM_CHANNEL_TRAIN": "/data/train", "SM_MODEL_DIR": "/m"})
  assert moved.channels["train"] == "/data/train" and moved.model == "/m"
  assert moved.channels["validation"] == str(tmp_path / "input" / "data" / "validation")
  assert Layout.from_env(str(tmp_path / "flag"), env={"S2S_SAGEMAKER_ROOT": "/x"}).model == \
      str(tmp_path / "flag" / "model")


def _write_channels(root: pathlib.Path, hyper: dict, num_train=400):
  """A fake /opt/ml: records written with the SageMaker SDK's writer, as a SageMaker user would."""
  sagemaker_common = pytest.importorskip("sagemaker.amazon.common")
  record_pb2 = pytest.importorskip("sagemaker.amazon.record_pb2")
  src, trg = synthetic.generate_task("copy", num_train + 40, 6, seed=3, num_symbols=8)
  vocab = vocab_lib.build_vocab(src + trg)
  data = root / "input" / "data"
  for channel, part in (("train", slice(0, num_train)), ("validation", slice(num_train, None))):
    buf = io.BytesIO()
    for s, t in zip(src[part], trg[part]):
      record = record_pb2.Record()
      record.features["source"].int32_tensor.values.extend(vocab_lib.ids_from_tokens(s, vocab))
      record.features["target"].int32_tensor.values.extend(vocab_lib.ids_from_tokens(t, vocab))
      sagemaker_common._write_recordio(buf, record.SerializeToString())
    (data / channel).mkdir(parents=True)
    (data / channel / f"{channel}.rec").write_bytes(buf.getvalue())
  (data / "vocab").mkdir()
  vocab_lib.save_vocab(vocab, data / "vocab" / "vocab.src.json")
  vocab_lib.save_vocab(vocab, data / "vocab" / "vocab.trg.json")
  (root / "input" / "config").mkdir(parents=True)
  (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyper))


# A broad mix of the names, sized to train in seconds.
JOB = {
    "batch_size": "16", "beam_size": "2", "bleu_sample_size": "16", "bucket_width": "4",
    "bucketing_enabled": "true", "checkpoint_frequency_num_batches": "6",
    "checkpoint_threshold": "3", "clip_gradient": "5", "encoder_type": "rnn",
    "decoder_type": "rnn", "embed_dropout_source": "0.1", "embed_dropout_target": "0.1",
    "learning_rate": "0.05", "loss_type": "cross-entropy",
    "lr_scheduler_type": "fixed_rate_inv_sqrt_t", "fixed_rate_lr_half_life": "2",
    "max_num_batches": "12", "max_seq_len_source": "8", "max_seq_len_target": "9",
    "min_num_epochs": "0", "momentum": "0.9", "num_embed_source": "8", "num_embed_target": "8",
    "num_layers_decoder": "1", "num_layers_encoder": "1", "optimized_metric": "bleu",
    "optimizer_type": "sgd", "rnn_attention_type": "dot", "rnn_cell_type": "gru",
    "rnn_decoder_state_init": "avg", "rnn_num_hidden": "16", "rnn_attention_num_hidden": "16",
    "rnn_decoder_hidden_dropout": "0.1", "training_metric": "accuracy", "weight_decay": "0.0001",
    "weight_init_type": "uniform", "weight_init_scale": "0.1", "xavier_factor_type": "avg",
    "_tuning_objective_metric": "validation:bleu",
}


# slow: the job as its own program with the production malloc setting, then its rerun (18 s).
@pytest.mark.slow
def test_a_sagemaker_job_end_to_end(tmp_path):
  _write_channels(tmp_path, JOB)
  production = {k: v for k, v in os.environ.items() if k != "S2S_JAX_MALLOC"}  # conftest's opt-out
  job = subprocesses.python("launch.py", "--sagemaker", f"--sagemaker_root={tmp_path}",
                            timeout=600, env=production)
  assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
  if sys.platform.startswith("linux") and "malloc" not in os.environ.get("LD_PRELOAD", ""):
    assert "malloc: one arena, freed memory kept for reuse" in job.stdout  # the production setting
  assert not (tmp_path / "output" / "failure").exists()
  # What a SageMaker metric definition would pick up from the log.
  bleu = re.findall(r"validation:bleu=([0-9.]+)", job.stdout)
  assert len(bleu) == 2 and all(0.0 <= float(b) <= 1.0 for b in bleu)
  assert re.search(r"train:accuracy=([0-9.]+)", job.stdout)
  model = tmp_path / "model"
  assert sorted(p.name for p in model.iterdir()) == [
      "decode_config.json", "manifest.json", "model_config.json", "params", "vocab.src.json",
      "vocab.trg.json"]
  saved = json.loads((model / "model_config.json").read_text())
  assert (saved["rnn_cell_type"], saved["rnn_attention_type"], saved["rnn_num_hidden"]) == \
      ("gru", "dot", 16)
  from s2s_jax.inference import Translator
  translator = Translator.load(str(model), DecodeConfig(beam_size=2, batch_size=4))
  out = translator.translate([["1", "2", "3"], []], with_attention=True)
  assert len(out) == 2 and out[1].tokens == []
  assert out[0].attention.shape == (len(out[0].tokens), 3)
  # A rerun of the finished job trains no further and exports the same model again.
  before = checkpoint.load_model(str(model))[1]
  steps = sorted(p.name for p in (tmp_path / "checkpoints" / "checkpoints").iterdir())
  assert training.main(str(tmp_path)) == 0
  assert sorted(p.name for p in (tmp_path / "checkpoints" / "checkpoints").iterdir()) == steps
  after = checkpoint.load_model(str(model))[1]
  for x, y in zip(jax.tree_util.tree_leaves(before), jax.tree_util.tree_leaves(after), strict=True):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  sessions = json.loads((tmp_path / "checkpoints" / "manifest.json").read_text())["sessions"]
  assert [s["resumed"] for s in sessions] == [False, True]
  assert sessions[-1]["steps"] == sessions[0]["steps"]


def _truncate(path, drop_bytes):
  path.write_bytes(path.read_bytes()[:-drop_bytes])


@pytest.mark.parametrize("damage, match", [
    (lambda root: (root / "input/data/validation/validation.rec").unlink(),
     "validation channel: .*validation is empty"),
    (lambda root: os.rename(root / "input/data/vocab", root / "elsewhere"),
     "vocab channel: .*vocab is missing"),
    (lambda root: (root / "input/config/hyperparameters.json").write_text('{"batch_size": "x"'),
     "hyperparameters.json is not valid JSON"),
    (lambda root: (root / "input/config/hyperparameters.json").write_text('{"rnn_cel": "gru"}'),
     "unknown hyperparameter 'rnn_cel'"),
    (lambda root: (root / "input/data/train/train.rec").write_bytes(b"\x00" * 16),
     "train.rec: bad magic number .* record 0"),
    (lambda root: (root / "input/data/vocab/vocab.trg.json").write_text('{"a": 0}'),
     "vocab.trg.json"),
    (lambda root: _truncate(root / "input/data/train/train.rec", 7),
     "train.rec: truncated record 19"),
    (lambda root: (root / "input/data/vocab/vocab.src.json").write_text(
        json.dumps({"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, "1": 4})),
     "train.rec: record 0: source token id 11 is outside the source vocabulary"),
])
def test_a_failing_job_writes_the_reason(tmp_path, damage, match):
  _write_channels(tmp_path, {"max_num_batches": "1"}, num_train=20)
  damage(tmp_path)
  assert training.main(str(tmp_path)) == 2
  reason = (tmp_path / "output" / "failure").read_text()
  assert reason.startswith("error: ") and re.search(match, reason), reason
  assert not (tmp_path / "model").exists()


def test_the_readme_lists_every_hyperparameter():
  assert hyperparameters.markdown_table() in (ROOT / "README.md").read_text()
