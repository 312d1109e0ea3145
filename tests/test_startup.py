"""Process-wide settings (s2s_jax/startup.py): malloc that keeps freed memory for reuse."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Mallocs, touches and frees a 128 MB block twice in a new thread (as XLA's execution threads do
# with a step's temporaries) and prints the page faults of the second round: glibc's default mmaps
# it afresh (~33k faults), and so does any arena but the main one (its heaps hold at most 64 MB).
_PROBE = r"""
import ctypes, resource, sys, threading
sys.path.insert(0, {root!r})
from s2s_jax import startup
print(startup.keep_freed_memory() if {apply} else False)
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


def _probe(apply: bool, **env):
  code = _PROBE.format(root=ROOT, apply=apply)
  base = {k: v for k, v in os.environ.items() if k != "S2S_JAX_MALLOC"}  # conftest's opt-out
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**base, **env}).stdout.split()
  return out[0] == "True", int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux") or "malloc" in os.environ.get("LD_PRELOAD", ""),
                    reason="glibc's malloc only")
def test_freed_memory_is_reused_without_page_faults():
  applied, faults = _probe(True)
  assert applied
  assert faults < 1000  # 33k pages of 4 KiB if the block came fresh from the kernel
  _, default_faults = _probe(False)
  assert default_faults > 10_000  # the probe does see what it is meant to


def test_malloc_can_be_left_alone():
  applied, _ = _probe(True, S2S_JAX_MALLOC="system")
  assert not applied
