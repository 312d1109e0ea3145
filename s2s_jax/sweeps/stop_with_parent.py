"""`python -m s2s_jax.sweeps.stop_with_parent PID COMMAND [ARG...]`: becomes COMMAND (exec, same
pid), set to get SIGTERM when its parent, process PID (the sweep runner), dies.

The runner starts every trial through this, so that a killed runner's trials checkpoint and stop
rather than train on with no one to record them. It replaces a `preexec_fn`, which runs Python
between fork and exec: unsafe once the runner has threads (Optuna's heartbeat, a storage's pool).
Here the setting is made in a fresh, single-threaded process, and exec keeps it.
"""

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def arm(parent: int) -> bool:
  """SIGTERM to this process when `parent` dies (Linux); False where that cannot be set. Exits if
  the parent is gone already: the signal would never come."""
  try:
    prctl = ctypes.CDLL(None, use_errno=True).prctl
  except (OSError, AttributeError):
    return False  # not Linux: the trial's workdir lock still keeps a second runner out
  prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
  if os.getppid() != parent:  # the runner died before the setting was made
    sys.exit(f"error: the sweep runner (pid {parent}) has exited; not starting {sys.argv[2]}")
  return True


def main(argv):
  if len(argv) < 3 or not argv[1].isdigit():
    sys.exit("usage: python -m s2s_jax.sweeps.stop_with_parent PID COMMAND [ARG...]")
  arm(int(argv[1]))
  os.execvp(argv[2], argv[2:])


if __name__ == "__main__":
  main(sys.argv)
