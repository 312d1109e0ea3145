"""Programs that tests start. Each runs in a session of its own, so that a wait that runs out of
time kills it with every process it started (a sweep's trials, say), and a test that fails or
times out (pytest-timeout) leaves nothing running: conftest kills what is left at teardown."""

import os
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_started: list[subprocess.Popen] = []


def start(args, **kwargs) -> subprocess.Popen:
  """Popen in a new session (no preexec_fn: the test process has threads)."""
  kwargs.setdefault("cwd", ROOT)
  proc = subprocess.Popen(args, start_new_session=True, **kwargs)
  _started.append(proc)
  return proc


def kill(proc: subprocess.Popen) -> None:
  """SIGKILL to the process, everything in its session and its descendants (a sweep runner's
  trials have sessions of their own)."""
  table = _processes()
  for pid in {proc.pid, *_descendants(proc.pid, table), *_in_session(proc.pid, table)}:
    try:
      os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
      pass
  proc.communicate()


def _processes() -> dict:
  """{pid: (parent pid, session id)} from /proc; empty where there is none (not Linux)."""
  out = {}
  for name in os.listdir("/proc") if os.path.isdir("/proc") else ():
    if not name.isdigit():
      continue
    try:
      with open(f"/proc/{name}/stat", encoding="utf-8") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # after the name, which may hold spaces
    except (OSError, IndexError):
      continue  # exited meanwhile
    out[int(name)] = (int(fields[1]), int(fields[3]))
  return out


def _descendants(root: int, table: dict) -> list[int]:
  children = {}
  for pid, (parent, _) in table.items():
    children.setdefault(parent, []).append(pid)
  found, todo = [], [root]
  while todo:
    for child in children.get(todo.pop(), []):
      found.append(child)
      todo.append(child)
  return found


def _in_session(sid: int, table: dict) -> list[int]:
  return [pid for pid, (_, session) in table.items() if session == sid]


def finish(proc: subprocess.Popen, timeout: float):
  """(stdout, stderr) once the process ends; after `timeout` seconds it is killed with its
  children and subprocess.TimeoutExpired raised."""
  try:
    return proc.communicate(timeout=timeout)
  except subprocess.TimeoutExpired:
    kill(proc)
    raise


def run(args, timeout: float, **kwargs) -> subprocess.CompletedProcess:
  """subprocess.run(args, capture_output=True, text=True) whose timeout kills the process group."""
  kwargs.setdefault("stdout", subprocess.PIPE)
  kwargs.setdefault("stderr", subprocess.PIPE)
  kwargs.setdefault("text", True)
  proc = start(args, **kwargs)
  out, err = finish(proc, timeout)
  return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def python(*args, timeout: float, **kwargs) -> subprocess.CompletedProcess:
  """`python ARGS` from the repository root (run's rules)."""
  return run([sys.executable, *args], timeout, **kwargs)


def kill_leftovers() -> None:
  """Kills every process a test started that is still running (called at each test's end)."""
  while _started:
    kill(_started.pop())  # also when the leader has exited: its session may live on
