"""A sweep's results, rewritten as trials end and readable mid-sweep:

  results.csv / results.md   one row per trial: its overrides, status, best objective and the step
                             it came at, wall time, tokens/s, parameters, test BLEU, error
  cells.md (+ in results.md) with a `seed` key: one row per configuration, mean ± std over seeds,
                             and sacreBLEU's paired bootstrap against the baseline configuration,
                             beside a paper's figures when given (`published`)
  curves.png, importance.png, parallel.png    plots.py
  tensorboard HParams                         hparams.py

Each row comes from the trial's folder where this machine has it (the truth while it runs) and
from the study's record otherwise (trials of runners on other machines).
"""

import csv
import io
import json
import os
import statistics

from optuna.trial import TrialState

from s2s_jax import metrics
from s2s_jax.sweeps import definition, trial_dir

MAX_KEY_COLUMNS = 4  # more varied keys than this: the trial name stands for them in results.md
COLUMNS = ("trial", "status", "best", "best_step", "steps", "wall_s", "tok_s", "params",
           "test_bleu", "error")


def rows(workdir: str, sweep: definition.Sweep, study) -> list[dict]:
  """One dict per trial folder (the latest Optuna trial of it), in trial order."""
  latest = {}  # a folder's trials in order: the first gives its place, the last its state
  for t in study.get_trials(deepcopy=False):
    folder = t.user_attrs.get("folder")
    if folder:
      latest[folder] = t
  out = []
  for folder, t in latest.items():
    path = os.path.join(workdir, "trials", folder)
    overrides = t.user_attrs.get("overrides")
    if overrides is None and sweep.is_grid and "index" in t.user_attrs:  # not started yet
      overrides = sweep.points[t.user_attrs["index"]]
    row = {"trial": folder, "overrides": overrides or {}}
    row.update({k: t.user_attrs[k] for k in ("wall_s", "tok_s", "params", "steps", "test_bleu",
                                             "best_step", "error") if k in t.user_attrs})
    row["status"] = _status(t)
    if t.state == TrialState.COMPLETE:
      row["best"] = t.value
    if os.path.isdir(path):
      row.update(trial_dir.facts(path))
      value, step = trial_dir.best(path, sweep.objective)
      if value is not None:
        row["best"], row["best_step"] = value, step
    out.append(row)
  return out


def _status(t) -> str:
  if t.state == TrialState.RUNNING:
    return "running"
  if t.state == TrialState.WAITING:
    return "resuming" if "resumes" in t.user_attrs else "waiting"
  return t.user_attrs.get("status") or t.state.name.lower()


def write(workdir: str, sweep: definition.Sweep, study, plots: bool = True,
          baseline: str | None = None, output: str | None = None,
          published: str | None = None) -> str:
  """Writes the results files (into `output`, default the sweep folder; TensorBoard HParams
  always beside the runs); returns results.md's text. `published`: a CSV of figures to set
  beside the seeds table (see `read_published`)."""
  output = output or workdir
  os.makedirs(output, exist_ok=True)
  table = rows(workdir, sweep, study)
  keys = sweep.keys()
  _atomic(os.path.join(output, "results.csv"), _csv(table, keys, sweep.objective))
  md = markdown(table, keys, sweep)
  cells = cell_table(workdir, table, keys, sweep, baseline,
                     read_published(published) if published else None)
  if published and not cells:
    from s2s_jax.errors import ConfigError
    raise ConfigError(f"--published={published}: this sweep has no seeds table to set it beside "
                      "(it needs a `seed` key)")
  if cells:
    md += "\n" + cells
    _atomic(os.path.join(output, "cells.md"), cells)
  _atomic(os.path.join(output, "results.md"), md)
  if plots:
    from s2s_jax.sweeps import hparams, plots as plots_lib
    plots_lib.write(workdir, sweep, study, table, output)
    hparams.write(workdir, sweep, table)
  return md


def _csv(table, keys, objective) -> str:
  buf = io.StringIO()
  writer = csv.writer(buf)
  writer.writerow(["trial", *keys, *[objective if c == "best" else c for c in COLUMNS[1:]]])
  for row in table:
    writer.writerow([row["trial"], *[row["overrides"].get(k, "") for k in keys],
                     *[row.get(c, "") for c in COLUMNS[1:]]])
  return buf.getvalue()


