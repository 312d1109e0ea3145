r"""What a sweep file's `get_sweep()` returns: a grid of `--config` overrides, or a search space.

A grid is a list of override dicts, built from lists the way big_vision's `get_hyper` does:

  from s2s_jax import hyper

  def get_sweep():
    return hyper.product([
        hyper.sweep("model.rnn_cell_type", ["lstm", "gru"]),
        hyper.zipit([hyper.sweep("model.num_embed_source", [128, 256]),
                     hyper.sweep("model.num_embed_target", [128, 256])]),
        hyper.sweep("seed", [1, 2]),
    ])                                                   # 2 x 2 x 2 = 8 trials

A search draws its trials from Optuna distributions with one of Optuna's samplers, and may stop
trials that fall behind with one of its pruners:

  def get_sweep():
    return hyper.search({"train.learning_rate": hyper.loguniform(1e-4, 1e-2),
                         "model.rnn_cell_type": hyper.choice(["lstm", "gru"])},
                        sampler="tpe", num_trials=20, pruner="median")

Keys are config keys as on the command line (`model.rnn_num_hidden`; a leading `config.` is
allowed). The runner (s2s_jax/sweeps/) checks every key and value against the config before any
trial starts.
"""

import dataclasses
import itertools

import optuna

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("none", "median", "hyperband")


def sweep(key: str, values) -> list[dict]:
  """One key over several values: [{key: v1}, {key: v2}, ...]."""
  return [{key: value} for value in values]


def fixed(key: str, value) -> list[dict]:
  """One key at one value, for a product."""
  return [{key: value}]


def product(lists) -> list[dict]:
  """Every combination of one element from each list, merged (the first list varies slowest)."""
  return [_merge(combo) for combo in itertools.product(*lists)]


def zipit(lists) -> list[dict]:
  """The i-th elements of the lists merged together; the lists must be equally long."""
  lengths = {len(x) for x in lists}
  if len(lengths) > 1:
    raise ValueError(f"hyper.zipit needs lists of one length, got lengths {sorted(lengths)}")
  return [_merge(combo) for combo in zip(*lists)]


def _merge(dicts) -> dict:
  out = {}
  for d in dicts:
    clash = set(out) & set(d)
    if clash:
      raise ValueError(f"hyper: key {sorted(clash)[0]} is set twice in one trial")
    out.update(d)
  return out


def loguniform(low: float, high: float):
  return optuna.distributions.FloatDistribution(low, high, log=True)


def uniform(low: float, high: float):
  return optuna.distributions.FloatDistribution(low, high)


def integer(low: int, high: int, log: bool = False):
  return optuna.distributions.IntDistribution(low, high, log=log)


def choice(values):
  return optuna.distributions.CategoricalDistribution(list(values))


@dataclasses.dataclass(frozen=True)
class Search:
  """A search: `space` maps config keys to Optuna distributions; `fixed` overrides every trial
  shares; `transforms` maps a key to a function of the sampled value (SageMaker's
  ReverseLogarithmic scaling samples 1 - value)."""
  space: dict
  sampler: str = "tpe"
  num_trials: int = 20
  pruner: str = "none"
  seed: int = 0
  fixed: dict = dataclasses.field(default_factory=dict)
  transforms: dict = dataclasses.field(default_factory=dict)
  # The objective the search was written for ("validation:bleu", "maximize"); checked against
  # the config's optimized_metric. None: the config's.
  objective: tuple | None = None
  # Trials to run before the sampler's own, as {key: value} within the space (e.g. a known
  # good configuration); Optuna's enqueue_trial.
  first: tuple = ()


def search(space: dict, sampler: str = "tpe", num_trials: int = 20, pruner: str = "none",
           seed: int = 0, fixed: dict | None = None, first=(), objective=None) -> Search:
  """A search over `space` ({key: distribution}); sampler: tpe, random or grid (every
  combination of categorical/integer values); pruner: none, median or hyperband; `fixed`: the
  overrides every trial shares; `first`: trials ({key: value}) to run before sampling;
  `objective`: ("validation:bleu", "maximize"), checked against the config's optimized_metric."""
  return Search(dict(space), sampler, num_trials, pruner, seed, dict(fixed or {}),
                objective=tuple(objective) if objective else None,
                first=tuple(dict(p) for p in first))
