"""Sockeye 1.x's system tests (spec §5.11): each architecture family learns the copy and sort tasks
to Sockeye's own thresholds for that family: validation perplexity at the last checkpoint and
BLEU (in [0, 1]) of the validation set decoded with the trained model (slow)."""

import json

import pytest

from configs import sockeye_system
from s2s_jax import config as config_lib
from s2s_jax import trainer

# (task, family, perplexity at most, BLEU at least): Sockeye 1.13's thresholds; its sort tests
# cover LSTM and CNN, and GRU is held to the LSTM's.
CASES = [
    ("copy", "lstm", 1.01, 0.99), ("copy", "gru", 1.01, 0.99), ("copy", "cnn", 1.01, 0.99),
    ("sort", "lstm", 1.04, 0.98), ("sort", "gru", 1.04, 0.98), ("sort", "cnn", 1.10, 0.93),
]


@pytest.mark.slow
@pytest.mark.parametrize("task,family,max_perplexity,min_bleu", CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_family_meets_sockeye_thresholds(task, family, max_perplexity, min_bleu, tmp_path):
  cfg = config_lib.from_configdict(sockeye_system.get_config(f"task={task},family={family}"))
  trainer.train(cfg, str(tmp_path))
  with open(tmp_path / "metrics.jsonl") as f:
    last = [r for r in map(json.loads, f) if "validation:perplexity" in r][-1]
  assert last["validation:perplexity"] <= max_perplexity, last
  assert last["validation:bleu"] >= min_bleu, last
