"""What a trial's folder says about it: an ordinary training workdir, read without JAX.

  best(folder, metric)   the best checkpoint's validation metric and step (best/<step>/meta)
  curve(folder, key)     [(step, value)] of metrics.jsonl
  status(folder)         how its last training session ended (manifest.json)
  facts(folder)          wall time, tokens/s, parameter count, test BLEU: the results row
  failure(log)           the one-line reason of a failed trial, from its log
"""

import json
import os
import statistics

from s2s_jax import manifest

TRAIN_LOG = "train.log"
TEST_RESULT = "test.json"
TEST_HYPOTHESES = "test.hyp"


def best(folder: str, metric: str) -> tuple[float | None, int | None]:
  """(value, step) of `metric` (e.g. validation:bleu) in the best checkpoint, (None, None) if the
  trial has none. Orbax names a complete step folder by its number; others are temporary."""
  root = os.path.join(folder, "best")
  steps = sorted(int(n) for n in os.listdir(root) if n.isdigit()) if os.path.isdir(root) else []
  for step in reversed(steps):
    path = os.path.join(root, str(step), "meta", "metadata")
    try:
      with open(path, encoding="utf-8") as f:
        meta = json.load(f)
    except (OSError, ValueError):
      continue
    value = meta.get("metrics", {}).get(metric)
    if value is not None:
      return float(value), int(meta["progress"]["step"])
  return None, None


def curve(folder: str, key: str) -> list[tuple[int, float]]:
  """Every (step, value) of `key` in metrics.jsonl, in order; a line cut short is skipped."""
  out = []
  path = os.path.join(folder, "metrics.jsonl")
  if not os.path.exists(path):
    return out
  with open(path, encoding="utf-8") as f:
    for line in f:
      try:
        row = json.loads(line)
      except ValueError:
        continue
      if key in row:
        out.append((int(row["step"]), float(row[key])))
  return out


def status(folder: str, pid: int | None = None) -> str | None:
  """'finished', 'interrupted', 'failed' or 'running' of the last session; None before any, or
  when the last session is not process `pid`'s (one that failed before recording a session
  leaves the previous session's status in place)."""
  try:
    m = manifest.read(folder)
  except Exception:  # noqa: BLE001 - a manifest being replaced; ask again later
    return None
  sessions = (m or {}).get("sessions") or []
  if not sessions or (pid is not None and sessions[-1].get("pid") != pid):
    return None
  return sessions[-1].get("status")


def facts(folder: str) -> dict:
  """The results row's measured columns of a trial folder (missing ones absent)."""
  out = {}
  m = manifest.read(folder) or {}
  seconds = 0.0
  for s in m.get("sessions", []):
    if s.get("started") and s.get("ended"):
      seconds += (_time(s["ended"]) - _time(s["started"]))
  if seconds:
    out["wall_s"] = round(seconds)
  if m.get("parameters"):
    out["params"] = m["parameters"]
  speeds = [v for _, v in curve(folder, "train:tokens_per_sec")][1:]  # the first one compiles
  if speeds:
    out["tok_s"] = round(statistics.median(speeds))
  steps = [s for s, _ in curve(folder, "train:perplexity")]
  if steps:
    out["steps"] = steps[-1]
  path = os.path.join(folder, TEST_RESULT)
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      out["test_bleu"] = json.load(f)["bleu"]
  return out


def failure(log_path: str, returncode: int | None = None) -> str:
  """The trial's own one-line error (`error: ...`), else the last line of a traceback, else the
  exit status."""
  lines = []
  if os.path.exists(log_path):
    with open(log_path, encoding="utf-8", errors="replace") as f:
      lines = [line.strip() for line in f.read().splitlines()[-200:] if line.strip()]
  for line in reversed(lines):
    if line.startswith("error:"):
      return line[len("error:"):].strip()[:300]
  if any(line.startswith("Traceback") for line in lines):
    return lines[-1][:300]
  signal_note = f" (signal {-returncode})" if returncode is not None and returncode < 0 else ""
  return f"exit status {returncode}{signal_note}" + (f": {lines[-1][:200]}" if lines else "")


def _time(text):
  import datetime
  return datetime.datetime.fromisoformat(text).timestamp()
