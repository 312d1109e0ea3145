"""A sweep as the runner sees it: loaded from a sweep file or a SageMaker tuning job's JSON, every
key and value checked against the config before any trial starts.

  sweep file       a Python file whose get_sweep() returns a grid (list of override dicts) or a
                   hyper.Search (s2s_jax/hyper.py)
  SageMaker JSON   a tuning job's ParameterRanges (or its HyperParameterTuningJobConfig, or the
                   whole CreateHyperParameterTuningJob request): names are SageMaker's
                   hyperparameters, values its strings, scaling types its own (sagemaker_ranges.py)
"""

import dataclasses
import hashlib
import importlib.util
import json
import os
import re
import traceback

import optuna

from s2s_jax import config as config_lib
from s2s_jax import hyper
from s2s_jax.errors import ConfigError

MAX_NAME = 120  # characters of a trial folder's name before it is shortened with a hash
SWEEP_FILE = "sweep.json"


@dataclasses.dataclass
class Sweep:
  """The checked sweep: the base config, its objective, and either grid points or a search."""
  config_arg: str  # the --config argument, file[:variant]
  config_overrides: list  # the --config.key=value arguments given beside it, for every trial
  base: dict  # the base config, resolved (every key)
  objective: str  # e.g. "validation:bleu"
  direction: str  # maximize / minimize
  points: list | None = None  # grid: [{key: value}, ...]
  search: hyper.Search | None = None
  source: str = ""  # the sweep file or JSON it came from
  test: tuple | None = None  # (source, reference) files each finished trial translates and scores
  model: str | None = None  # a decoding sweep: the trained model every trial translates with

  @property
  def is_grid(self) -> bool:
    return self.points is not None

  def fingerprint(self) -> dict:
    """What a sweep folder is tied to: restarting it with anything else here changed is refused."""
    out = {"config": self.config_arg, "overrides": self.config_overrides, "base": self.base,
           "objective": self.objective}
    if self.model:
      out["model"] = self.model
    if self.is_grid:
      out["points"] = self.points
    else:
      s = self.search
      out["search"] = {"space": {k: optuna.distributions.distribution_to_json(d)
                                 for k, d in s.space.items()},
                       "sampler": s.sampler, "pruner": s.pruner, "seed": s.seed,
                       "fixed": s.fixed, "transforms": sorted(s.transforms),
                       "first": list(s.first)}
    return json.loads(json.dumps(out, default=str))  # plain JSON types, the sweep's key order

  def save(self, folder: str):
    """sweep.json: what the report needs to rebuild the tables without the sweep file."""
    os.makedirs(folder, exist_ok=True)
    record = {**self.fingerprint(), "direction": self.direction, "source": self.source,
              "test": list(self.test) if self.test else None, "keys": self.keys()}
    path = os.path.join(folder, SWEEP_FILE)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
      json.dump(record, f, indent=2)  # key order kept: it is the sweep's order of keys
    os.replace(path + ".tmp", path)

  @classmethod
  def saved(cls, folder: str) -> "Sweep":
    """The sweep a folder was made by (its sweep.json)."""
    path = os.path.join(folder, SWEEP_FILE)
    if not os.path.exists(path):
      raise ConfigError(f"{folder} is not a sweep folder: {SWEEP_FILE} is missing")
    with open(path, encoding="utf-8") as f:
      r = json.load(f)
    sweep = cls(r["config"], r["overrides"], r["base"], r["objective"], r["direction"],
                source=r["source"], test=tuple(r["test"]) if r["test"] else None,
                model=r.get("model"))
    if "points" in r:
      sweep.points = r["points"]
    else:
      s = r["search"]
      space = {k: optuna.distributions.json_to_distribution(d) for k, d in s["space"].items()}
      sweep.search = hyper.Search(space, s["sampler"], 0, s["pruner"], s["seed"], s["fixed"],
                                  first=tuple(s.get("first", ())))
    return sweep

  def keys(self) -> list[str]:
    """The keys that vary between trials, in the sweep's order."""
    if not self.is_grid:
      return list(self.search.space)
    keys = []
    for point in self.points:
      keys += [k for k in point if k not in keys]
    return [k for k in keys if len({json.dumps(p.get(k), default=str) for p in self.points}) > 1]


def load(base_cd, config_arg: str, config_overrides: list, sweep_path: str) -> Sweep:
  """Loads and checks a sweep file (.py) or a SageMaker tuning job (.json) against the base
  config (the ConfigDict of config_arg with config_overrides applied)."""
  if sweep_path.endswith(".json"):
    from s2s_jax.sweeps import sagemaker_ranges
    spec = sagemaker_ranges.from_file(sweep_path)
  else:
    module = _import(sweep_path, "sweep file")
    if not hasattr(module, "get_sweep"):
      raise ConfigError(f"sweep file {sweep_path} has no get_sweep() function")
    try:
      spec = module.get_sweep()
    except Exception as e:  # noqa: BLE001 - whatever the sweep file raised
      raise ConfigError(f"sweep file {sweep_path}: get_sweep() raised {type(e).__name__}: {e}") \
          from None
  return check(base_cd, config_arg, config_overrides, spec, sweep_path)


