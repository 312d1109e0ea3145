"""Times the Transformer benchmark step at batch shape (12, 12), 5 x 5 updates after 3 of warm-up:
how the fusion experiments of README.md were compared (python experiments/2026-12-05_transformer_speed/profile/time_step.py)."""
import sys, time
sys.path[:0] = [".", "experiments/2026-12-01_train_speed"]  # run from the repository root
from s2s_jax import startup
startup.before_imports()
import jax, jax.numpy as jnp
from absl import app, flags
from ml_collections import config_flags
import bench_step
FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "configs/transformer.py:data=multi30k,peers=true")
def main(_):
  startup.program(compile_cache=False)
  from s2s_jax import config as config_lib
  cfg = config_lib.from_configdict(FLAGS.config)
  compiled, state, batch, rng = bench_step.compiled_step(cfg, "/tmp/s2s_time_run")
  st = jax.tree_util.tree_map(jnp.copy, state)
  for _ in range(3):
    st, out = compiled(st, batch, rng); jax.block_until_ready(out)
  ts = []
  for _ in range(5):
    t = time.perf_counter()
    for _ in range(5):
      st, out = compiled(st, batch, rng)
    jax.block_until_ready(out); ts.append((time.perf_counter() - t) / 5 * 1000)
  print("ms/update (12,12):", " ".join(f"{x:.1f}" for x in ts), "min", f"{min(ts):.1f}")
app.run(main)
