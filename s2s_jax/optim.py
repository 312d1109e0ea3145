"""The optax optimizer from a TrainConfig, with MXNet's meanings (spec §5.8).

The base learning rate is a hyperparameter in the optimizer state, so the plateau scheduler can lower
it between steps without a recompile. The fixed-rate schedules and the warm-up are a factor of the
number of applied updates, counted in the optimizer state, so a resumed run continues them exactly.
"""

import jax.numpy as jnp
import optax

from s2s_jax.config import TrainConfig


def schedule_factor(cfg: TrainConfig, updates):
  """Multiplier of the base learning rate after `updates` applied updates."""
  t = jnp.asarray(updates, jnp.float32)
  period = float(cfg.fixed_rate_lr_half_life * cfg.checkpoint_frequency_num_batches)
  factor = jnp.ones_like(t)
  if cfg.lr_scheduler_type == "fixed_rate_inv_t":  # lr / (1 + t / (H C)): halved at t = H C
    factor = 1.0 / (1.0 + t / period)
  elif cfg.lr_scheduler_type == "fixed_rate_inv_sqrt_t":  # lr / sqrt(1 + 3 t / (H C))
    factor = 1.0 / jnp.sqrt(1.0 + 3.0 * t / period)
  elif cfg.lr_scheduler_type == "inv_sqrt_warmup":
    # Vaswani et al.'s (Noam) schedule, its peak named by learning_rate (fairseq's inverse_sqrt):
    # linear warm-up to lr over W updates, then lr sqrt(W / t).
    warm = float(max(cfg.learning_rate_warmup, 1))
    return jnp.minimum((t + 1.0) / warm, jnp.sqrt(warm / jnp.maximum(t + 1.0, warm)))
  if cfg.learning_rate_warmup > 0:
    factor = factor * jnp.minimum(1.0, (t + 1.0) / cfg.learning_rate_warmup)
  return factor


def has_schedule(cfg: TrainConfig) -> bool:
  """Whether the rate changes with the update count (the plateau scheduler acts separately)."""
  return cfg.lr_scheduler_type != "plateau_reduce" or cfg.learning_rate_warmup > 0


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
  def make(learning_rate):
    parts = []
    if cfg.clip_gradient > 0:  # MXNet's clip_gradient: element-wise
      parts.append(optax.clip(cfg.clip_gradient))
    if cfg.clip_gradient_norm > 0:
      parts.append(optax.clip_by_global_norm(cfg.clip_gradient_norm))
    if cfg.weight_decay > 0:  # MXNet's wd: L2 added to the gradient
      parts.append(optax.add_decayed_weights(cfg.weight_decay))
    if cfg.optimizer_type == "adam":  # MXNet's eps 1e-8
      parts.append(optax.scale_by_adam(b1=cfg.adam_beta1, b2=cfg.adam_beta2, eps=1e-8))
    elif cfg.optimizer_type == "rmsprop":  # MXNet's gamma1 0.9, eps 1e-8, not centred
      parts.append(optax.scale_by_rms(decay=0.9, eps=1e-8))
    elif cfg.momentum > 0:  # sgd with MXNet's heavy-ball momentum
      parts.append(optax.trace(decay=cfg.momentum))
    if has_schedule(cfg):  # the default (plateau_reduce, no warm-up) adds no pass over the params
      parts.append(optax.scale_by_schedule(lambda count: schedule_factor(cfg, count)))
    parts.append(optax.scale_by_learning_rate(learning_rate))
    return optax.chain(*parts)
  return optax.inject_hyperparams(make)(learning_rate=cfg.learning_rate)


def set_learning_rate(opt_state, value):
  opt_state.hyperparams["learning_rate"] = value
  return opt_state


def base_learning_rate(opt_state) -> float:
  """The learning rate before the schedule: what the plateau scheduler lowers."""
  return float(opt_state.hyperparams["learning_rate"])


def learning_rate(opt_state, cfg: TrainConfig) -> float:
  """The learning rate the next update uses: base x schedule factor."""
  if not has_schedule(cfg):
    return base_learning_rate(opt_state)
  counts = [s.count for s in opt_state.inner_state
            if isinstance(s, optax.ScaleByScheduleState)]
  return base_learning_rate(opt_state) * float(schedule_factor(cfg, counts[0]))
