"""A SageMaker tuning job as a sweep: CreateHyperParameterTuningJob's ParameterRanges.

Accepted JSON: the `ParameterRanges` object itself, a `HyperParameterTuningJobConfig` (which
holds it), or a whole CreateHyperParameterTuningJob request. From the job config also:
`Strategy` (Bayesian -> TPE, Random -> random, Grid -> grid, Hyperband -> TPE with the Hyperband
pruner), `ResourceLimits.MaxNumberOfTrainingJobs` (the number of trials),
`TrainingJobEarlyStoppingType: Auto` (the median pruner) and the objective, which must be the
config's optimized metric.

Scaling types, as SageMaker defines them: Linear and Logarithmic are Optuna's uniform and
log-uniform; ReverseLogarithmic (for values in [0, 1), dense near 1) samples 1 - value
log-uniformly; Auto is Logarithmic for a positive range spanning at least two decades, else
Linear (SageMaker decides Auto itself; this is our reading of it).
"""

import json
import math

from s2s_jax import hyper
from s2s_jax.errors import ConfigError
from s2s_jax.sagemaker import hyperparameters

STRATEGIES = {"Bayesian": ("tpe", "none"), "Random": ("random", "none"), "Grid": ("grid", "none"),
              "Hyperband": ("tpe", "hyperband")}
SCALINGS = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")


def from_file(path) -> hyper.Search:
  try:
    with open(path, encoding="utf-8") as f:
      data = json.load(f)
  except (OSError, ValueError) as e:
    raise ConfigError(f"SageMaker tuning JSON {path} cannot be read: {e}") from None
  return from_json(data, path)


def from_json(data, where="ParameterRanges") -> hyper.Search:
  if not isinstance(data, dict):
    raise ConfigError(f"{where}: expected a JSON object, got {type(data).__name__}")
  job = data.get("HyperParameterTuningJobConfig", data)
  ranges = job.get("ParameterRanges", job)
  known = {"ContinuousParameterRanges", "IntegerParameterRanges", "CategoricalParameterRanges"}
  if not known & set(ranges):
    raise ConfigError(f"{where}: no ParameterRanges found (expected {', '.join(sorted(known))})")
  space, transforms = {}, {}
  for kind in sorted(known & set(ranges)):
    if not isinstance(ranges[kind], list):
      raise ConfigError(f"{where}: {kind} must be a list")
    for i, r in enumerate(ranges[kind]):
      at = f"{where}: {kind}[{i}]"
      if not isinstance(r, dict) or "Name" not in r:
        raise ConfigError(f"{at} needs a Name")
      name = r["Name"]
      if name not in hyperparameters.BY_NAME:
        raise ConfigError(f"{at}: unknown hyperparameter '{name}'; known: "
                          f"{', '.join(sorted(hyperparameters.BY_NAME))}")
      h = hyperparameters.BY_NAME[name]
      if h.key in space:
        raise ConfigError(f"{at}: {name} has two ranges")
      at = f"{at} ({name})"
      if kind == "CategoricalParameterRanges":
        values = r.get("Values")
        if not isinstance(values, list) or not values:
          raise ConfigError(f"{at}: Values must be a non-empty list of strings")
        space[h.key] = hyper.choice([_parse(h, v, at) for v in values])
        continue
      low, high = (_parse(h, _required(r, k, at), at) for k in ("MinValue", "MaxValue"))
      if low > high:
        raise ConfigError(f"{at}: MinValue {low} is above MaxValue {high}")
      scaling = r.get("ScalingType", "Auto")
      if scaling not in SCALINGS:
        raise ConfigError(f"{at}: ScalingType '{scaling}' is not one of {', '.join(SCALINGS)}")
      if scaling == "Auto":
        scaling = "Logarithmic" if low > 0 and high / low >= 100 else "Linear"
      integer = kind == "IntegerParameterRanges"
      if scaling == "Logarithmic":
        if low <= 0:
          raise ConfigError(f"{at}: Logarithmic scaling needs MinValue > 0, got {low}")
        space[h.key] = hyper.integer(low, high, log=True) if integer else hyper.loguniform(low, high)
      elif scaling == "ReverseLogarithmic":
        if integer or not 0 <= low < high < 1:
          raise ConfigError(f"{at}: ReverseLogarithmic needs a continuous range within [0, 1)")
        # Sampled as 1 - value, log-uniform: dense near 1, as SageMaker's reverse scaling.
        space[h.key] = hyper.loguniform(1.0 - high, 1.0 - low)
        transforms[h.key] = _one_minus
      else:
        space[h.key] = hyper.integer(low, high) if integer else hyper.uniform(low, high)
  strategy = job.get("Strategy", "Bayesian")
  if strategy not in STRATEGIES:
    raise ConfigError(f"{where}: Strategy '{strategy}' is not one of {', '.join(STRATEGIES)}")
  sampler, pruner = STRATEGIES[strategy]
  if job.get("TrainingJobEarlyStoppingType", "Off") == "Auto" and pruner == "none":
    pruner = "median"
  limits = job.get("ResourceLimits", {})
  num_trials = int(limits.get("MaxNumberOfTrainingJobs", 20))
  objective = job.get("HyperParameterTuningJobObjective")
  if objective is not None:
    if not isinstance(objective, dict) or "MetricName" not in objective:
      raise ConfigError(f"{where}: HyperParameterTuningJobObjective needs MetricName and Type")
    objective = (objective["MetricName"], str(objective.get("Type", "")).lower())
  return hyper.Search(space, sampler, num_trials, pruner, transforms=transforms,
                      objective=objective)


def _required(r, key, at):
  if key not in r:
    raise ConfigError(f"{at}: {key} is missing")
  return r[key]


def _parse(h, value, at):
  try:
    parsed = h.parse(str(value))
  except ConfigError as e:
    raise ConfigError(f"{at}: {e}") from None
  if isinstance(parsed, float) and not math.isfinite(parsed):
    raise ConfigError(f"{at}: {value!r} is not a finite number")
  return parsed


def _one_minus(x):
  return 1.0 - x
