"""Process-wide settings (s2s_jax/startup.py): malloc that keeps freed memory for reuse."""

import os
import sys

import pytest

import subprocesses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Mallocs, touches and frees a 128 MB block twice in a new thread (as XLA's execution threads do
# with a step's temporaries) and prints the page faults of the second round: glibc's default mmaps
# it afresh (~33k faults), and so does any arena but the main one (its heaps hold at most 64 MB).
# `setup` runs first and prints whether it applied the setting.
_PROBE = r"""
import ctypes, resource, sys, threading
sys.path.insert(0, {root!r})
{setup}
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]

def rounds(out):
  for _ in range(2):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(128 << 20)
    ctypes.memset(block, 1, 128 << 20)
    libc.free(block)
    out.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
out = []
thread = threading.Thread(target=rounds, args=(out,))
thread.start(); thread.join()
print(out[1])
"""


_APPLY = "from s2s_jax import startup; print(startup.keep_freed_memory())"


def _probe(setup: str, **env):
  code = _PROBE.format(root=ROOT, setup=setup)
  base = {k: v for k, v in os.environ.items() if k != "S2S_JAX_MALLOC"}  # conftest's opt-out
  run = subprocesses.python("-c", code, timeout=120, env={**base, **env})
  assert run.returncode == 0, run.stderr
  out = run.stdout.split()
  return out[-2] == "True", int(out[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux") or "malloc" in os.environ.get("LD_PRELOAD", ""),
                    reason="glibc's malloc only")
def test_freed_memory_is_reused_without_page_faults():
  applied, faults = _probe(_APPLY)
  assert applied
  assert faults < 1000  # 33k pages of 4 KiB if the block came fresh from the kernel
  _, default_faults = _probe("print(False)")
  assert default_faults > 10_000  # the probe does see what it is meant to


def test_malloc_can_be_left_alone():
  applied, _ = _probe(_APPLY, S2S_JAX_MALLOC="system")
  assert not applied


@pytest.mark.skipif(not sys.platform.startswith("linux") or "malloc" in os.environ.get("LD_PRELOAD", ""),
                    reason="glibc's malloc only")
def test_programs_other_than_training_and_bench_leave_malloc_alone():
  """The setting is for good, and pays only where a step runs many times: not in the sweep
  runner, the report or the endpoint, whose modules (like every program's) call before_imports."""
  setup = ("from s2s_jax import startup; startup.before_imports(); "
           "import s2s_jax.bin.sweep, s2s_jax.bin.report, s2s_jax.bin.serve; print(False)")
  _, faults = _probe(setup)
  assert faults > 10_000  # glibc's default: the freed block went back to the kernel