def load_decoding(model: str, sweep_path: str, test) -> Sweep:
  """A decoding sweep: every trial translates `test` with `model` and its own decode.* keys
  (beam size, length penalty, ...); the objective is test BLEU."""
  import ml_collections

  from s2s_jax import manifest
  saved = manifest.read(model)
  if not saved or "config" not in saved:
    raise ConfigError(f"--model={model} has no manifest.json with its config (a training "
                      "workdir or an exported model of this version)")
  if not test:
    raise ConfigError("a decoding sweep needs a test set: --test=SOURCE,REFERENCE")
  base_cd = ml_collections.ConfigDict(saved["config"])
  sweep = load(base_cd, model, [], sweep_path)
  for key in (sweep.search.space if sweep.search else
              {k for p in sweep.points for k in p}):
    if not key.startswith("decode."):
      raise ConfigError(f"{sweep_path}: a decoding sweep (--model) varies decode.* keys only, "
                        f"not {key}")
  sweep.model, sweep.test = model, tuple(test)
  sweep.objective, sweep.direction = "test:bleu", "maximize"
  return sweep


def check(base_cd, config_arg, config_overrides, spec, source="sweep") -> Sweep:
  """Normalises keys and checks every grid point (or every search bound and choice) by building
  the config it makes; ConfigError names the trial and the key."""
  base = config_lib.from_configdict(base_cd)
  t = base.train
  objective = f"validation:{t.optimized_metric}"
  direction = "minimize" if t.optimized_metric == "perplexity" else "maximize"
  sweep = Sweep(config_arg, list(config_overrides), base.to_dict(), objective, direction,
                source=source)
  if isinstance(spec, hyper.Search):
    sweep.search = _check_search(base_cd, spec, source)
    if sweep.search.sampler == "grid":  # every combination, run as a grid
      sweep.points = _grid_of(sweep.search, source)
      sweep.search = None
  elif isinstance(spec, (list, tuple)):
    sweep.points = [_normalise(p, f"{source}: trial {i}") for i, p in enumerate(spec)]
  else:
    raise ConfigError(f"{source}: get_sweep() must return a list of override dicts or a "
                      f"hyper.search(...), got {type(spec).__name__}")
  if sweep.is_grid:
    if not sweep.points:
      raise ConfigError(f"{source}: the sweep is empty (get_sweep() returned no trials)")
    names = {}
    for i, point in enumerate(sweep.points):
      where = f"{source}: trial {i} ({trial_name(point) or 'no overrides'})"
      _refuse_changed_objective(point, t.optimized_metric, where)
      apply(base_cd, point, where)
      name = trial_name(point)
      if name in names:
        raise ConfigError(f"{source}: trials {names[name]} and {i} are the same ({name}); a grid "
                          "runs each point once (vary the seed to repeat a configuration)")
      names[name] = i
  return sweep


def apply(base_cd, overrides: dict, where: str) -> config_lib.ExperimentConfig:
  """The checked config of base + overrides (as `--config.key=value` would set them)."""
  cd = base_cd.copy_and_resolve_references()
  for key, value in overrides.items():
    *parents, name = key.split(".")
    node = cd
    try:
      for parent in parents:
        node = node[parent]
      if name not in node:
        raise KeyError(name)
      node[name] = value
    except (KeyError, AttributeError):
      raise ConfigError(f"{where}: unknown config key '{key}'") from None
    except TypeError as e:  # ml_collections checks a value's type against the default's
      raise ConfigError(f"{where}: {key}={value!r}: {e}") from None
  try:
    return config_lib.from_configdict(cd)
  except ConfigError as e:
    raise ConfigError(f"{where}: {e}") from None


def trial_name(overrides: dict) -> str:
  """A readable folder name: `rnn_cell_type=gru+seed=2` (the full key when two keys end alike);
  long names are cut and given a hash of the whole."""
  last = [k.split(".")[-1] for k in overrides]
  parts = [f"{k if last.count(k.split('.')[-1]) > 1 else k.split('.')[-1]}={_short(v)}"
           for k, v in overrides.items()]
  name = re.sub(r"[^\w.=+-]", "_", "+".join(parts))  # no comma: it separates ensemble members
  if len(name) > MAX_NAME:
    digest = hashlib.sha1(json.dumps(overrides, sort_keys=True, default=str).encode()).hexdigest()
    name = f"{name[:MAX_NAME - 9]}~{digest[:8]}"
  return name


def _short(value):
  if isinstance(value, float):
    return f"{value:.4g}"
  return str(value)


