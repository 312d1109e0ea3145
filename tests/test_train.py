"""End to end on the tiny config: train, checkpoint, resume, translate; 1 vs 4 devices."""

import json
import re

import jax
import numpy as np
import pytest

from conftest import tiny_config
from s2s_jax import checkpoint, trainer
from s2s_jax.config import DecodeConfig
from s2s_jax.errors import UserError
from s2s_jax.inference import Translator


def _lines(workdir, key):
  with open(workdir / "metrics.jsonl") as f:
    return [(r["step"], r[key]) for r in map(json.loads, f) if key in r]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """An uninterrupted 8-update run and one stopped after 4 updates and restarted."""
  full, split = tmp_path_factory.mktemp("full"), tmp_path_factory.mktemp("split")
  trainer.train(tiny_config(), str(full))
  first = trainer.train(tiny_config(train__max_num_batches=4), str(split))
  second = trainer.train(tiny_config(), str(split), allow_changes=["train.max_num_batches"])
  return full, split, first, second


def test_workdir_holds_everything_inference_needs(trained):
  full, *_ = trained
  for name in ("model_config.json", "vocab.src.json", "vocab.trg.json", "metrics.jsonl"):
    assert (full / name).is_file()
  assert sorted(p.name for p in (full / "checkpoints").iterdir()) == ["4", "8"]
  assert 1 <= len(list((full / "best").iterdir())) <= 2  # the best and the one before
  assert list((full / "tensorboard").iterdir())
  assert [s for s, _ in _lines(full, "validation:perplexity")] == [4, 8]


def test_resumed_run_ends_where_an_uninterrupted_one_does(trained):
  full, split, first, second = trained
  assert first["steps"] == 4 and second["steps"] == 8
  assert _lines(split, "validation:perplexity")[-1] == pytest.approx(
      _lines(full, "validation:perplexity")[-1], rel=1e-6)
  a = checkpoint.load_model(str(full), "latest")[1]
  b = checkpoint.load_model(str(split), "latest")[1]
  for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
    np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)


def test_translator_loads_the_workdir_alone(trained):
  full, *_ = trained
  translator = Translator.load(str(full), DecodeConfig(beam_size=2, batch_size=4))
  out = translator.translate([["1", "2", "3"], [], ["7", "unknown-token"]], with_attention=True)
  assert out[1].tokens == [] and len(out) == 3
  assert out[0].attention.shape == (len(out[0].tokens), 3)


def test_a_workdir_with_another_model_is_refused(trained):
  full, *_ = trained
  with pytest.raises(UserError, match="holds a model with a different config.*rnn_num_hidden: 16 -> 32.*another --workdir"):
    trainer.train(tiny_config(model__rnn_num_hidden=32), str(full))


def test_same_losses_on_one_and_four_devices(tmp_path):
  assert len(jax.devices()) >= 4
  cfg = tiny_config(train__max_num_batches=6, train__checkpoint_frequency_num_batches=6,
                    train__bleu_sample_size=0)
  runs = {}
  for n in (1, 4):
    trainer.train(cfg, str(tmp_path / str(n)), devices=jax.devices()[:n])
    runs[n] = (_lines(tmp_path / str(n), "train:perplexity"),
               _lines(tmp_path / str(n), "validation:perplexity"))
  for one, four in zip(runs[1], runs[4]):
    assert [s for s, _ in one] == [s for s, _ in four]
    np.testing.assert_allclose([v for _, v in one], [v for _, v in four], rtol=1e-5)


def _launch(*args):
  import pathlib
  import subprocess
  import sys
  root = pathlib.Path(__file__).resolve().parents[1]
  return subprocess.run([sys.executable, "launch.py", *args], cwd=root, capture_output=True,
                        text=True, timeout=300)


def test_translate_command_writes_one_line_per_input(trained, tmp_path):
  full, *_ = trained
  (tmp_path / "in.txt").write_text("1 2 3\n\n4  5\n")
  (tmp_path / "ref.txt").write_text("1 2 3\n\n4 5\n")
  out = _launch("--mode=translate", f"--workdir={full}", f"--input={tmp_path / 'in.txt'}",
                f"--output={tmp_path / 'out.txt'}", f"--reference={tmp_path / 'ref.txt'}",
                "--checkpoint=8", "--beam_size=1")
  assert out.returncode == 0, out.stderr[-2000:]
  assert len((tmp_path / "out.txt").read_text().split("\n")) == 4  # 3 lines + final newline
  assert "BLEU = " in out.stderr
  bad = _launch("--mode=translate", f"--workdir={full}", f"--input={tmp_path / 'in.txt'}",
                "--checkpoint=3")
  assert bad.returncode == 2 and "has no checkpoint '3'; kept steps: [4, 8]" in bad.stderr
  assert "Traceback" not in bad.stderr
  missing = _launch("--mode=translate", f"--workdir={tmp_path}", f"--input={tmp_path / 'in.txt'}")
  assert missing.returncode == 2 and "is not a model directory" in missing.stderr


