"""Runs a sweep's trials: each an ordinary training run in its own folder, as a subprocess.

  workdir/trials/<name>/   the trial's training workdir (name from its overrides) and train.log
  workdir/study.journal    the Optuna study (unless --storage names a database)

Workers run trials side by side, each on its own slice of the machine: one GPU each where there
are GPUs (CUDA_VISIBLE_DEVICES), else an equal share of the CPU cores (CPU affinity, which XLA
and tf.data size their thread pools by). A trial that crashes is recorded as failed with its
one-line reason and the sweep goes on. SIGINT/SIGTERM to the runner sends SIGTERM to every trial
(each saves a checkpoint and exits) and requeues them; the same command resumes them. A pruned
trial is stopped the same way and keeps its checkpoint, so it can be resumed by hand.
"""

import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import optuna
from optuna.trial import TrialState

from s2s_jax.errors import ConfigError
from s2s_jax.sweeps import definition, results, study as study_lib, trial_dir

log = logging.getLogger("s2s_jax")
HEARTBEAT_EVERY = 30  # seconds
# How often a waiting runner looks whether a trial's process has ended: its slot then takes the
# next trial within this, not at the next poll (2 s; a 250-update tiny trial takes 12 s).
EXIT_CHECK_S = 0.05


@dataclasses.dataclass
class Slot:
  """A worker's share of the machine."""
  name: str
  env: dict
  cores: set | None = None


def plan_slots(workers: int) -> list[Slot]:
  """One GPU per worker where GPUs are visible, else the CPU cores split evenly."""
  if workers < 1:
    raise ConfigError(f"--workers must be at least 1, got {workers}")
  gpus = _visible_gpus()
  if gpus:
    if workers > len(gpus):
      raise ConfigError(f"--workers={workers} but this machine has {len(gpus)} GPU(s): one each")
    return [Slot(f"GPU {g}", {"CUDA_VISIBLE_DEVICES": g}) for g in gpus[:workers]]
  cores = sorted(os.sched_getaffinity(0))
  if workers > len(cores):
    raise ConfigError(f"--workers={workers} but this process may use {len(cores)} CPU core(s); "
                      "each worker needs at least one")
  share = len(cores) // workers
  slots = []
  for i in range(workers):
    part = set(cores[i * share:(i + 1) * share] if i < workers - 1 else cores[i * share:])
    label = f"core{'s' if len(part) > 1 else ''} {','.join(map(str, sorted(part)))}"
    slots.append(Slot(label, {}, part))
  return slots


def _visible_gpus() -> list[str]:
  given = os.environ.get("CUDA_VISIBLE_DEVICES")
  if given is not None:
    return [g for g in given.split(",") if g.strip() not in ("", "-1")]
  if not shutil.which("nvidia-smi"):
    return []
  try:
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
  except (OSError, subprocess.TimeoutExpired):
    return []
  return [str(i) for i, line in enumerate(out.stdout.splitlines()) if line.startswith("GPU ")]


def wait_for_an_exit(procs, seconds: float):
  """Sleeps `seconds`, or less when one of `procs` (Popen) ends first."""
  deadline = time.monotonic() + seconds
  while not any(p.poll() is not None for p in procs):
    left = deadline - time.monotonic()
    if left <= 0:
      return
    time.sleep(min(EXIT_CHECK_S, left))


@dataclasses.dataclass
class Running:
  trial: object  # optuna.Trial
  folder: str
  overrides: dict
  slot: Slot
  proc: subprocess.Popen
  phase: str  # "train" or "test"
  started: float
  reported: set = dataclasses.field(default_factory=set)
  pruned_at: int | None = None
  beat: float = 0.0


