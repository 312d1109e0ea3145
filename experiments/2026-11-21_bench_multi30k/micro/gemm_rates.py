"""fp32 GEMM rates of the training output layer (960 x 512 x 18,726) in XLA (forward and both
backward products), NumPy's BLAS and, when installed, PyTorch. Prints GFLOP/s; asserts nothing.

  PYTHONPATH=. python experiments/2026-11-21_bench_multi30k/micro/gemm_rates.py
"""

import time

from s2s_jax import startup

startup.before_imports()

import jax  # noqa: E402
import numpy as np  # noqa: E402

N, H, V = 960, 512, 18726
FLOP = 2 * N * H * V


def rate(fn, *args, n=10):
  jax.block_until_ready(fn(*args))
  start = time.perf_counter()
  for _ in range(n):
    out = fn(*args)
  jax.block_until_ready(out)
  return FLOP / ((time.perf_counter() - start) / n) / 1e9


def main():
  rng = np.random.default_rng(0)
  h = rng.standard_normal((N, H), np.float32)
  w = rng.standard_normal((H, V), np.float32)
  d = rng.standard_normal((N, V), np.float32)
  for name, fn, args in (("XLA h @ W", lambda h, w: h @ w, (h, w)),
                         ("XLA d @ W.T", lambda d, w: d @ w.T, (d, w)),
                         ("XLA h.T @ d", lambda h, d: h.T @ d, (h, d))):
    print(f"{name:14s} {rate(jax.jit(fn), *map(jax.numpy.asarray, args)):6.1f} GFLOP/s")
  print(f"{'NumPy h @ W':14s} {rate(np.matmul, h, w):6.1f} GFLOP/s")
  try:
    import torch
  except ImportError:
    return
  th, tw = torch.from_numpy(h), torch.from_numpy(w)
  print(f"{'PyTorch h @ W':14s} {rate(torch.matmul, th, tw):6.1f} GFLOP/s")


if __name__ == "__main__":
  main()