def markdown(table, keys, sweep) -> str:
  if len(keys) > MAX_KEY_COLUMNS:  # the trial's name lists its overrides already
    keys = []
  short = [k.split(".")[-1] for k in keys]
  scale = _scale(sweep)
  head = ["trial", *short, "status", sweep.objective + (" x100" if scale != 1 else ""),
          "at step", "updates", "wall", "tok/s", "params", "test BLEU"]
  lines = [f"# Sweep results: {len(table)} trials", "",
           f"Config `{' '.join([sweep.config_arg, *sweep.config_overrides])}`, sweep "
           f"`{sweep.source}`; objective {sweep.objective} ({sweep.direction}), the best "
           "checkpoint's. Test BLEU: the best checkpoint on the test set"
           f"{f' ({sweep.test[1]})' if sweep.test else ''}, tokenized, {metrics.bleu_signature()}.",
           "",
           "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  best = _best_row(table, sweep.direction)
  for row in table:
    name = f"**{row['trial']}**" if row is best else row["trial"]
    cells = [name, *[_fmt(row["overrides"].get(k, "")) for k in keys], row["status"],
             _fmt(None if row.get("best") is None else row["best"] * scale),
             _fmt(row.get("best_step")), _fmt(row.get("steps")),
             _duration(row.get("wall_s")), _fmt(row.get("tok_s")), _params(row.get("params")),
             _fmt(row.get("test_bleu"))]
    lines.append("| " + " | ".join(cells) + " |")
  errors = [r for r in table if r.get("error") and r["status"] != "finished"]
  if errors:
    lines += ["", "Stopped trials:", ""]
    lines += [f"- {r['trial']} ({r['status']}): {r['error']}" for r in errors]
  return "\n".join(lines) + "\n"


def _best_row(table, direction):
  done = [r for r in table if r.get("best") is not None]
  if not done:
    return None
  pick = max if direction == "maximize" else min
  return pick(done, key=lambda r: r["best"])


def read_published(path: str) -> tuple[str, list[str], dict[str, list[str]]]:
  """(path, column names, {configuration: values}) of a CSV whose first column,
  `configuration`, names a row of the seeds table (`baseline`, `rnn_cell_type=gru`, ...) and
  whose other columns are figures to set beside ours (a paper's cell, mean ± std, ...)."""
  from s2s_jax.errors import ConfigError
  try:
    with open(path, encoding="utf-8", newline="") as f:
      lines = list(csv.reader(f))
  except OSError as e:
    raise ConfigError(f"--published={path}: {e.strerror}") from None
  if not lines or not lines[0] or lines[0][0].strip() != "configuration" or len(lines[0]) < 2:
    raise ConfigError(f"--published={path}: the first line must be the header "
                      "'configuration,<column>,...'")
  head = [c.strip() for c in lines[0][1:]]
  figures = {}
  for number, line in enumerate(lines[1:], start=2):
    if not any(c.strip() for c in line):
      continue
    if len(line) != len(head) + 1:
      raise ConfigError(f"--published={path} line {number}: {len(line)} fields, the header has "
                        f"{len(head) + 1}")
    name = line[0].strip()
    if name in figures:
      raise ConfigError(f"--published={path} line {number}: configuration {name} appears twice")
    figures[name] = [c.strip() for c in line[1:]]
  return path, head, figures


def cell_table(workdir, table, keys, sweep, baseline=None, published=None) -> str:
  """Mean ± std over seeds per configuration, with the paired bootstrap against the baseline
  (given by name, else the configuration with no overrides besides the seed, else the first),
  and `read_published`'s columns after ours. Empty without seeds."""
  if "seed" not in keys:
    return ""
  cells = {}
  for row in table:
    cell = {k: v for k, v in row["overrides"].items() if k != "seed"}
    cells.setdefault(definition.trial_name(cell) or "baseline", []).append(row)
  names = list(cells)
  if baseline is not None and baseline not in cells:
    from s2s_jax.errors import ConfigError
    raise ConfigError(f"--baseline={baseline} is not a configuration of this sweep; they are: "
                      f"{', '.join(names)}")
  baseline = baseline or next((n for n in names if n == "baseline"), names[0])
  path, extra, figures = published or ("", [], {})
  unknown = [n for n in figures if n not in cells]
  if unknown:
    from s2s_jax.errors import ConfigError
    raise ConfigError(f"--published={path}: configuration {unknown[0]} is not in this sweep; "
                      f"its configurations are: {', '.join(names)}")
  test = sweep.test
  scale = _scale(sweep)
  lines = ["## Configurations: mean ± std over seeds", "",
           f"Baseline: `{baseline}`. Δ: against the baseline's mean over the same seeds. p: "
           "sacreBLEU paired bootstrap (1000 resamples) of test BLEU against the baseline with "
           "the same seed, the largest over seeds.", "",
           f"| configuration | seeds | {sweep.objective}{' x100' if scale != 1 else ''} | "
           "test BLEU | Δ test BLEU | p | params | wall per trial |"
           + "".join(f" {c} |" for c in extra), "|---|---|---|---|---|---|---|---|" + "---|" * len(extra)]
  base_by_seed = {r["overrides"].get("seed"): r.get("test_bleu") for r in cells[baseline]}
  for name in names:
    group = cells[name]
    done = [r for r in group if r["status"] == "finished"]
    val = _mean_std([r["best"] * scale for r in done if r.get("best") is not None])
    scored = [r for r in done if r.get("test_bleu") is not None]
    bleus = [r["test_bleu"] for r in scored]
    bleu = _mean_std(bleus)
    # against the baseline's mean over the same seeds, so that a cell with one seed done so far
    # is compared with that seed's baseline
    paired = [(r["test_bleu"], base_by_seed.get(r["overrides"].get("seed"))) for r in scored]
    paired = [(a, b) for a, b in paired if b is not None]
    delta = (f"{_mean([a for a, _ in paired]) - _mean([b for _, b in paired]):+.2f}"
             if paired and name != baseline else "")
    p = "" if name == baseline or not test else _p_value(workdir, cells[baseline], done, test)
    params = _params(next((r.get("params") for r in group if r.get("params")), None))
    wall = _duration(_mean([r.get("wall_s") for r in done]))
    lines.append(f"| {name} | {len(done)}/{len(group)} | {val} | {bleu} | {delta} | {p} | "
                 f"{params} | {wall} |" + "".join(f" {v} |" for v in figures.get(name, [""] * len(extra))))
  if figures:
    lines += ["", f"The last {len(extra)} column(s): `{path}`."]
  return "\n".join(lines) + "\n"


def _p_value(workdir, base_rows, rows_, test) -> str:
  """The largest p over seeds that both configurations finished with a test translation."""
  _, reference = test
  with open(reference, encoding="utf-8") as f:
    refs = [" ".join(line.split()) for line in f]
  by_seed = {r["overrides"].get("seed"): r for r in base_rows}
  ps = []
  for row in rows_:
    base = by_seed.get(row["overrides"].get("seed"))
    hyp_a = base and _hyps(workdir, base["trial"])
    hyp_b = _hyps(workdir, row["trial"])
    if hyp_a and hyp_b and len(hyp_a) == len(hyp_b) == len(refs):
      ps.append(paired_bootstrap(hyp_a, hyp_b, refs))
  return f"{max(ps):.3f}" if ps else ""


def paired_bootstrap(baseline, system, references) -> float:
  """sacreBLEU's paired bootstrap p-value of `system` against `baseline` (tokenized BLEU)."""
  from sacrebleu.metrics import BLEU
  from sacrebleu.significance import PairedTest
  test = PairedTest([("baseline", baseline), ("system", system)],
                    {"BLEU": BLEU(tokenize="none", force=True)}, [references], test_type="bs",
                    n_samples=1000)
  _, scores = test()
  return float(scores["BLEU"][1].p_value)


def _hyps(workdir, name):
  return _test_hypotheses(os.path.join(workdir, "trials", name))


def _test_hypotheses(folder):
  path = os.path.join(folder, trial_dir.TEST_HYPOTHESES)
  if not os.path.exists(path):
    return None
  with open(path, encoding="utf-8") as f:
    return [line.rstrip("\n") for line in f]


def write_test_bleu(folder, source, reference):
  """Scores the trial's test translation (test.hyp) and writes test.json."""
  with open(reference, encoding="utf-8") as f:
    refs = [" ".join(line.split()) for line in f]
  hyps = _test_hypotheses(folder) or []
  result = {"bleu": round(metrics.bleu(hyps, refs), 2), "source": source, "reference": reference,
            "signature": metrics.bleu_signature(), "sentences": len(hyps)}
  _atomic(os.path.join(folder, trial_dir.TEST_RESULT), json.dumps(result, indent=2))


def _mean(values):
  values = [v for v in values if v is not None]
  return statistics.fmean(values) if values else None


def _mean_std(values) -> str:
  if not values:
    return ""
  if len(values) == 1:
    return f"{values[0]:.2f}"
  return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


def _scale(sweep) -> float:
  """BLEU objectives are SageMaker's [0, 1]; tables show them x100, as papers do."""
  return 100.0 if sweep.objective == "validation:bleu" else 1.0


def _fmt(value) -> str:
  if value is None or value == "":
    return ""
  if isinstance(value, float):
    return f"{value:.4g}"
  return str(value)


def _params(n):
  return "" if not n else f"{n / 1e6:.2f}M"


def _duration(seconds):
  if not seconds:
    return ""
  seconds = int(seconds)
  return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else \
      f"{seconds // 60}m{seconds % 60:02d}s"


def _atomic(path, text):
  tmp = f"{path}.{os.getpid()}.tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(text)
  os.replace(tmp, path)
