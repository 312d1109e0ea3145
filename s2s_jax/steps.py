"""Pure train and eval steps: (state, batch, rng) -> (state, metric sums).

With axis_name set, a step runs once per device on that device's rows (sharding.data_parallel)
and combines across devices itself: one sum of the gradients and the metric sums after the
backward pass. Without it, the batch is whole and there are no collectives.
"""

import flax
import jax
import jax.numpy as jnp
import optax

from s2s_jax import losses
from s2s_jax.data.vocab import PAD_ID


def _sum(tree, axis_name):
  """The sum over devices (axis_name None: one device, the tree itself)."""
  return tree if axis_name is None else jax.lax.psum(tree, axis_name)


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: dict
  opt_state: optax.OptState
  apply_fn: callable = flax.struct.field(pytree_node=False)
  tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)


def init_state(model, tx, rng, example_batch) -> TrainState:
  params = model.init(rng, example_batch["src"], example_batch["trg_in"])["params"]
  return TrainState(jnp.zeros((), jnp.int32), params, tx.init(params), model.apply, tx)


def train_step(state: TrainState, batch, rng, label_smoothing: float = 0.0,
               accuracy: bool = False, axis_name: str | None = None, micro_batches: int = 1):
  """accuracy: also count correct argmax predictions (an extra pass over the logits).
  axis_name: the devices' mesh axis when each device holds its rows only.
  micro_batches: the rows run as this many consecutive micro-batches (gradient accumulation);
  the update is the same, since each micro-batch's loss is normalised by the whole batch's count."""
  rng = jax.random.fold_in(rng, state.step)
  # The loss is normalised by the whole batch's token count, so each device's gradient is its
  # share of the global one and the sum over devices is the gradient of the whole batch.
  count = _sum((batch["trg_out"] != PAD_ID).sum().astype(jnp.float32), axis_name)
  if axis_name is not None:
    rng = jax.random.fold_in(rng, jax.lax.axis_index(axis_name))  # own dropout masks per device

  def loss_fn(params, rows, rng):
    logits = state.apply_fn({"params": params}, rows["src"], rows["trg_in"], train=True,
                            rngs={"dropout": rng})
    loss, nll, _ = losses.cross_entropy(logits, rows["trg_out"], label_smoothing)
    correct = (losses.correct_count(jax.lax.stop_gradient(logits), rows["trg_out"])
               if accuracy else jnp.zeros(()))
    return loss / jnp.maximum(count, 1.0), (nll, correct)

  grad_fn = jax.grad(loss_fn, has_aux=True)
  if micro_batches == 1:
    grads, (nll, correct) = grad_fn(state.params, batch, rng)
  else:
    micro = jax.tree_util.tree_map(
        lambda a: a.reshape(micro_batches, a.shape[0] // micro_batches, *a.shape[1:]), batch)

    def accumulate(total, xs):
      rows, index = xs
      part = grad_fn(state.params, rows, jax.random.fold_in(rng, index))
      return jax.tree_util.tree_map(jnp.add, total, part), None

    zeros = (jax.tree_util.tree_map(jnp.zeros_like, state.params),
             (jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32)))
    (grads, (nll, correct)), _ = jax.lax.scan(accumulate, zeros,
                                              (micro, jnp.arange(micro_batches)))
  grads, nll, correct = _sum((grads, nll, correct), axis_name)
  # A finite loss can still have inf/NaN gradients (an overflow in the backward pass), and
  # clipping would pass them on as NaN. The global norm is what clip_by_global_norm computes too,
  # so XLA shares the pass.
  finite = jnp.isfinite(nll) & jnp.isfinite(optax.global_norm(grads))

  def update(operands):
    grads, params, opt_state = operands
    with jax.named_scope("optimizer"):  # names its ops in profiles (s2s_jax/step_profile.py)
      updates, opt_state = state.tx.update(grads, opt_state, params)
      return optax.apply_updates(params, updates), opt_state

  # A non-finite loss or gradient leaves the state untouched (counted by the trainer) instead of
  # poisoning it.
  params, opt_state = jax.lax.cond(finite, update, lambda o: (o[1], o[2]),
                                   (grads, state.params, state.opt_state))
  new = state.replace(step=state.step + 1, params=params, opt_state=opt_state)
  return new, {"nll": nll, "tokens": count, "correct": correct, "finite": finite}


def eval_step(params, batch, apply_fn, axis_name: str | None = None):
  logits = apply_fn({"params": params}, batch["src"], batch["trg_in"])
  _, nll, count = losses.cross_entropy(logits, batch["trg_out"])
  return _sum({"nll": nll, "tokens": count,
               "correct": losses.correct_count(logits, batch["trg_out"])}, axis_name)
