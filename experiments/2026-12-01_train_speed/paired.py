r"""Paired A/B of two variants of the benchmark train step: both compiled in one process and timed
alternately, step by step, on the same batch of shape (12, 12), because separate runs on these
shared machines differ by up to 2x (README).

  PYTHONPATH=. python experiments/2026-12-01_train_speed/paired.py --variant=onednn [--rounds=16]
  PYTHONPATH=. python experiments/2026-12-01_train_speed/paired.py --variant=bias_in_gemm
"""

import time

from s2s_jax import startup

startup.before_imports()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from s2s_jax import manifest, sharding, trainer  # noqa: E402
from s2s_jax.models import embed, precision  # noqa: E402

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "configs/lstm_attn.py:data=multi30k,peers=true")
flags.DEFINE_enum("variant", "onednn", ["onednn", "bias_in_gemm"], "What to compare.")
flags.DEFINE_integer("rounds", 16, "Alternating rounds (one step of each variant per round).")


def bias_in_gemm(self, hidden):
  """OutputLayer.__call__ with the bias as an extra weight row and a ones column on the input."""
  self._try_setup()
  lead = hidden.shape[:-1]
  flat = hidden.reshape(-1, hidden.shape[-1])
  xa = jnp.concatenate([flat, jnp.ones((flat.shape[0], 1), flat.dtype)], 1)
  wb = jnp.concatenate([self.w_out, self.b_out[None]], 0)
  return precision.dot(xa, wb, self.dtype).reshape(*lead, -1)


def compile_variants(s, state, batch, rng):
  lower = lambda: s.train_step.lower(state, batch, rng)  # noqa: E731
  if FLAGS.variant == "onednn":
    return {"onednn_off": lower().compile(compiler_options={"xla_cpu_use_onednn": False}),
            "onednn_on": lower().compile(compiler_options={"xla_cpu_use_onednn": True})}
  plain, out = embed.OutputLayer.__call__, {}
  out["today"] = lower().compile()
  embed.OutputLayer.__call__ = bias_in_gemm
  try:
    out["bias_in_gemm"] = lower().compile()
  finally:
    embed.OutputLayer.__call__ = plain
  return out


def main(_):
  startup.program(compile_cache=False)
  from s2s_jax import config as config_lib
  cfg = config_lib.from_configdict(FLAGS.config)
  s = trainer.build(cfg, "/tmp/s2s_paired")
  state = trainer.init_state(s, cfg.seed)
  batch = next(b for b in s.batches.epoch(0) if (b["src"].shape[1], b["trg_in"].shape[1]) == (12, 12))
  batch = sharding.put_batch(batch, s.mesh)
  rng = jax.random.PRNGKey(0)
  compiled = compile_variants(s, state, batch, rng)
  for name, c in compiled.items():
    text = c.as_text()
    print(f"{name}: {text.count('kind=kCustom')} library fusions, {text.count(' dot(')} plain dots")
  states = {n: jax.tree_util.tree_map(jnp.copy, state) for n in compiled}
  times = {n: [] for n in compiled}
  for r in range(FLAGS.rounds + 1):  # round 0 warms up
    order = list(compiled) if r % 2 else list(compiled)[::-1]
    for n in order:
      start = time.perf_counter()
      states[n], out = compiled[n](states[n], batch, rng)
      jax.block_until_ready(out)
      if r:
        times[n].append(time.perf_counter() - start)
  print(f"{manifest.cpu()}; batch shape (12, 12); {FLAGS.rounds} alternating rounds")
  for n, ts in times.items():
    print(f"{n:14s} median {1000 * np.median(ts):7.1f} ms  min {1000 * min(ts):7.1f}  "
          f"max {1000 * max(ts):7.1f}")


if __name__ == "__main__":
  app.run(main)