class Runner:
  def __init__(self, sweep: definition.Sweep, study: study_lib.Study, workdir: str,
               workers: int = 1, max_trials: int | None = None, poll_s: float = 2.0):
    if max_trials is not None and max_trials < 1:
      raise ConfigError(f"--max_trials must be positive, got {max_trials}")
    self.sweep, self.study, self.workdir = sweep, study, workdir
    self.slots = plan_slots(workers)
    self.free = list(self.slots)
    self.max_trials, self.poll_s = max_trials, poll_s
    self.running: list[Running] = []
    self.stop_reason = None
    self.durations = []

  # --- the loop ---

  def run(self) -> dict:
    self.sweep.save(self.workdir)
    for number in self.study.recover_stale():
      log.info("trial %d had lost its runner: queued again, it resumes from its checkpoints",
               number)
    self._write_results()
    with _Signals(self):
      while True:
        if not self.stop_reason:
          self._fill()
        if not self.running:
          break
        before = len(self.running)
        for r in list(self.running):
          self._poll(r)
        if len(self.running) == before:  # none ended: nothing to start until one does
          wait_for_an_exit([r.proc for r in self.running], self.poll_s)
    self._write_results()
    return self._summary()

  def retest(self) -> int:
    """Translates the test set again with each finished trial's best checkpoint (after a change
    of test set or decoder) and rescores it, the workers side by side; returns how many. The
    study keeps the first score (Optuna freezes finished trials); the table reads the folders."""
    todo = [os.path.join(self.workdir, "trials", t.user_attrs["folder"])
            for t in self.study.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if "folder" in t.user_attrs]
    todo = [f for f in dict.fromkeys(todo) if os.path.isdir(f)]
    running, done = [], 0
    while todo or running:
      while todo and self.free:
        folder, slot = todo.pop(0), self.free.pop(0)
        log.info("re-testing %s on %s", os.path.basename(folder), slot.name)
        running.append((folder, slot, self._spawn(self.translate_command(folder), folder, slot)))
      wait_for_an_exit([proc for _, _, proc in running], self.poll_s)
      for item in list(running):
        folder, slot, proc = item
        if proc.poll() is None:
          continue
        running.remove(item)
        self.free.append(slot)
        if proc.returncode == 0:
          results.write_test_bleu(folder, *self.sweep.test)
          done += 1
        else:
          log.warning("re-testing %s failed: %s", os.path.basename(folder),
                      trial_dir.failure(os.path.join(folder, trial_dir.TRAIN_LOG), proc.returncode))
    self._write_results()
    return done

  def _budget(self) -> int | None:
    limits = [n for n in (self.max_trials, None if self.sweep.is_grid
                          else self.sweep.search.num_trials) if n is not None]
    return min(limits) if limits else None

  def _fill(self):
    while self.free:
      budget = self._budget()
      allow_new = budget is None or self.study.started_count() < budget
      trial = self.study.claim(allow_new)
      if trial is None:
        return
      self._start(trial, self.free.pop(0))

  def _start(self, trial, slot):
    overrides = self._overrides(trial)
    name = trial.user_attrs.get("folder")
    if not name:
      name = f"{trial.number:03d}-{definition.trial_name(overrides) or 'base'}"
    trial.set_user_attr("folder", name)
    trial.set_user_attr("overrides", json.loads(json.dumps(overrides, default=str)))
    folder = os.path.join(self.workdir, "trials", name)
    os.makedirs(folder, exist_ok=True)
    r = Running(trial, folder, overrides, slot, None, "train", time.time())
    if self.sweep.model:  # a decoding sweep: translate and score, no training
      log.info("trial %d (%s) starts on %s", trial.number, name, slot.name)
      r.phase, r.proc = "test", self._spawn(self.translate_command(r.folder, overrides), folder,
                                            slot)
      self.running.append(r)
      return
    if trial_dir.status(folder) == "finished":  # trained before its runner could record it
      log.info("trial %d (%s): already trained", trial.number, name)
      self._after_training(r)
      return
    resumed = " (resumes its checkpoints)" if trial_dir.status(folder) else ""
    log.info("trial %d (%s) starts on %s%s", trial.number, name, slot.name, resumed)
    r.proc = self._spawn(self.train_command(overrides, folder), folder, slot)
    self.running.append(r)

  def _overrides(self, trial) -> dict:
    if self.sweep.is_grid:
      dists = self.study.grid_distributions()
      point = self.sweep.points[trial.user_attrs["index"]]
      for key in point:  # records the params in Optuna (plots, dashboard)
        _suggest(trial, key, dists[key])
      return dict(point)
    s = self.sweep.search
    out = dict(s.fixed)
    for key, dist in s.space.items():
      value = _suggest(trial, key, dist)
      out[key] = s.transforms[key](value) if key in s.transforms else value
    return out

  def train_command(self, overrides, folder) -> list:
    flags = [f"--config.{k}={_flag_value(v)}" for k, v in overrides.items()]
    return [sys.executable, "-m", "s2s_jax.bin.train", f"--config={self.sweep.config_arg}",
            *self.sweep.config_overrides, *flags, f"--workdir={folder}"]

  @staticmethod
  def _spawn(command, folder, slot):
    logf = open(os.path.join(folder, trial_dir.TRAIN_LOG), "a", encoding="utf-8")
    logf.write(f"\n# {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n")
    logf.flush()
    # Its own session: a Ctrl-C in the terminal reaches the runner only, which stops trials in order.
    proc = subprocess.Popen(_stopping_with_runner(command), stdout=logf, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env={**os.environ, **slot.env},
                            start_new_session=True)
    logf.close()
    if slot.cores:
      try:
        os.sched_setaffinity(proc.pid, slot.cores)
      except OSError:
        pass  # exited already: its status says why
    return proc

  def _poll(self, r: Running):
    now = time.time()
    if now - r.beat > HEARTBEAT_EVERY:
      self.study.heartbeat(r.trial)
      r.beat = now
    if r.phase == "train" and self.sweep.search and self.sweep.search.pruner != "none":
      self._report(r)
    code = r.proc.poll()
    if code is None:
      return
    self.running.remove(r)
    if r.phase == "test":
      if code != 0 and self.stop_reason:  # the same command translates it on resume
        self.study.requeue(r.trial._trial_id, self.stop_reason)
        self._release(r)
      else:
        self._complete(r, test_code=code)
      return
    status = trial_dir.status(r.folder, pid=r.proc.pid)
    if r.pruned_at is not None:
      self._end(r, TrialState.PRUNED, f"pruned at step {r.pruned_at}", status="pruned")
    elif status == "interrupted" or (self.stop_reason and code != 0):
      self.study.requeue(r.trial._trial_id, self.stop_reason or "interrupted")
      self._release(r)
      log.info("trial %d (%s) stopped with a checkpoint; the same command resumes it",
               r.trial.number, os.path.basename(r.folder))
    elif code == 0 and status == "finished":
      self._after_training(r)
    else:
      reason = trial_dir.failure(os.path.join(r.folder, trial_dir.TRAIN_LOG), code)
      self._end(r, TrialState.FAIL, reason, status="failed")

  def _report(self, r: Running):
    for step, value in trial_dir.curve(r.folder, self.sweep.objective):
      if step in r.reported:
        continue
      r.reported.add(step)
      r.trial.report(value, step)
      if r.pruned_at is None and r.trial.should_prune():
        r.pruned_at = step
        log.info("trial %d (%s): pruned at step %d (%s %.4g falls behind); stopping it with a "
                 "checkpoint", r.trial.number, os.path.basename(r.folder), step,
                 self.sweep.objective, value)
        _terminate(r.proc)

  def _after_training(self, r: Running):
    if not self.sweep.test or self.stop_reason:
      self._complete(r)
      return
    r.phase, r.proc = "test", self._spawn(self.translate_command(r.folder), r.folder, r.slot)
    self.running.append(r)

  def translate_command(self, folder, decode_overrides=None) -> list:
    """Translates the test set with the trial's model (or the decoding sweep's, with the
    trial's decode.* settings as flags) into folder/test.hyp."""
    flags = [f"--{k.split('.', 1)[1]}={_flag_value(v)}" for k, v in (decode_overrides or {}).items()]
    return [sys.executable, "-m", "s2s_jax.bin.translate", f"--workdir={self.sweep.model or folder}",
            f"--input={self.sweep.test[0]}", f"--output={os.path.join(folder, trial_dir.TEST_HYPOTHESES)}",
            *flags]

  def _complete(self, r: Running, test_code: int | None = None):
    if test_code == 0:
      results.write_test_bleu(r.folder, *self.sweep.test)
    elif test_code is not None:
      log.warning("trial %d: translating the test set failed: %s", r.trial.number,
                  trial_dir.failure(os.path.join(r.folder, trial_dir.TRAIN_LOG), test_code))
    if self.sweep.model:
      if test_code != 0:
        self._end(r, TrialState.FAIL, trial_dir.failure(
            os.path.join(r.folder, trial_dir.TRAIN_LOG), test_code), "failed")
        return
      r.trial.set_user_attr("wall_s", round(time.time() - r.started))
      self._end(r, TrialState.COMPLETE, None, "finished",
                value=trial_dir.facts(r.folder)["test_bleu"])
      return
    value, step = trial_dir.best(r.folder, self.sweep.objective)
    if value is None:
      self._end(r, TrialState.FAIL, f"no {self.sweep.objective} in its checkpoints", "failed")
      return
    self._end(r, TrialState.COMPLETE, None, "finished", value=value, best_step=step)

  def _end(self, r: Running, state, reason, status, value=None, best_step=None):
    t = r.trial
    t.set_user_attr("status", status)
    for key, fact in trial_dir.facts(r.folder).items():
      t.set_user_attr(key, fact)
    if reason:
      t.set_user_attr("error", reason)
    if best_step is not None:
      t.set_user_attr("best_step", best_step)
    self.study.study.tell(t, value if state == TrialState.COMPLETE else None, state=state)
    self._release(r)
    if state == TrialState.COMPLETE:
      self.durations.append(time.time() - r.started)
    what = (reason if value is None else f"{self.sweep.objective} {value:.4g}" +
            (f" at step {best_step}" if best_step is not None else ""))
    log.info("trial %d (%s) %s: %s%s", t.number, os.path.basename(r.folder), status, what,
             self._eta())
    self._write_results()

  def _release(self, r: Running):
    self.free.append(r.slot)

  def _eta(self) -> str:
    if not self.durations:
      return ""
    budget = self._budget()
    total = len(self.sweep.points) if self.sweep.is_grid else budget
    if budget is not None:
      total = min(total, budget)
    done = sum(1 for t in self.study.study.get_trials(deepcopy=False)
               if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
               or t.user_attrs.get("status") == "failed")
    left = max(total - done, 0)
    mean = sum(self.durations) / len(self.durations)
    eta = left * mean / len(self.slots)
    return f"; {done}/{total} done, eta {eta / 60:.0f} min" if left else f"; {done}/{total} done"

  def _write_results(self):
    try:
      results.write(self.workdir, self.sweep, self.study.study)
    except Exception as e:  # noqa: BLE001 - a table must never stop the trials
      log.warning("could not write the results table: %s: %s", type(e).__name__, e)

  def stop(self, reason):
    """First signal: stop starting trials and ask the running ones to checkpoint and exit.
    Later ones repeat SIGTERM, which makes a trial stop at once."""
    first = self.stop_reason is None
    self.stop_reason = reason
    log.info("%s: %s", reason, "stopping every trial with a checkpoint (again: stop them now)"
             if first else "stopping the trials now")
    for r in self.running:
      _terminate(r.proc)

  def _summary(self) -> dict:
    counts = {}
    for row in results.rows(self.workdir, self.sweep, self.study.study):
      counts[row["status"]] = counts.get(row["status"], 0) + 1
    return {"counts": counts, "stopped": self.stop_reason}