def _normalise(point, where) -> dict:
  if not isinstance(point, dict):
    raise ConfigError(f"{where}: a trial must be a dict of config overrides, got {point!r}")
  out = {}
  for key, value in point.items():
    if not isinstance(key, str):
      raise ConfigError(f"{where}: override keys are config keys as strings, got {key!r}")
    out[key.removeprefix("config.")] = value
  return out


def _refuse_changed_objective(overrides, metric, where):
  if "train.optimized_metric" in overrides and overrides["train.optimized_metric"] != metric:
    raise ConfigError(f"{where}: train.optimized_metric is the sweep's objective "
                      f"(validation:{metric}); trials cannot compare on different metrics: set "
                      "it in the config instead")


def _check_search(base_cd, s: hyper.Search, source) -> hyper.Search:
  if s.sampler not in hyper.SAMPLERS:
    raise ConfigError(f"{source}: sampler '{s.sampler}' is not one of {', '.join(hyper.SAMPLERS)}")
  if s.pruner not in hyper.PRUNERS:
    raise ConfigError(f"{source}: pruner '{s.pruner}' is not one of {', '.join(hyper.PRUNERS)}")
  if not s.space:
    raise ConfigError(f"{source}: the sweep is empty (the search space has no keys)")
  if s.objective and tuple(s.objective) != (f"validation:{base_cd.train.optimized_metric}",
                                            "minimize" if base_cd.train.optimized_metric ==
                                            "perplexity" else "maximize"):
    raise ConfigError(f"{source}: the search's objective is {s.objective[0]} ({s.objective[1]}) "
                      f"but the config optimizes validation:{base_cd.train.optimized_metric}; set "
                      "train.optimized_metric in the config (--config.train.optimized_metric=...)")
  if s.num_trials < 1:
    raise ConfigError(f"{source}: num_trials must be positive, got {s.num_trials}")
  space = {k.removeprefix("config."): d for k, d in s.space.items()}
  fixed = _normalise(s.fixed, f"{source}: fixed")
  transforms = {k.removeprefix("config."): f for k, f in s.transforms.items()}
  metric = base_cd.train.optimized_metric
  if fixed:  # checked alone first, so that an error in them is not blamed on a search key
    _refuse_changed_objective(fixed, metric, f"{source}: fixed")
    apply(base_cd, fixed, f"{source}: fixed")
  for key, dist in space.items():
    where = f"{source}: search key {key}"
    if not isinstance(dist, optuna.distributions.BaseDistribution):
      raise ConfigError(f"{where}: expected a distribution (hyper.loguniform, hyper.choice, ...), "
                        f"got {dist!r}")
    values = (dist.choices if isinstance(dist, optuna.distributions.CategoricalDistribution)
              else (dist.low, dist.high))
    for value in values:
      value = transforms[key](value) if key in transforms else value
      _refuse_changed_objective({key: value}, metric, where)
      apply(base_cd, {**fixed, key: value}, f"{where}={value!r}")
  first = []
  for i, point in enumerate(s.first):
    point = _normalise(point, f"{source}: first[{i}]")
    unknown = sorted(set(point) - set(space))
    if unknown:
      raise ConfigError(f"{source}: first[{i}] sets {unknown[0]}, which is not in the search space")
    for key, value in point.items():
      if not _within(space[key], value):
        raise ConfigError(f"{source}: first[{i}]: {key}={value!r} is outside its distribution "
                          f"{space[key]}")
    apply(base_cd, {**fixed, **point}, f"{source}: first[{i}]")
    first.append(point)
  return dataclasses.replace(s, space=space, fixed=fixed, transforms=transforms,
                             first=tuple(first))


def _within(dist, value) -> bool:
  if isinstance(dist, optuna.distributions.CategoricalDistribution):
    return value in dist.choices
  return isinstance(value, (int, float)) and dist.low <= value <= dist.high


def _grid_of(s: hyper.Search, source) -> list[dict]:
  lists = []
  for key, dist in s.space.items():
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
      values = list(dist.choices)
    elif isinstance(dist, optuna.distributions.IntDistribution) and not dist.log:
      values = list(range(dist.low, dist.high + 1, dist.step))
    else:
      raise ConfigError(f"{source}: sampler 'grid' needs categorical or integer keys; {key} is "
                        f"{type(dist).__name__}")
    lists.append(hyper.sweep(key, [s.transforms[key](v) if key in s.transforms else v
                                   for v in values]))
  return [{**s.fixed, **p} for p in hyper.product(lists)]


def _import(path, what):
  if not os.path.exists(path):
    raise ConfigError(f"{what} {path} does not exist")
  name = "s2s_jax_user_" + re.sub(r"\W", "_", os.path.abspath(path))
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  try:
    spec.loader.exec_module(module)
  except Exception as e:  # noqa: BLE001 - a file that does not import: say where and why
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if os.path.abspath(f.filename) == os.path.abspath(path)]
    line = f" (line {frames[-1].lineno})" if frames else ""
    raise ConfigError(f"{what} {path} does not import{line}: {type(e).__name__}: {e}") from None
  return module
