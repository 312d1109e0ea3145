"""Cost of the gradient finiteness check in the train step: the benchmark model, one batch shape,
the step with and without it, alternated in one process."""
import functools, subprocess, sys, time
sys.path.insert(0, ".")
from s2s_jax import startup; startup.before_imports()
import jax, jax.numpy as jnp, numpy as np, optax
from configs import lstm_attn
from s2s_jax import config as config_lib, sharding, steps, trainer, losses

def old_train_step(state, batch, rng, label_smoothing=0.0, accuracy=False):
  rng = jax.random.fold_in(rng, state.step)
  def loss_fn(params):
    logits = state.apply_fn({"params": params}, batch["src"], batch["trg_in"], train=True, rngs={"dropout": rng})
    loss, nll, count = losses.cross_entropy(logits, batch["trg_out"], label_smoothing)
    return loss / jnp.maximum(count, 1.0), (nll, count, jnp.zeros(()))
  grads, (nll, count, correct) = jax.grad(loss_fn, has_aux=True)(state.params)
  finite = jnp.isfinite(nll)
  def update(operands):
    grads, params, opt_state = operands
    updates, opt_state = state.tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state
  params, opt_state = jax.lax.cond(finite, update, lambda o: (o[1], o[2]), (grads, state.params, state.opt_state))
  return state.replace(step=state.step + 1, params=params, opt_state=opt_state), {"nll": nll, "tokens": count, "correct": correct, "finite": finite}

cd = lstm_attn.get_config("data=multi30k,peers=true"); cd.data.text.dir = "/work/shared/data/multi30k"
cfg = config_lib.from_configdict(cd)
s = trainer.build(cfg, "/tmp/s2s_step_cost")
state = trainer.init_state(s, 0)
batch = next(s.batches.epoch(0))
dev = sharding.put_batch(batch, s.mesh)
rng = jax.random.PRNGKey(0)
fns = {name: jax.jit(fn, donate_argnums=0) for name, fn in (("new", steps.train_step), ("old", old_train_step))}
times = {k: [] for k in fns}
for name, f in fns.items():  # compile + warm
  state, _ = f(state, dev, rng); jax.block_until_ready(state)
for rep in range(12):
  for name, f in fns.items():
    t = time.perf_counter(); state, _ = f(state, dev, rng); jax.block_until_ready(state); times[name].append(time.perf_counter() - t)
cpu = subprocess.run("lscpu | sed -n 's/^Model name: *//p'", shell=True, capture_output=True, text=True).stdout.strip()
print(f"cpu: {cpu}; batch {batch['src'].shape} -> {batch['trg_in'].shape}")
for name, ts in times.items():
  ts = sorted(ts)
  print(f"{name}: median {1000*ts[len(ts)//2]:.1f} ms, min {1000*ts[0]:.1f} ms over {len(ts)}")
