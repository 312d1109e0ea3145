"""JAX's persistent compilation cache, made safe to share between concurrent runs and machines.

What is cached: each compiled XLA program (train step, eval step, one beam search per bucket),
serialized with its machine code, one file per program.

Keyed by what: JAX's key hashes the program, the jaxlib version, the platform, the XLA flags and
the compile options. It leaves out two things that the machine code depends on:
- the host CPU. XLA:CPU compiles for the features of the CPU it runs on (AVX-512, AMX, ...), and
  its loader only logs an error when an entry compiled elsewhere needs features this CPU lacks,
  then runs it anyway (SIGILL or worse): a cache in a home folder shared by an AVX-512 node and
  an AVX2 node, or copied between machines, hands one the other's code;
- the device count (JAX drops --xla_force_host_platform_device_count from its key).
`cache_dir` puts both back: one subfolder per (platform, jaxlib, CPU model and flags, devices).

Read by whom: every process that uses the same subfolder. JAX's unbounded cache (its default)
reads and writes entries with no lock, straight into the final file name, so a process can read
an entry that another is still writing, and two writers of one key can interleave. `configure`
gives the cache a size limit, which switches JAX to its LRU mode: every read and write then holds
a file lock on the folder (`filelock`), and the oldest entries are evicted past the limit.

Set S2S_JAX_CACHE to move the cache (default ~/.cache/s2s_jax/xla) or to "off" to disable it, and
S2S_JAX_CACHE_MAX_GB for its size per machine kind (default 4).
"""

import hashlib
import os
import platform

import jax
import jaxlib

DEFAULT_BASE = os.path.join("~", ".cache", "s2s_jax", "xla")
DEFAULT_MAX_GB = 4.0
# Programs that compile faster than this are not worth a file (JAX's own default is 1 s).
MIN_COMPILE_SECONDS = 0.5
# Widest vector/matrix extension first: the readable part of a folder name.
_ISA_ORDER = ("amx_tile", "avx512f", "avx2", "avx", "sse4_2", "asimd", "sve")


def cpu_description(cpuinfo_path="/proc/cpuinfo") -> tuple[str, frozenset]:
  """(model name, feature flags) of this machine's first CPU; flags empty where unknown."""
  fields = {}
  try:
    with open(cpuinfo_path, encoding="utf-8", errors="replace") as f:
      for line in f:
        if not line.strip():
          break  # the first processor's block is enough
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
  except OSError:
    pass
  model = fields.get("model name") or platform.processor() or platform.machine()
  return model, frozenset((fields.get("flags") or fields.get("features") or "").split())


def widest_isa(flags: frozenset) -> str:
  """The widest vector or matrix extension among the CPU flags (amx_tile, avx512f, avx2, ...)."""
  return next((isa for isa in _ISA_ORDER if isa in flags), "generic")


def machine_key(model: str, flags: frozenset, device_count: int, platform_name: str) -> str:
  """A folder name that differs whenever the machine code could: readable prefix, full hash."""
  widest = widest_isa(flags)
  digest = hashlib.sha256("\n".join(
      [model, " ".join(sorted(flags)), jaxlib.__version__, platform_name, str(device_count)]
  ).encode()).hexdigest()[:16]
  return f"{platform_name}{device_count}-{platform.machine()}-{widest}-jaxlib{jaxlib.__version__}-{digest}"


def cache_dir(base: str | None = None) -> str | None:
  """This process's cache folder under `base` (default $S2S_JAX_CACHE or ~/.cache/s2s_jax/xla);
  None when the cache is off. Initialises JAX's backend (it needs the device count)."""
  base = base or os.environ.get("S2S_JAX_CACHE") or DEFAULT_BASE
  if base.lower() in ("off", "none", "0"):
    return None
  model, flags = cpu_description()
  key = machine_key(model, flags, jax.local_device_count(), jax.default_backend())
  return os.path.join(os.path.expanduser(base), key)


def configure(base: str | None = None) -> str | None:
  """Points JAX's persistent cache at `cache_dir(base)`, bounded and locked; returns the folder."""
  folder = cache_dir(base)
  if folder is None:
    jax.config.update("jax_enable_compilation_cache", False)
    return None
  max_gb = float(os.environ.get("S2S_JAX_CACHE_MAX_GB", DEFAULT_MAX_GB))
  jax.config.update("jax_compilation_cache_dir", folder)
  # A limit (not -1) makes JAX lock the folder around every read and write (see above).
  jax.config.update("jax_compilation_cache_max_size", max(int(max_gb * 2**30), 1))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
  return folder
