"""Reliability: SIGTERM saves and exits; SIGKILL at a random batch and in the middle of a
checkpoint write lose nothing; every restart with the same command ends with the parameters of an
uninterrupted run; two runs with one seed give bitwise-identical losses; non-finite losses stop
the run before they reach a checkpoint."""

import json
import pathlib
import random
import signal

import jax
import numpy as np
import pytest

import subprocesses
from conftest import tiny_config
from s2s_jax import checkpoint, trainer

HELPER = pathlib.Path(__file__).with_name("interrupted_run.py")
STEPS = 16  # tiny: 4 updates per checkpoint, more than one epoch


def _run(workdir, action=""):
  return subprocesses.python(str(HELPER), str(workdir), str(STEPS), action, timeout=240)


def _losses(workdir, key="train:perplexity"):
  with open(pathlib.Path(workdir) / "metrics.jsonl") as f:
    return [(r["step"], r[key]) for r in map(json.loads, f) if key in r]


def _kept_steps(folder):
  return sorted(int(p.name) for p in pathlib.Path(folder).iterdir() if p.name.isdigit())


# slow: 5 training programs killed at chosen points, 44 s in the suite.
@pytest.mark.slow
def test_interrupted_runs_end_with_the_uninterrupted_parameters(tmp_path):
  reference = tmp_path / "reference"
  trainer.train(tiny_config(train__max_num_batches=STEPS, train__bleu_sample_size=0),
                str(reference))
  work = tmp_path / "interrupted"

  term = _run(work, "term:6")  # SageMaker's stop: SIGTERM
  assert term.returncode == 0, term.stderr[-3000:]
  assert "received SIGTERM: saved a checkpoint at step 6" in term.stdout
  assert _kept_steps(work / "checkpoints") == [4, 6]

  kill_after = random.randint(1, 5)  # a random batch after step 6, before or after checkpoint 8
  killed = _run(work, f"kill:{kill_after}")
  assert killed.returncode == -signal.SIGKILL, (kill_after, killed.stderr[-3000:])
  assert "resumed from step 6" in killed.stdout

  in_save = _run(work, "kill_in_save:12")  # dies while checkpoint 12 is being written
  assert in_save.returncode == -signal.SIGKILL, in_save.stderr[-3000:]
  leftovers = [p.name for p in (work / "checkpoints").iterdir() if not p.name.isdigit()]
  assert leftovers and all("tmp" in name for name in leftovers), leftovers
  assert 12 not in _kept_steps(work / "checkpoints")

  done = _run(work)
  assert done.returncode == 0, done.stderr[-3000:]
  assert "resumed from step 8" in done.stdout and f"finished: steps={STEPS}" in done.stdout
  assert "predates the batch order" not in done.stdout + done.stderr  # the same order
  assert not [p for p in (work / "checkpoints").iterdir() if not p.name.isdigit()]
  a = checkpoint.load_model(str(reference), "latest")[1]
  b = checkpoint.load_model(str(work), "latest")[1]
  for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
    np.testing.assert_array_equal(x, y)
  # The best checkpoint and the metrics file also match: one line per step, no repeats.
  assert _kept_steps(work / "best") == _kept_steps(reference / "best")
  assert _losses(work, "validation:perplexity") == _losses(reference, "validation:perplexity")
  assert _losses(work) == _losses(reference)


def test_same_seed_gives_bitwise_identical_losses(tmp_path):
  runs = []
  for name in ("a", "b"):
    trainer.train(tiny_config(train__max_num_batches=6, train__log_every=1,
                              train__bleu_sample_size=0), str(tmp_path / name))
    runs.append(_losses(tmp_path / name))
  assert len(runs[0]) == 6 and runs[0] == runs[1]
  other = tmp_path / "other_seed"
  trainer.train(tiny_config(seed=14, train__max_num_batches=6, train__log_every=1,
                            train__bleu_sample_size=0), str(other))
  assert _losses(other) != runs[0]


def test_non_finite_losses_stop_the_run_before_a_checkpoint(tmp_path, monkeypatch):
  from s2s_jax import losses
  from s2s_jax.errors import UserError
  finite_cross_entropy = losses.cross_entropy

  def poisoned(logits, labels, label_smoothing=0.0):  # what an exploding model would give
    loss, nll, count = finite_cross_entropy(logits, labels, label_smoothing)
    return loss * np.nan, nll * np.nan, count
  monkeypatch.setattr(losses, "cross_entropy", poisoned)
  with pytest.raises(UserError, match=r"not finite for 3 updates in a row at step 3 "
                     r"\(train.max_nonfinite_in_a_row=3\); no parameters were changed"):
    trainer.train(tiny_config(train__max_nonfinite_in_a_row=3, train__log_every=1),
                  str(tmp_path))
  assert not list((tmp_path / "checkpoints").iterdir())
  assert [v for _, v in _losses(tmp_path, "train:skipped_nonfinite")] == [1, 1]


def test_resuming_mid_epoch_from_a_checkpoint_of_the_old_batch_order_says_so(tmp_path, caplog):
  # Checkpoints before the one batch plan have no "batch_order": their epoch position counted
  # batches of another order.
  trainer.train(tiny_config(train__max_num_batches=4, train__bleu_sample_size=0), str(tmp_path))
  meta = next((tmp_path / "checkpoints" / "4").glob("meta/*"))
  saved = json.loads(meta.read_text())
  assert saved["progress"]["batch_in_epoch"] > 0  # mid-epoch
  del saved["batch_order"]
  meta.write_text(json.dumps(saved))
  trainer.train(tiny_config(train__max_num_batches=6, train__bleu_sample_size=0), str(tmp_path),
                allow_changes=["train.max_num_batches"])
  assert "step 4's checkpoint predates the batch order plan_epoch-1: the rest of epoch 0" in \
      caplog.text
