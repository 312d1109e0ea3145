"""A run's settings kept with it: workdir/manifest.json.

  config         the resolved config (every key, defaults included) the run trains with
  parameters     the model's parameter count
  bleu_signature sacreBLEU's signature of the validation BLEU
  subword_models the SentencePiece models a subword run reads and writes text with (file, sha256)
  sessions       one entry per start or resume: command line, git commit (and a dirty tree),
                 versions, devices, process count, CPU, start and end time, how it ended, and the
                 keys a resume was allowed to change (old and new values)

A resume whose config differs from the manifest's is refused with the changed keys, unless each
of them is allowed (`allow_changes`, e.g. train.max_num_batches; never a model.* key: the
checkpoint belongs to its model); the manifest then holds the new config and the session records
the change. Exported models carry a copy.
"""

import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess

import filelock

from s2s_jax.errors import UserError

FILE = "manifest.json"
LOCK = ".train.lock"
PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "tensorflow-cpu",
            "tensorflow", "numpy", "sacrebleu")


def read(workdir) -> dict | None:
  path = os.path.join(workdir, FILE)
  if not os.path.exists(path):
    return None
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except (OSError, ValueError) as e:
    raise UserError(f"{path} cannot be read ({e}); restore it or use another --workdir") from None


def write(workdir, manifest: dict):
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, FILE)
  tmp = f"{path}.{os.getpid()}.tmp"  # a reader sees the old file or the new one, never half
  with open(tmp, "w", encoding="utf-8") as f:
    json.dump(manifest, f, indent=2, sort_keys=True)
  os.replace(tmp, path)


def flatten(config: dict, prefix="") -> dict:
  """{"train.learning_rate": 0.001, "data.text.dir": ...} of a nested config dict."""
  out = {}
  for key, value in config.items():
    if isinstance(value, dict):
      out.update(flatten(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = value
  return out


def changed_keys(saved: dict, current: dict, defaults: dict | None = None) -> dict:
  """{key: (saved value, current value)} of every key that differs, in key order. A key the
  saved config lacks was added to the code since: the saved run had its default (`defaults`),
  which a new key must give the old behaviour."""
  a, b, d = flatten(saved), flatten(current), flatten(defaults or {})
  a = {**{k: d[k] for k in b if k not in a and k in d}, **a}
  return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


@contextlib.contextmanager
def exclusive(workdir):
  """Holds workdir/.train.lock while a process trains there: two processes training one workdir
  would write each other's checkpoints. The operating system drops the lock when its process
  dies, so a crash never leaves the workdir locked."""
  os.makedirs(workdir, exist_ok=True)
  lock = filelock.FileLock(os.path.join(workdir, LOCK))
  try:
    lock.acquire(timeout=0)
  except filelock.Timeout:
    sessions = (read(workdir) or {}).get("sessions") or [{}]
    last = sessions[-1]
    who = f" (pid {last['pid']} on {last.get('host')}, since {last.get('started')})" \
        if last.get("pid") else ""
    raise UserError(f"workdir {workdir} is being trained by another process{who}; wait for it "
                    "to end, stop it, or use another --workdir") from None
  try:
    yield
  finally:
    lock.release()


def start(workdir, config: dict, resuming: bool, command=None, allow_changes=(),
          bleu_signature: str | None = None, defaults: dict | None = None) -> dict:
  """Checks a resumed run's config against the manifest, then records this session.

  resuming: the workdir holds a checkpoint this run continues from. Raises UserError naming every
  changed key that `allow_changes` does not name. defaults: every key's default (changed_keys).
  """
  manifest = read(workdir) or {}
  changes = {}
  if resuming and "config" in manifest:
    changes = changed_keys(manifest["config"], config, defaults)
    model = [k for k in changes if k.startswith("model.")]
    if model:  # the checkpoint's parameters belong to the saved model
      listed = "; ".join(f"{k}: {changes[k][0]!r} -> {changes[k][1]!r}" for k in model)
      raise UserError(f"workdir {workdir} holds a model with a different config ({listed}); a "
                      "resumed run keeps its model: use another --workdir or delete it to start "
                      "afresh")
    refused = [k for k in changes if k not in set(allow_changes)]
    if refused:
      listed = "; ".join(f"{k}: {changes[k][0]!r} -> {changes[k][1]!r}" for k in refused)
      raise UserError(
          f"{workdir} was trained with another config ({listed}). Resuming would mix two runs: "
          f"use another --workdir, or allow these keys to change with "
          f"--allow_changes={','.join(refused)}")
  manifest.update(config=config, seed=config.get("seed"), bleu_signature=bleu_signature)
  session = {"started": _now(), "ended": None, "status": "running", "command": command,
             "resumed": resuming, "changed": {k: list(v) for k, v in changes.items()},
             **environment()}
  manifest.setdefault("sessions", []).append(session)
  write(workdir, manifest)
  return manifest


def record(workdir, **facts):
  """Adds facts about the run itself (e.g. its parameter count) at the manifest's top level."""
  manifest = read(workdir) or {}
  manifest.update(facts)
  write(workdir, manifest)


def finish(workdir, status: str, **facts):
  """Records how this session ended ("finished", "interrupted", "failed") and its facts."""
  manifest = read(workdir)
  if not manifest or not manifest.get("sessions"):
    return
  manifest["sessions"][-1].update(ended=_now(), status=status, **facts)
  write(workdir, manifest)


def environment() -> dict:
  """Where and with what this process runs: git, versions, devices, CPU."""
  import jax
  devices = jax.devices()
  return {"git": git_state(), "python": platform.python_version(), "versions": _versions(),
          "platform": devices[0].platform, "device_kind": devices[0].device_kind,
          "device_count": jax.device_count(), "local_device_count": jax.local_device_count(),
          "process_count": jax.process_count(), "host": platform.node(), "pid": os.getpid(),
          "cpu": cpu()}


def git_state() -> dict | None:
  """{"commit", "dirty"} of the checkout s2s_jax runs from; None outside a git checkout."""
  here = os.path.dirname(os.path.abspath(__file__))

  def git(*args):
    return subprocess.run(["git", "-C", here, *args], capture_output=True, text=True, timeout=10)
  try:
    commit = git("rev-parse", "HEAD")
    if commit.returncode != 0:
      return None
    status = git("status", "--porcelain", "--untracked-files=no")
  except (OSError, subprocess.TimeoutExpired):
    return None
  return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def _versions() -> dict:
  from s2s_jax import __version__
  out = {"s2s_jax": __version__}
  for name in PACKAGES:
    try:
      out[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      pass
  return out


def cpu() -> str:
  """The CPU model, its widest vector/matrix extension and its bfloat16 units, e.g.
  "... @ 2.80GHz (avx512f)" or "... (amx_tile; bf16: amx_bf16 avx512_bf16)"."""
  from s2s_jax import compile_cache
  model, flags = compile_cache.cpu_description()
  bf16 = [f for f in ("amx_bf16", "avx512_bf16") if f in flags]
  return f"{model} ({compile_cache.widest_isa(flags)}{'; bf16: ' + ' '.join(bf16) if bf16 else ''})"


def _now() -> str:
  return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

