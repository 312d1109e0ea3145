"""End to end on the tiny config: train, checkpoint, resume, translate; 1 vs 4 devices."""

import json

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
  second = trainer.train(tiny_config(), str(split))
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
  with pytest.raises(UserError, match="holds a model with a different config.*rnn_num_hidden: 16 -> 32"):
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
