"""A SageMaker tuning job as a sweep: CreateHyperParameterTuningJob's ParameterRanges.

Accepted JSON: the `ParameterRanges` object itself, a `HyperParameterTuningJobConfig` (which
holds it), or a whole CreateHyperParameterTuningJob request. From the job config also:
`Strategy` (Bayesian -> TPE, Random -> random, Grid -> grid, Hyperband -> TPE with the Hyperband
pruner), `ResourceLimits.MaxNumberOfTrainingJobs` (the number of trials),
`TrainingJobEarlyStoppingType: Auto` (the median pruner), `RandomSeed` and the objective, which must
be the config's optimized metric. From the whole request also `TrainingJobDefinition.
StaticHyperParameters`, applied to every trial as SageMaker does: its names and string values,
checked like the ranges. Anything else in the request is not honoured: a warning names it, or an
error where it would change what is searched (WarmStartConfig, AutoParameters, several training
job definitions).

Scaling types, as SageMaker defines them: Linear and Logarithmic are Optuna's uniform and
log-uniform; ReverseLogarithmic (for values in [0, 1), dense near 1) samples 1 - value
log-uniformly; Auto is Logarithmic for a positive range spanning at least two decades, else
Linear (SageMaker decides Auto itself; this is our reading of it).
"""

import json
import logging
import math

from s2s_jax import hyper
from s2s_jax.errors import ConfigError
from s2s_jax.sagemaker import hyperparameters

STRATEGIES = {"Bayesian": ("tpe", "none"), "Random": ("random", "none"), "Grid": ("grid", "none"),
              "Hyperband": ("tpe", "hyperband")}
SCALINGS = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
RANGE_KINDS = ("ContinuousParameterRanges", "IntegerParameterRanges", "CategoricalParameterRanges")
# Parts of a request that would change what is searched, and cannot be honoured here.
REFUSED = {
    "TrainingJobDefinitions": "several training job definitions (one is supported)",
    "WarmStartConfig": "warm start from earlier tuning jobs",
    "Autotune": "Autotune (SageMaker chooses the ranges)",
    "AutoParameters": "AutoParameters (SageMaker chooses the ranges)",
    "HyperParameterRanges": "ranges in the training job definition (give ParameterRanges)",
    "TuningObjective": "an objective in the training job definition (give "
                       "HyperParameterTuningJobObjective)",
}
# What the rest of a request becomes here: warned about, with what to use instead.
INSTEAD = {
    "MaxParallelTrainingJobs": "--workers sets how many trials run side by side",
    "InputDataConfig": "trials read the --config's data (--config.data.*)",
    "ResourceConfig": "trials run on this machine (--workers)",
    "StoppingCondition": "trials stop at the config's max_num_batches / max_num_epochs",
    "MaxRuntimeInSeconds": "no time limit: Ctrl-C stops the sweep with checkpoints",
    "OutputDataConfig": "trials write to --workdir",
    "CheckpointConfig": "trials checkpoint into --workdir",
}
log = logging.getLogger("s2s_jax")


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
  known = set(RANGE_KINDS)
  if not known & set(ranges):
    raise ConfigError(f"{where}: no ParameterRanges found (expected {', '.join(sorted(known))})")
  if ranges is not job:  # a job config, maybe inside a request: say what is not honoured
    request = data if job is not data else {}
    _not_honoured(request, job, ranges, where)
  space, transforms = _space(ranges, where)
  fixed = static_hyperparameters(data.get("TrainingJobDefinition") or {}, ranges, where)
  return _search(job, space, transforms, fixed, where)


def _space(ranges, where):
  """({config key: distribution}, {config key: transform}) of the ParameterRanges."""
  space, transforms = {}, {}
  for kind in sorted(set(RANGE_KINDS) & set(ranges)):
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
  return space, transforms


def _search(job, space, transforms, fixed, where) -> hyper.Search:
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
  metric = fixed.pop(_TUNING_METRIC, None)
  if metric is not None and metric != (objective or (None,))[0]:
    raise ConfigError(f"{where}: StaticHyperParameters {_TUNING_METRIC}={metric} is not the job's "
                      f"objective ({objective[0] if objective else 'none given'})")
  seed = job.get("RandomSeed", 0)
  if not isinstance(seed, int):
    raise ConfigError(f"{where}: RandomSeed must be an integer, got {seed!r}")
  return hyper.Search(space, sampler, num_trials, pruner, seed, fixed, transforms=transforms,
                      objective=objective)


_TUNING_METRIC = "_tuning_objective_metric"  # added by SageMaker's Python SDK: the objective


def static_hyperparameters(definition, ranges, where) -> dict:
  """{config key: value} of TrainingJobDefinition.StaticHyperParameters, which SageMaker gives
  every training job of the tuning job; `_tuning_objective_metric` is kept under its own name
  (checked against the objective)."""
  static = definition.get("StaticHyperParameters") or {}
  at = f"{where}: TrainingJobDefinition.StaticHyperParameters"
  out = hyperparameters.to_overrides(static, at)
  tuned = {r.get("Name") for kind in RANGE_KINDS for r in ranges.get(kind, [])
           if isinstance(r, dict)}
  for name in static:
    if name in tuned:
      raise ConfigError(f"{at}: {name} is also tuned in ParameterRanges (SageMaker refuses that "
                        "too): remove one")
    if name.startswith(hyperparameters.IGNORED_PREFIXES) and name != _TUNING_METRIC:
      log.warning("warning: %s: %s is SageMaker's own setting, not used by s2s-sweep", at, name)
  if _TUNING_METRIC in static:
    out[_TUNING_METRIC] = str(static[_TUNING_METRIC])
  return out


def _not_honoured(request, job, ranges, where):
  """ConfigError for what would change the search; a warning for each other setting ignored."""
  honoured = {"request": {"HyperParameterTuningJobConfig", "TrainingJobDefinition"},
              "HyperParameterTuningJobConfig": {"Strategy", "HyperParameterTuningJobObjective",
                                                "ResourceLimits", "ParameterRanges",
                                                "TrainingJobEarlyStoppingType", "RandomSeed"},
              "ResourceLimits": {"MaxNumberOfTrainingJobs"},
              "ParameterRanges": set(RANGE_KINDS),
              "TrainingJobDefinition": {"StaticHyperParameters"}}
  parts = {"request": request, "HyperParameterTuningJobConfig": job,
           "ResourceLimits": job.get("ResourceLimits") or {}, "ParameterRanges": ranges,
           "TrainingJobDefinition": request.get("TrainingJobDefinition") or {}}
  for part, values in parts.items():
    for key in sorted(set(values) - honoured[part]):
      name = key if part == "request" else f"{part}.{key}"
      if key in REFUSED:
        raise ConfigError(f"{where}: {name}: s2s-sweep does not support {REFUSED[key]}")
      log.warning("warning: %s: %s is not honoured by s2s-sweep%s", where, name,
                  f": {INSTEAD[key]}" if key in INSTEAD else "")


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
