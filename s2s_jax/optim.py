"""The optax optimizer from a TrainConfig. The learning rate is a hyperparameter in the optimizer
state, so the plateau scheduler can lower it between steps without a recompile."""

import optax

from s2s_jax.config import TrainConfig


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
  def make(learning_rate):
    parts = []
    if cfg.clip_gradient > 0:  # MXNet's clip_gradient: element-wise
      parts.append(optax.clip(cfg.clip_gradient))
    if cfg.clip_gradient_norm > 0:
      parts.append(optax.clip_by_global_norm(cfg.clip_gradient_norm))
    if cfg.weight_decay > 0:  # MXNet's wd: L2 added to the gradient
      parts.append(optax.add_decayed_weights(cfg.weight_decay))
    if cfg.optimizer_type == "adam":
      parts.append(optax.scale_by_adam(eps=1e-8))
    elif cfg.optimizer_type == "rmsprop":
      parts.append(optax.scale_by_rms(decay=0.9, eps=1e-8))
    parts.append(optax.scale_by_learning_rate(learning_rate))  # sgd: nothing before this
    return optax.chain(*parts)
  return optax.inject_hyperparams(make)(learning_rate=cfg.learning_rate)


def set_learning_rate(opt_state, value):
  opt_state.hyperparams["learning_rate"] = value
  return opt_state


def learning_rate(opt_state) -> float:
  return float(opt_state.hyperparams["learning_rate"])
