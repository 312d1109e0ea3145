"""A sweep's pictures (PNG, matplotlib without a screen):

  curves.png       every trial's validation objective against updates, a colour per configuration
                   and a line style per seed; the best trial drawn thick, its best checkpoint marked
  decoding.png     a decoding sweep: test BLEU against its last key (e.g. beam size), a line per
                   value of the others (e.g. length penalty)
  importance.png   searches: Optuna's hyperparameter importances (PED-ANOVA: no scikit-learn)
  parallel.png     searches: Optuna's parallel-coordinate plot of the finished trials
"""

import logging
import os
import warnings

from optuna.trial import TrialState

from s2s_jax.sweeps import trial_dir

log = logging.getLogger("s2s_jax")


def write(workdir, sweep, study, table, output=None):
  """Draws the sweep's PNGs into `output` (default: the sweep folder)."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  output = output or workdir
  if sweep.model:
    _decoding(plt, output, sweep, table)
  else:
    _curves(plt, workdir, sweep, table, output)
  finished = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
  if sweep.search is not None and len(finished) >= 3:
    _optuna_plots(plt, output, study)


def _curves(plt, workdir, sweep, table, output):
  scale, label = (100.0, f"{sweep.objective} x100") if sweep.objective == "validation:bleu" \
      else (1.0, sweep.objective)
  fig, ax = plt.subplots(figsize=(9, 5.5))
  done = [r for r in table if r.get("best") is not None]
  pick = max if sweep.direction == "maximize" else min
  best = pick(done, key=lambda r: r["best"]) if done else None
  # one colour per configuration and one line style per seed, so that seeds of a cell read as one
  cells, seeds = {}, {}
  for row in table:
    cell, seed = _cell_and_seed(row["trial"])
    cells.setdefault(cell, len(cells))
    seeds.setdefault(seed, len(seeds))
  colours = plt.get_cmap("tab10" if len(cells) <= 10 else "tab20").colors
  for row in table:
    points = trial_dir.curve(os.path.join(workdir, "trials", row["trial"]), sweep.objective)
    if not points:
      continue
    steps, values = zip(*points)
    values = [v * scale for v in values]
    is_best = row is best
    cell, seed = _cell_and_seed(row["trial"])
    ax.plot(steps, values, lw=2.6 if is_best else 1.0, alpha=1.0 if is_best else 0.75,
            color=colours[cells[cell] % len(colours)], ls=_STYLES[seeds[seed] % len(_STYLES)],
            marker="o", ms=3, label=f"{row['trial']} ({row['status']})", zorder=3 if is_best else 2)
    if is_best and row.get("best_step") is not None:
      ax.scatter([row["best_step"]], [row["best"] * scale], s=140, marker="*", color="black",
                 zorder=4, label=f"best: {row['trial']} {row['best'] * scale:.2f} at "
                 f"{row['best_step']}")
  ax.set_xlabel("updates")
  ax.set_ylabel(label)
  ax.set_title(f"{os.path.basename(os.path.abspath(workdir))}: validation curves")
  ax.grid(alpha=0.3)
  if ax.lines:
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
  fig.savefig(os.path.join(output, "curves.png"), dpi=110, bbox_inches="tight")
  plt.close(fig)


_STYLES = ("-", "--", ":", "-.")


def _cell_and_seed(trial):
  """('emb=64', 'seed=2') of a trial named 'seed=2+emb=64' (its configuration, and its seed)."""
  parts = trial.split("+")
  seed = "+".join(p for p in parts if p.startswith("seed="))
  return "+".join(p for p in parts if not p.startswith("seed=")) or "baseline", seed


def _decoding(plt, output, sweep, table):
  keys = sweep.keys()
  if not keys:
    return
  x_key, series = keys[-1], keys[:-1]
  lines = {}
  for row in table:
    if row.get("best") is None:
      continue
    label = ", ".join(f"{k.split('.')[-1]}={row['overrides'].get(k)}" for k in series) or "test"
    lines.setdefault(label, []).append((row["overrides"][x_key], row["best"]))
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for label, points in lines.items():
    xs, ys = zip(*sorted(points))
    ax.plot(xs, ys, marker="o", label=label)
  if all(isinstance(x, int) and x > 0 for pts in lines.values() for x, _ in pts):
    ax.set_xscale("log")
    ticks = sorted({x for pts in lines.values() for x, _ in pts})
    ax.set_xticks(ticks, [str(t) for t in ticks])
  ax.set_xlabel(x_key.split(".")[-1])
  ax.set_ylabel(f"BLEU on {os.path.basename(sweep.test[1])}" if sweep.test else "test BLEU")
  ax.set_title(f"decoding {os.path.basename(os.path.abspath(sweep.model))}")
  ax.grid(alpha=0.3)
  if ax.lines:
    ax.legend(fontsize=8)
  fig.savefig(os.path.join(output, "decoding.png"), dpi=110, bbox_inches="tight")
  plt.close(fig)


def _optuna_plots(plt, output, study):
  import optuna
  from optuna.visualization import matplotlib as ov
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
    for name, draw in (
        ("importance.png", lambda: ov.plot_param_importances(
            study, evaluator=optuna.importance.PedAnovaImportanceEvaluator())),
        ("parallel.png", lambda: ov.plot_parallel_coordinate(study))):
      try:
        ax = draw()
        fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
        fig.set_size_inches(9, 5.5)
        fig.savefig(os.path.join(output, name), dpi=110, bbox_inches="tight")
        plt.close(fig)
      except (ValueError, RuntimeError, ZeroDivisionError) as e:  # too few distinct trials
        log.info("%s not drawn yet: %s", name, e)
