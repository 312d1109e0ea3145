r"""The benchmark train step's most expensive XLA operations, from a jax.profiler trace: time per
step, the piece of the model it belongs to (step_profile.PIECES) and its HLO instruction, for
reading what the pieces table sums.

  PYTHONPATH=. python experiments/2026-12-01_train_speed/top_ops.py [--top=40] [--steps=10]
"""

import os

from s2s_jax import startup

startup.before_imports()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

import bench_step  # noqa: E402  (this folder)
from s2s_jax import manifest, step_profile  # noqa: E402

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "configs/lstm_attn.py:data=multi30k,peers=true")
flags.DEFINE_integer("top", 40, "How many operations to list.")
flags.DEFINE_integer("steps", 10, "Updates traced.")
flags.DEFINE_string("trace_dir", "/tmp/s2s_top_ops", "Where the trace goes.")


def main(_):
  startup.program(compile_cache=False)
  from s2s_jax import config as config_lib
  cfg = config_lib.from_configdict(FLAGS.config)
  compiled, state, batch, rng = bench_step.compiled_step(cfg, "/tmp/s2s_top_ops_run")
  holder = [jax.tree_util.tree_map(jnp.copy, state)]

  def run():
    holder[0], out = compiled(holder[0], batch, rng)
    jax.block_until_ready(out)
  table, wall = step_profile.profile(compiled, run, FLAGS.steps, FLAGS.trace_dir)
  text = compiled.as_text()
  times = step_profile.operation_times(FLAGS.trace_dir, step_profile._module_name(text),
                                       step_profile.containers(text))
  names = step_profile.op_names(text)
  lines = {}
  for line in text.splitlines():
    head = line.strip().removeprefix("ROOT ").split(" = ", 1)
    if len(head) == 2:
      lines[head[0].lstrip("%")] = head[1]
  print(f"{manifest.cpu()}; batch shape (12, 12); {FLAGS.steps} updates; "
        f"wall {1000 * wall / FLAGS.steps:.1f} ms per update; XLA_FLAGS={os.environ.get('XLA_FLAGS', '')}")
  print(step_profile.markdown(table, FLAGS.steps, wall))
  total = sum(times.values())
  print("| ms/step | share | piece | bwd | instruction |\n|---|---|---|---|---|")
  for op, ns in times.most_common(FLAGS.top):
    piece, backward = step_profile.piece_of(names.get(op, ""))
    body = lines.get(op, "")
    body = body.split(", metadata=")[0][:150]
    print(f"| {ns / FLAGS.steps / 1e6:.1f} | {100 * ns / total:.1f}% | {piece.split(' (')[0]} | "
          f"{'b' if backward else 'f'} | `{op} = {body}` |")


if __name__ == "__main__":
  app.run(main)
