"""The train step with and without the gradient finiteness check, alternated in one process on
one batch of the benchmark model (configs/lstm_attn.py:data=multi30k,peers=true). Prints figures.

  python experiments/2026-12-01_nonfinite_check/step_cost.py   # from the repository root
"""

import subprocess
import sys
import time

sys.path.insert(0, ".")
from s2s_jax import startup  # noqa: E402

startup.before_imports()
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

from configs import lstm_attn  # noqa: E402
from s2s_jax import config as config_lib  # noqa: E402
from s2s_jax import losses, sharding, steps, trainer  # noqa: E402


def loss_only_step(state, batch, rng):
  """steps.train_step as it was before the check (b208045): only the loss is tested."""
  rng = jax.random.fold_in(rng, state.step)

  def loss_fn(params):
    logits = state.apply_fn({"params": params}, batch["src"], batch["trg_in"], train=True,
                            rngs={"dropout": rng})
    loss, nll, count = losses.cross_entropy(logits, batch["trg_out"])
    return loss / jnp.maximum(count, 1.0), nll
  grads, nll = jax.grad(loss_fn, has_aux=True)(state.params)

  def update(operands):
    grads, params, opt_state = operands
    updates, opt_state = state.tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state
  params, opt_state = jax.lax.cond(jnp.isfinite(nll), update, lambda o: (o[1], o[2]),
                                   (grads, state.params, state.opt_state))
  return state.replace(step=state.step + 1, params=params, opt_state=opt_state), nll


def main(reps=12):
  cd = lstm_attn.get_config("data=multi30k,peers=true")
  cd.data.text.dir = "../shared/data/multi30k"
  s = trainer.build(config_lib.from_configdict(cd), "/tmp/s2s_step_cost")
  state = trainer.init_state(s, 0)
  batch = next(s.batches.epoch(0))
  device_batch, rng = sharding.put_batch(batch, s.mesh), jax.random.PRNGKey(0)
  variants = {"with the check": jax.jit(steps.train_step, donate_argnums=0),
              "loss only": jax.jit(loss_only_step, donate_argnums=0)}
  times = {name: [] for name in variants}
  for rep in range(reps + 1):  # the first round compiles
    for name, step in variants.items():
      start = time.perf_counter()
      state, _ = step(state, device_batch, rng)
      jax.block_until_ready(state)
      if rep:
        times[name].append(time.perf_counter() - start)
  cpu = subprocess.run("lscpu | sed -n 's/^Model name: *//p'", shell=True, capture_output=True,
                       text=True).stdout.strip()
  print(f"cpu: {cpu}; batch {batch['src'].shape} -> {batch['trg_in'].shape}")
  for name, values in times.items():
    values = sorted(values)
    print(f"{name}: median {1000 * values[len(values) // 2]:.1f} ms, "
          f"min {1000 * values[0]:.1f} ms over {len(values)}")


if __name__ == "__main__":
  main()
