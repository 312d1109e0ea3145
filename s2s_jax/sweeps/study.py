"""The sweep's ledger: an Optuna study, shared by every runner that works on it.

Storage: a journal file in the sweep folder (local runners, NFS), or an RDB URL (PostgreSQL, MySQL)
so that runners on several machines share one study. A trial is claimed through the storage:

  grid      the runner that creates the study enqueues every point; runners pop waiting trials,
            and a waiting trial is moved to RUNNING by exactly one of them (Optuna's own queue)
  search    waiting trials (resumes) first, then the sampler's next trial (study.ask)

A running trial carries its runner ("host:pid") and a heartbeat; a runner that finds a RUNNING
trial whose runner is gone (same host, dead pid) or silent for STALE_AFTER seconds marks it
failed and enqueues it again under the same folder, so the next runner resumes it from its
checkpoints. Marking a finished trial fails for all but one runner, so a trial is requeued once.
"""

import json
import os
import re
import socket
import time

import optuna
from optuna.trial import TrialState

from s2s_jax.errors import ConfigError
from s2s_jax.sweeps import definition

STALE_AFTER = 300  # seconds without a heartbeat before another runner takes a trial over
INTERRUPTED = "interrupted"  # user attr "status" of a trial stopped by Ctrl-C / SIGTERM / crash


def open_storage(url: str | None, folder: str):
  """The study's storage: `url` (an RDB URL such as postgresql://user@host/db, or a journal file
  path), or folder/study.journal."""
  if url and "://" in url:
    for attempt in range(5):
      try:
        return optuna.storages.RDBStorage(url)
      except Exception as e:  # noqa: BLE001 - a bad URL, a server that is down, a missing driver
        # Two runners creating the tables of an empty database at once: one loses; it retries.
        if type(e).__name__ == "IntegrityError" and attempt < 4:
          time.sleep(1.0 + attempt)
          continue
        raise ConfigError(f"--storage={_without_password(url)}: cannot open the study database: "
                          f"{type(e).__name__}: {str(e).splitlines()[0][:300]}") from None
  path = url or os.path.join(folder, "study.journal")
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))


