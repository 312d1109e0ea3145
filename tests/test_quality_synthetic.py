"""The README's main job learns its task: the default config reaches near-perfect BLEU (slow).

It runs the first 1,500 of the job's 2,500 updates: the full job reaches validation BLEU 1.0 and
perplexity 1.0024 at update 1,000 (2026-12-02, AMX Xeon), and the rest is early stopping's
patience, which tests/test_train.py covers."""

import json
import os

import pytest

import subprocesses
from conftest import THRESHOLD_XLA_FLAGS


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_default_config_learns_the_reverse_task(tmp_path):
  # The README's command, compiled as in production (tests/test_system.py says why).
  run = subprocesses.python("-m", "s2s_jax.bin.train", "--config=configs/lstm_attn.py",
                            "--config.train.max_num_batches=1500", f"--workdir={tmp_path}",
                            timeout=570, env={**os.environ, "XLA_FLAGS": THRESHOLD_XLA_FLAGS})
  assert run.returncode == 0, run.stderr[-5000:]
  with open(tmp_path / "metrics.jsonl") as f:
    bleu = [r["validation:bleu"] for r in map(json.loads, f) if "validation:bleu" in r]
  assert max(bleu) >= 0.95  # validation BLEU in [0, 1]
  with open(tmp_path / "metrics.jsonl") as f:
    ppl = [r["validation:perplexity"] for r in map(json.loads, f) if "validation:perplexity" in r]
  assert min(ppl) < 1.05
