"""The benchmark train step compiled for one batch of shape (12, 12), the most frequent bucket:
what top_ops.py and page_faults.py time (call after startup.program)."""

import jax

from s2s_jax import sharding, trainer

SHAPE = (12, 12)


def compiled_step(cfg, workdir):
  """(compiled step, state, device batch, rng) for cfg's first batch of shape SHAPE."""
  s = trainer.build(cfg, workdir)
  state = trainer.init_state(s, cfg.seed)
  batch = next(b for b in s.batches.epoch(0) if (b["src"].shape[1], b["trg_in"].shape[1]) == SHAPE)
  batch = sharding.put_batch(batch, s.mesh)
  rng = jax.random.PRNGKey(0)
  return s.train_step.lower(state, batch, rng).compile(), state, batch, rng
