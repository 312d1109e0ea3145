"""The persistent compilation cache: one folder per machine kind and device count, locked reads and
writes, and concurrent processes with several devices sharing one folder."""

import os
import pathlib
import subprocess
import sys

import jax

from s2s_jax import compile_cache

WORKER = pathlib.Path(__file__).resolve().parent / "cache_worker.py"
AVX512 = frozenset("fpu sse4_2 avx avx2 fma avx512f avx512bw avx512vl".split())
AMX = AVX512 | {"avx512_bf16", "amx_tile", "amx_bf16"}
AVX2 = frozenset("fpu sse4_2 avx avx2 fma".split())


def test_the_folder_differs_whenever_the_machine_code_could():
  key = compile_cache.machine_key
  base = key("Intel Xeon", AVX512, 1, "cpu")
  assert base == key("Intel Xeon", AVX512, 1, "cpu")
  assert "avx512f" in base and base.startswith("cpu1-")
  others = {key("Intel Xeon", AMX, 1, "cpu"), key("AMD EPYC", AVX2, 1, "cpu"),
            key("Intel Xeon", AVX512, 4, "cpu"), key("Intel Xeon", AVX512, 1, "gpu"),
            key("Intel Xeon (other)", AVX512, 1, "cpu")}
  assert len(others) == 5 and base not in others
  assert "amx_tile" in key("Intel Xeon", AMX, 1, "cpu")
  assert "avx2" in key("AMD EPYC", AVX2, 1, "cpu")


def test_cpu_description_reads_the_first_processor(tmp_path):
  info = tmp_path / "cpuinfo"
  info.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8481C\n"
                  "flags\t\t: fpu avx2 avx512f amx_tile\n\nprocessor\t: 1\nmodel name\t: other\n"
                  "flags\t\t: fpu\n")
  assert compile_cache.cpu_description(str(info)) == (
      "Intel(R) Xeon(R) Platinum 8481C", frozenset({"fpu", "avx2", "avx512f", "amx_tile"}))
  model, flags = compile_cache.cpu_description(str(tmp_path / "missing"))
  assert model and flags == frozenset()


def test_configure_bounds_and_locks_the_cache(tmp_path, monkeypatch):
  saved = {k: getattr(jax.config, k) for k in (
      "jax_compilation_cache_dir", "jax_compilation_cache_max_size",
      "jax_persistent_cache_min_compile_time_secs", "jax_enable_compilation_cache")}
  try:
    monkeypatch.setenv("S2S_JAX_CACHE_MAX_GB", "0.5")
    folder = compile_cache.configure(str(tmp_path))
    assert os.path.dirname(folder) == str(tmp_path)
    assert jax.config.jax_compilation_cache_dir == folder
    # A limit, not JAX's -1: JAX then holds a file lock around every read and write.
    assert jax.config.jax_compilation_cache_max_size == 2**29
    assert compile_cache.configure("off") is None
    assert not jax.config.jax_enable_compilation_cache
  finally:
    for k, v in saved.items():
      jax.config.update(k, v)


def _wave(env, device_counts):
  procs = [subprocess.Popen([sys.executable, str(WORKER), str(n)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE) for n in device_counts]
  results = []
  for n, proc in zip(device_counts, procs):
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    for problem in ("Error reading persistent compilation cache",
                    "Error writing persistent compilation cache", "not supported on the host"):
      assert problem not in err, err[-3000:]
    value, hits, folder = out.split()
    results.append((n, value, int(hits), folder))
  return results


def test_concurrent_processes_with_several_devices_share_one_cache(tmp_path):
  env = {**os.environ, "S2S_JAX_CACHE": str(tmp_path)}
  cold = _wave(env, [2, 2, 2, 1])  # a fresh cache, every process compiling the same programs
  warm = _wave(env, [2, 2, 1])  # what the first wave wrote
  for n in (1, 2):  # the same result from every process, compiled or loaded
    assert len({value for m, value, _, _ in cold + warm if m == n}) == 1
  assert all(hits > 0 for _, _, hits, _ in warm)
  folders = {n: folder for n, _, _, folder in cold + warm}
  assert folders[1] != folders[2]  # the device count is part of the folder's name
  assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(f) for f in folders.values())
