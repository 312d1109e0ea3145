r"""Paired A/B of two variants of the benchmark train step: both compiled in one process and timed
alternately, step by step, on the same batch of shape (12, 12), because separate runs on these
shared machines differ by up to 2x (README).

  PYTHONPATH=. python experiments/2026-12-01_train_speed/paired.py --variant=onednn [--rounds=16]
  PYTHONPATH=. python experiments/2026-12-01_train_speed/paired.py --variant=bias_in_gemm
  PYTHONPATH=. python experiments/2026-12-01_train_speed/paired.py --variant=bias_reduce
  PYTHONPATH=. python experiments/2026-12-01_train_speed/paired.py --variant=dtype  # fp32 / bf16
  PYTHONPATH=. python experiments/2026-12-01_train_speed/paired.py --variant=attention_kept
  PYTHONPATH=. python experiments/2026-12-01_train_speed/paired.py --variant=config \
      --overrides=train.optimizer_type=sgd   # a bound on Adam's share, not the same math
  PYTHONPATH=. python experiments/2026-12-01_train_speed/paired.py --variant=xla_options \
      --options=xla_cpu_use_multi_output_fusion=true
"""

import dataclasses
import time

from s2s_jax import startup

startup.before_imports()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from s2s_jax import config as config_lib, manifest, sharding, trainer  # noqa: E402
from s2s_jax.models import embed, precision  # noqa: E402
from s2s_jax.models.attention import mlp  # noqa: E402

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "configs/lstm_attn.py:data=multi30k,peers=true")
flags.DEFINE_enum("variant", "onednn", ["onednn", "bias_in_gemm", "bias_reduce", "xla_options",
                                         "dtype", "attention_kept", "config"],
                  "What to compare against today's step.")
flags.DEFINE_list("options", [], "xla_options: compiler options name=value for variant B.")
flags.DEFINE_list("overrides", [], "config: section.key=value overrides for variant B, e.g. "
                  "train.optimizer_type=sgd (a bound on what a piece costs, not the same math).")
flags.DEFINE_integer("rounds", 16, "Alternating rounds (one step of each variant per round).")


def bias_in_gemm(self, hidden):
  """OutputLayer.__call__ with the bias as an extra weight row and a ones column on the input."""
  self._try_setup()
  lead = hidden.shape[:-1]
  flat = hidden.reshape(-1, hidden.shape[-1])
  xa = jnp.concatenate([flat, jnp.ones((flat.shape[0], 1), flat.dtype)], 1)
  wb = jnp.concatenate([self.w_out, self.b_out[None]], 0)
  return precision.dot(xa, wb, self.dtype).reshape(*lead, -1)


def bias_reduce(x, b):
  """The bias add before precision.add_bias: autodiff's gradient, XLA's reduction over the rows."""
  return x + b


def _option(text):
  name, value = text.split("=", 1)
  return name, {"true": True, "false": False}.get(value.lower(), value)


def compile_variants(cfg):
  """{name: (compiled step, state, batch)}. Each variant gets its own trainer.build, hence its own
  jax.jit: lowering one jitted function twice reuses its first trace."""
  def build(cfg=cfg, **options):
    s = trainer.build(cfg, "/tmp/s2s_paired")
    state = trainer.init_state(s, cfg.seed)
    batch = next(b for b in s.batches.epoch(0) if (b["src"].shape[1], b["trg_in"].shape[1]) == (12, 12))
    batch = sharding.put_batch(batch, s.mesh)
    compiled = s.train_step.lower(state, batch, jax.random.PRNGKey(0)).compile(**options)
    return compiled, state, batch
  if FLAGS.variant == "onednn":
    return {"onednn_off": build(compiler_options={"xla_cpu_use_onednn": False}),
            "onednn_on": build(compiler_options={"xla_cpu_use_onednn": True})}
  if FLAGS.variant == "dtype":
    return {dtype: build(dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, dtype=dtype)))
            for dtype in ("float32", "bfloat16")}
  if FLAGS.variant == "config":
    b = FLAGS.config.copy_and_resolve_references()
    for item in FLAGS.overrides:
      key, value = _option(item)
      section, name = key.split(".")
      b[section][name] = type(b[section][name])(value)
    return {"today": build(), "overrides": build(config_lib.from_configdict(b))}
  if FLAGS.variant == "xla_options":
    return {"today": build(), "options": build(compiler_options=dict(map(_option, FLAGS.options)))}
  plain_call, plain_add, out = embed.OutputLayer.__call__, precision.add_bias, {}
  out["today"] = build()
  if FLAGS.variant == "attention_kept":  # MLP attention's tanh kept per step, not recomputed
    checkpointed = mlp.scores
    mlp.scores = checkpointed.__wrapped__
    try:
      out[FLAGS.variant] = build()
    finally:
      mlp.scores = checkpointed
    return out
  if FLAGS.variant == "bias_in_gemm":
    embed.OutputLayer.__call__ = bias_in_gemm
  else:
    precision.add_bias = bias_reduce
  try:
    out[FLAGS.variant] = build()
  finally:
    embed.OutputLayer.__call__, precision.add_bias = plain_call, plain_add
  return out


def program(compiled):
  """The compiled HLO without its module name line, to tell whether two variants differ."""
  return compiled.as_text().split("\n", 1)[1]


def main(_):
  startup.program(compile_cache=False)
  cfg = config_lib.from_configdict(FLAGS.config)
  variants = compile_variants(cfg)
  a, b = (program(v[0]) for v in variants.values())
  print("the two compiled programs are", "the same" if a == b else "different")
  rng = jax.random.PRNGKey(0)
  states = {n: jax.tree_util.tree_map(jnp.copy, v[1]) for n, v in variants.items()}
  times = {n: [] for n in variants}
  for r in range(FLAGS.rounds + 1):  # round 0 warms up
    order = list(variants) if r % 2 else list(variants)[::-1]
    for n in order:
      compiled, _, batch = variants[n]
      start = time.perf_counter()
      states[n], out = compiled(states[n], batch, rng)
      jax.block_until_ready(out)
      if r:
        times[n].append(time.perf_counter() - start)
  print(f"{manifest.cpu()}; batch shape (12, 12); {FLAGS.rounds} alternating rounds")
  for n, ts in times.items():
    print(f"{n:14s} median {1000 * np.median(ts):7.1f} ms  min {1000 * min(ts):7.1f}  "
          f"max {1000 * max(ts):7.1f}")


if __name__ == "__main__":
  app.run(main)
