"""The README's main job learns its task: the default config reaches near-perfect BLEU (slow)."""

import json

import pytest

from configs import lstm_attn
from s2s_jax import config as config_lib
from s2s_jax import trainer


@pytest.mark.slow
def test_default_config_learns_the_reverse_task(tmp_path):
  cfg = config_lib.from_configdict(lstm_attn.get_config())
  summary = trainer.train(cfg, str(tmp_path))
  assert summary["best"] >= 0.95  # validation BLEU in [0, 1]
  with open(tmp_path / "metrics.jsonl") as f:
    ppl = [r["validation:perplexity"] for r in map(json.loads, f) if "validation:perplexity" in r]
  assert min(ppl) < 1.05