def test_translate_command_writes_nbest_lists_as_json_lines(trained, tmp_path):
  full, *_ = trained
  (tmp_path / "in.txt").write_text("1 2 3\n\n4 5\n")
  out = _launch("--mode=translate", f"--workdir={full}", f"--input={tmp_path / 'in.txt'}",
                f"--output={tmp_path / 'out.jsonl'}", "--beam_size=2", "--nbest=2")
  assert out.returncode == 0, out.stderr[-2000:]
  lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
  assert len(lines) == 3 and lines[1] == {"translations": [""], "scores": [0.0]}
  for line in (lines[0], lines[2]):
    assert len(line["translations"]) == 2 and line["scores"] == sorted(line["scores"])
  bad = _launch("--mode=translate", f"--workdir={full}", f"--input={tmp_path / 'in.txt'}",
                "--beam_size=2", "--nbest=3")
  assert bad.returncode == 2
  assert "nbest is 3; it must be between 1 and the beam size (2)" in bad.stderr


def test_a_finished_run_restarted_does_not_train_again(trained):
  full, *_ = trained
  again = trainer.train(tiny_config(), str(full))
  assert again["steps"] == 8 and again["stop_reason"] == "reached max_num_batches=8"
  assert [s for s, _ in _lines(full, "validation:perplexity")] == [4, 8]


def test_early_stopping_stops_a_run_that_does_not_improve(tmp_path):
  # A rate of 1e-9 leaves every argmax, so validation accuracy never improves after the first
  # checkpoint: two more checkpoints without improvement end the run long before 200 updates.
  cfg = tiny_config(train__max_num_batches=200, train__checkpoint_frequency_num_batches=2,
                    train__checkpoint_threshold=2, train__learning_rate=1e-9,
                    train__optimized_metric="accuracy", train__bleu_sample_size=0)
  summary = trainer.train(cfg, str(tmp_path))
  assert summary["steps"] == 6 and summary["best_step"] == 2
  assert summary["stop_reason"] == "no improvement in validation accuracy for 2 checkpoints"


def test_a_lowered_learning_rate_survives_a_resume(tmp_path):
  # No improvement after the first checkpoint (see above): the plateau scheduler halves the rate
  # at every later one. A run resumed at step 4 must continue from the halved rate.
  def cfg(batches):
    return tiny_config(train__max_num_batches=batches, train__checkpoint_frequency_num_batches=2,
                       train__checkpoint_threshold=100, train__learning_rate=1e-9,
                       train__optimized_metric="accuracy", train__bleu_sample_size=0,
                       train__plateau_reduce_lr_threshold=1)
  trainer.train(cfg(8), str(tmp_path / "full"))
  trainer.train(cfg(4), str(tmp_path / "split"))
  trainer.train(cfg(8), str(tmp_path / "split"), allow_changes=["train.max_num_batches"])
  full, split = (_lines(tmp_path / name, "learning_rate") for name in ("full", "split"))
  assert [round(lr / 1e-9, 6) for _, lr in full] == [1.0, 0.5, 0.25, 0.125]
  assert split == full


def test_a_resume_with_another_config_is_refused_unless_allowed(trained, tmp_path):
  import shutil
  full, *_ = trained
  work = tmp_path / "work"
  shutil.copytree(full, work)
  changed = tiny_config(train__learning_rate=0.002, decode__beam_size=2)
  with pytest.raises(UserError, match=r"another config \(decode.beam_size: 3 -> 2; "
                     r"train.learning_rate: 0.001 -> 0.002\).*--allow_changes=decode.beam_size,"
                     r"train.learning_rate"):
    trainer.train(changed, str(work))
  trainer.train(changed, str(work), command=["launch.py", "--x"],
                allow_changes=["train.learning_rate", "decode.beam_size"])
  saved = json.loads((work / "manifest.json").read_text())
  assert saved["config"] == changed.to_dict()
  last = saved["sessions"][-1]
  assert last["changed"] == {"decode.beam_size": [3, 2], "train.learning_rate": [0.001, 0.002]}
  assert last["resumed"] and last["command"] == ["launch.py", "--x"]
  assert json.loads((work / "decode_config.json").read_text())["beam_size"] == 2


def test_a_run_saved_before_a_key_existed_resumes_while_the_key_keeps_its_default(trained,
                                                                                   tmp_path):
  import shutil
  full, *_ = trained
  work = tmp_path / "old"
  shutil.copytree(full, work)
  for name, drop in (("manifest.json", lambda m: m["config"]["model"].pop("dtype")),
                     ("model_config.json", lambda m: m.pop("dtype"))):
    saved = json.loads((work / name).read_text())
    drop(saved)  # as written by a version without model.dtype
    (work / name).write_text(json.dumps(saved))
  with pytest.raises(UserError, match=r"holds a model with a different config \(model.dtype: "
                     r"'float32' -> 'bfloat16'\)"):
    trainer.train(tiny_config(model__dtype="bfloat16"), str(work))
  trainer.train(tiny_config(), str(work))  # a finished run: checks the config, trains no more