def _stopping_with_runner(command) -> list:
  """The command, set to get SIGTERM when the runner dies (s2s_jax/sweeps/stop_with_parent.py),
  so a killed runner's trials checkpoint and stop rather than train on with no one to record them."""
  return [sys.executable, "-m", "s2s_jax.sweeps.stop_with_parent", str(os.getpid()), *command]


def _suggest(trial, key, dist):
  """The trial's value of `key` (the enqueued one for a grid point or a resumed trial)."""
  if isinstance(dist, optuna.distributions.FloatDistribution):
    return trial.suggest_float(key, dist.low, dist.high, log=dist.log, step=dist.step)
  if isinstance(dist, optuna.distributions.IntDistribution):
    return trial.suggest_int(key, dist.low, dist.high, log=dist.log, step=dist.step)
  return trial.suggest_categorical(key, dist.choices)


def _flag_value(value) -> str:
  return repr(value) if isinstance(value, float) else str(value)


def _terminate(proc):
  try:
    os.killpg(proc.pid, signal.SIGTERM)  # the trial's whole session (a translate child too)
  except ProcessLookupError:
    pass


class _Signals:
  """SIGINT/SIGTERM call runner.stop instead of killing the runner (main thread only)."""

  def __init__(self, runner):
    self.runner, self.previous = runner, {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGINT, signal.SIGTERM):
        self.previous[sig] = signal.signal(
            sig, lambda signum, frame: self.runner.stop(f"received {signal.Signals(signum).name}"))
    return self

  def __exit__(self, *exc):
    for sig, handler in self.previous.items():
      signal.signal(sig, handler)
