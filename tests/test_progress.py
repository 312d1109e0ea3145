"""Early stopping and the plateau scheduler (trainer.Progress): Sockeye's counting, unit by unit."""

import dataclasses

import pytest

from s2s_jax.config import TrainConfig
from s2s_jax.trainer import Progress


def _book(progress, values, t):
  """Books one checkpoint per value (one update apart); returns the (is_best, lower_lr) flags."""
  out = []
  for value in values:
    progress.step += 1
    out.append(progress.record(value, t))
  return out


def test_improvement_is_strict_and_resets_both_counters():
  t = TrainConfig(optimized_metric="perplexity", plateau_reduce_lr_threshold=10)
  p = Progress()
  flags = _book(p, [5.0, 4.0, 4.0, 4.5, 3.0], t)
  assert [best for best, _ in flags] == [True, True, False, False, True]
  assert (p.best, p.best_step, p.not_improved, p.lr_not_improved) == (3.0, 5, 0, 0)


def test_accuracy_and_bleu_improve_upwards():
  for metric in ("accuracy", "bleu"):
    p = Progress()
    flags = _book(p, [0.2, 0.1, 0.3], TrainConfig(optimized_metric=metric))
    assert [best for best, _ in flags] == [True, False, True] and p.best == 0.3


def test_early_stopping_after_checkpoint_threshold_checkpoints_without_improvement():
  t = TrainConfig(checkpoint_threshold=3, plateau_reduce_lr_threshold=10)
  p = Progress()
  _book(p, [5.0, 6.0, 6.0], t)
  assert p.stop_reason(t) is None  # two without improvement
  _book(p, [7.0], t)
  assert p.stop_reason(t) == "no improvement in validation perplexity for 3 checkpoints"


def test_min_num_epochs_holds_early_stopping_off():
  t = TrainConfig(checkpoint_threshold=1, min_num_epochs=2, plateau_reduce_lr_threshold=10)
  p = Progress()
  _book(p, [5.0, 6.0], t)
  assert p.stop_reason(t) is None
  p.epoch = 2
  assert p.stop_reason(t).startswith("no improvement")


def test_max_num_epochs_and_max_num_batches_stop():
  p = Progress(step=10, epoch=3)
  assert p.stop_reason(TrainConfig(max_num_epochs=3)) == "reached max_num_epochs=3"
  assert p.stop_reason(TrainConfig(max_num_epochs=4)) is None
  assert p.stop_reason(TrainConfig(max_num_batches=10)) == "reached max_num_batches=10"
  assert p.stop_reason(TrainConfig(max_num_batches=-1, max_num_epochs=0)) is None


def test_plateau_scheduler_lowers_the_rate_every_threshold_checkpoints_without_improvement():
  t = TrainConfig(plateau_reduce_lr_threshold=2, plateau_reduce_lr_factor=0.5,
                  checkpoint_threshold=100)
  p = Progress()
  flags = _book(p, [5.0, 6.0, 6.0, 6.0, 6.0, 4.0, 6.0], t)
  assert [lower for _, lower in flags] == [False, False, True, False, True, False, False]
  assert p.not_improved == 1 and p.lr_not_improved == 1


@pytest.mark.parametrize("change", [dict(plateau_reduce_lr_factor=1.0),
                                    dict(lr_scheduler_type="fixed_rate_inv_t")])
def test_plateau_scheduler_off(change):
  t = dataclasses.replace(TrainConfig(plateau_reduce_lr_threshold=1, checkpoint_threshold=100),
                          **change)
  assert not any(lower for _, lower in _book(Progress(), [5.0, 6.0, 7.0, 8.0], t))