def test_the_manifest_records_the_run(trained):
  full, *_ = trained
  saved = json.loads((full / "manifest.json").read_text())
  assert saved["config"] == tiny_config().to_dict() and saved["seed"] == 13
  assert saved["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:none|smooth:exp|")
  first = saved["sessions"][0]
  assert first["status"] == "finished" and first["steps"] == 8 and not first["resumed"]
  assert first["started"] <= first["ended"]
  assert {"jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy"} <= set(first["versions"])
  assert first["device_count"] == len(jax.devices()) and first["process_count"] == 1
  assert first["platform"] == "cpu" and first["device_kind"] and first["cpu"]
  assert first["git"] is None or len(first["git"]["commit"]) == 40


def test_translate_takes_the_models_decoding_settings_unless_a_flag_gives_them(trained, tmp_path):
  full, *_ = trained
  assert json.loads((full / "decode_config.json").read_text()) == {
      "batch_size": 8, "beam_size": 3, "length_penalty_alpha": 1.0, "length_penalty_beta": 0.0,
      "max_output_length_num_stds": 2.0}
  (tmp_path / "in.txt").write_text("1 2 3\n")
  saved = _launch("--mode=translate", f"--workdir={full}", f"--input={tmp_path / 'in.txt'}")
  assert saved.returncode == 0 and "beam 3" in saved.stderr, saved.stderr[-2000:]
  given = _launch("--mode=translate", f"--workdir={full}", f"--input={tmp_path / 'in.txt'}",
                  "--beam_size=2", "--length_penalty_alpha=0.5")
  assert given.returncode == 0 and "beam 2" in given.stderr, given.stderr[-2000:]
  bad = _launch("--mode=translate", f"--workdir={full}", f"--input={tmp_path / 'in.txt'}",
                "--beam_size=0")
  assert bad.returncode == 2 and bad.stderr.strip().endswith("error: --beam_size must be positive")


def test_sigterm_before_the_first_checkpoint_saves_and_exits_cleanly(tmp_path):
  import pathlib
  import signal
  import subprocess
  import sys
  root = pathlib.Path(__file__).resolve().parents[1]
  proc = subprocess.Popen(
      [sys.executable, "launch.py", "--config=configs/tiny.py", f"--workdir={tmp_path}",
       "--config.train.max_num_batches=100000",
       "--config.train.checkpoint_frequency_num_batches=100000"],
      cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  lines = []
  for line in proc.stdout:  # the first progress line: training has started
    lines.append(line)
    if " step " in line:
      proc.send_signal(signal.SIGTERM)
      break
  out, err = proc.communicate(timeout=120)
  out = "".join(lines) + out
  assert proc.returncode == 0, err[-3000:]
  assert "Traceback" not in err
  assert "best validation perplexity none yet" in out and "rerun the same command" in out
  assert checkpoint.has_checkpoint(str(tmp_path))
  assert json.loads((tmp_path / "manifest.json").read_text())["sessions"][-1]["status"] == \
      "interrupted"


@pytest.mark.parametrize("name, text, match", [
    ("decode_config.json", '{"beam_size": 0}', r"decode_config.json.beam_size must be positive"),
    ("decode_config.json", "{", r"decode_config.json is not valid JSON"),
    ("decode_config.json", '{"beam": 3}', r"unknown key .*decode_config.json.beam; known keys"),
])
def test_a_damaged_saved_decode_config_is_named(trained, tmp_path, name, text, match):
  import shutil
  full, *_ = trained
  model = tmp_path / "model"
  shutil.copytree(full, model)
  (model / name).write_text(text)
  (tmp_path / "in.txt").write_text("1 2 3\n")
  out = _launch("--mode=translate", f"--workdir={model}", f"--input={tmp_path / 'in.txt'}")
  assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
  assert re.search(match, out.stderr.strip().splitlines()[-1]), out.stderr[-2000:]


def test_a_damaged_manifest_stops_a_resume_with_its_name(trained, tmp_path):
  import shutil
  full, *_ = trained
  work = tmp_path / "work"
  shutil.copytree(full, work)
  (work / "manifest.json").write_text('{"config": ')
  with pytest.raises(UserError, match=r"manifest.json cannot be read .*restore it or use another"):
    trainer.train(tiny_config(), str(work))


def test_a_workdir_another_process_is_training_is_refused(trained, tmp_path):
  import shutil
  import subprocess
  import sys
  full, *_ = trained
  work = tmp_path / "work"
  shutil.copytree(full, work)
  holder = subprocess.Popen([sys.executable, "-c", "import filelock, sys, time\n"
                             f"lock = filelock.FileLock({str(work / '.train.lock')!r})\nlock.acquire()\n"
                             "print('locked', flush=True)\ntime.sleep(60)"],
                            stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(UserError, match=r"is being trained by another process \(pid \d+ on .*"
                       r"use another --workdir"):
      trainer.train(tiny_config(), str(work))
  finally:
    holder.kill()
    holder.wait()
  trainer.train(tiny_config(), str(work))  # the lock went with its process
