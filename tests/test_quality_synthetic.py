"""The README's main job learns its task: the default config reaches near-perfect BLEU (slow).

It runs the first 1,500 of the job's 2,500 updates: the full job reaches validation BLEU 1.0 and
perplexity 1.0024 at update 1,000 (2026-12-02, AMX Xeon), and the rest is early stopping's
patience, which tests/test_train.py covers."""

import json

import pytest

from configs import lstm_attn
from s2s_jax import config as config_lib
from s2s_jax import trainer


@pytest.mark.slow
def test_default_config_learns_the_reverse_task(tmp_path):
  cd = lstm_attn.get_config()
  cd.train.max_num_batches = 1500
  cfg = config_lib.from_configdict(cd)
  summary = trainer.train(cfg, str(tmp_path))
  assert summary["best"] >= 0.95  # validation BLEU in [0, 1]
  with open(tmp_path / "metrics.jsonl") as f:
    ppl = [r["validation:perplexity"] for r in map(json.loads, f) if "validation:perplexity" in r]
  assert min(ppl) < 1.05