class Study:
  """One runner's handle on the shared study."""

  def __init__(self, storage, name: str, sweep: definition.Sweep):
    self.storage, self.sweep = storage, sweep
    self.runner = f"{socket.gethostname()}:{os.getpid()}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
      self.study = optuna.create_study(study_name=name, storage=storage,
                                       direction=sweep.direction, sampler=self._sampler(),
                                       pruner=self._pruner())
      created = True
    except optuna.exceptions.DuplicatedStudyError:
      self.study = optuna.load_study(study_name=name, storage=storage, sampler=self._sampler(),
                                     pruner=self._pruner())
      created = False
    if created:
      self.study.set_user_attr("sweep", sweep.fingerprint())
      if sweep.is_grid:
        for index, point in enumerate(sweep.points):
          self.study.enqueue_trial(self._grid_params(point),
                                   user_attrs={"folder": definition.trial_name(point),
                                               "index": index})
      else:
        for params in sweep.search.first:  # points the search evaluates before sampling
          self.study.enqueue_trial(params)
      self.study.set_user_attr("ready", True)  # the grid is queued: others may start
    else:
      deadline = time.time() + 60
      while not self.study.user_attrs.get("ready"):
        if time.time() > deadline:
          raise ConfigError(f"study {name} was created but never queued its trials (its runner "
                            "died while starting?); delete the study or use another --study_name")
        time.sleep(1)
      self._check_same_sweep(name)

  def _sampler(self, trial_number: int = 0):
    """The sampler for one trial, seeded by the search's seed and the trial's number: one runner
    reproduces its trials, and runners sharing the study never draw the same sequence (each
    trial number is handed out once by the storage)."""
    s = self.sweep.search
    if s is None:
      return optuna.samplers.RandomSampler(seed=0)  # unused: grid trials are enqueued
    seed = s.seed * 100003 + trial_number
    if s.sampler == "random":
      return optuna.samplers.RandomSampler(seed=seed)
    # Random draws before the model: a quarter of the budget, at most Optuna's default 10.
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, s.num_trials // 4)))

  def _pruner(self):
    name = self.sweep.search.pruner if self.sweep.search else "none"
    if name == "median":
      return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if name == "hyperband":
      return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()

  def _check_same_sweep(self, name):
    saved = self.study.user_attrs.get("sweep")
    now = self.sweep.fingerprint()
    if saved == now:
      return
    changed = sorted(k for k in set(saved or {}) | set(now) if (saved or {}).get(k) != now.get(k))
    detail = ""
    if "base" in changed:
      from s2s_jax import config as config_lib, manifest
      # keys added to the code since, at their defaults, leave the base as it was
      diff = manifest.changed_keys(saved["base"], now["base"],
                                   config_lib.ExperimentConfig().to_dict())
      if not diff:
        changed.remove("base")
      detail = " (" + "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in list(diff.items())[:5]) + ")"
    if not changed:
      return
    raise ConfigError(f"study {name} was made by another sweep: {', '.join(changed)} changed"
                      f"{detail}. A sweep folder holds one sweep: use another --workdir (or "
                      "--study_name), or restore the sweep as it was")

  def _grid_params(self, point):
    """Optuna params of a grid point: each key categorical over the grid's values of it."""
    return {k: _plain(v) for k, v in point.items()}

  def grid_distributions(self):
    choices = {}
    for point in self.sweep.points:
      for k, v in point.items():
        values = choices.setdefault(k, [])
        if _plain(v) not in values:
          values.append(_plain(v))
    return {k: optuna.distributions.CategoricalDistribution(v) for k, v in choices.items()}

  # --- claiming ---

  def claim(self, allow_new: bool):
    """The next trial for this runner, RUNNING and owned by it, or None when there is none.
    allow_new=False (the budget is spent): only interrupted trials, to finish them."""
    waiting = self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    for frozen in sorted(waiting, key=lambda t: "resumes" not in t.user_attrs):  # resumes first
      if not allow_new and "resumes" not in frozen.user_attrs:
        continue
      try:
        if self.storage.set_trial_state_values(frozen._trial_id, TrialState.RUNNING):
          return self._owned(optuna.Trial(self.study, frozen._trial_id))
      except optuna.exceptions.UpdateFinishedTrialError:
        continue
    if self.sweep.is_grid or not allow_new:
      return None
    trial = self.study.ask()
    # The default samplers draw at suggest time, after ask: seed this trial's draws now.
    self.study.sampler = self._sampler(trial.number)
    return self._owned(trial)

  def _owned(self, trial):
    trial.set_user_attr("runner", self.runner)
    trial.set_user_attr("heartbeat", time.time())
    return trial

  def heartbeat(self, trial):
    self.storage.set_trial_user_attr(trial._trial_id, "heartbeat", time.time())

  def started_count(self) -> int:
    """Trials that count against the budget: all but waiting ones and interrupted ones (their
    resumed copy counts instead)."""
    return sum(1 for t in self.study.get_trials(deepcopy=False)
               if t.state != TrialState.WAITING and t.user_attrs.get("status") != INTERRUPTED)

  def waiting_count(self) -> int:
    return len(self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))

  # --- ending ---

  def requeue(self, trial_id: int, reason: str) -> bool:
    """Marks a running trial interrupted and enqueues it again under its folder (to be resumed
    from its checkpoints); False if another runner already did."""
    frozen = self.storage.get_trial(trial_id)
    try:
      self.storage.set_trial_user_attr(trial_id, "status", INTERRUPTED)
      self.storage.set_trial_user_attr(trial_id, "error", reason)
      self.storage.set_trial_state_values(trial_id, TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
      return False
    attrs = {k: v for k, v in frozen.user_attrs.items()
             if k in ("folder", "index", "overrides")}
    attrs["resumes"] = frozen.number
    params = frozen.system_attrs.get("fixed_params", frozen.params)
    self.study.enqueue_trial(params, user_attrs=attrs)
    return True

  def recover_stale(self) -> list[int]:
    """Requeues RUNNING trials whose runner is gone; returns their numbers."""
    host = socket.gethostname()
    recovered = []
    for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
      runner = t.user_attrs.get("runner", "")
      runner_host, _, pid = runner.rpartition(":")
      dead_here = runner_host == host and pid.isdigit() and not _alive(int(pid))
      silent = time.time() - float(t.user_attrs.get("heartbeat", 0)) > STALE_AFTER
      if runner != self.runner and (dead_here or silent):
        if self.requeue(t._trial_id, f"its runner {runner} stopped"):
          recovered.append(t.number)
    return recovered


def _without_password(url: str) -> str:
  return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _plain(value):
  """A value Optuna can store as a categorical choice (lists become JSON text)."""
  return value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(value)


def _alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True
