"""Decoding-size products with the weight stored (K, N) (plain h @ w) or (N, K) (h @ w.T), and
the greedy selection (log-sum-exp + argmax) written two ways. Prints milliseconds; asserts nothing.

  PYTHONPATH=. python experiments/2026-11-22_decode_speed/gemm_layout.py
"""

import time

from s2s_jax import startup

startup.before_imports()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402


def timed(fn, *args, n=30):
  jax.block_until_ready(fn(*args))
  start = time.perf_counter()
  for _ in range(n):
    out = fn(*args)
  jax.block_until_ready(out)
  return 1000 * (time.perf_counter() - start) / n


def main():
  rng = np.random.default_rng(0)
  nn_ = jax.jit(lambda h, w: h @ w)
  nt = jax.jit(lambda h, w: h @ w.T)
  for m, k, n in ((64, 512, 18726), (320, 512, 18726), (32, 512, 18726), (64, 1280, 2048),
                  (320, 1280, 2048), (64, 1024, 512)):
    h = jnp.asarray(rng.standard_normal((m, k), np.float32))
    w = jnp.asarray(rng.standard_normal((k, n), np.float32))
    wt = jnp.asarray(np.ascontiguousarray(np.asarray(w).T))
    print(f"{m:4d} x {k:4d} x {n:5d}: (K, N) {timed(nn_, h, w):7.2f} ms   (N, K) "
          f"{timed(nt, h, wt):7.2f} ms")
  logits = jnp.asarray(rng.standard_normal((64, 18726), np.float32))

  def current(x):
    lse = jax.nn.logsumexp(x, axis=-1)
    ids = jnp.argmax(x, axis=-1)
    return ids, lse - jnp.take_along_axis(x, ids[:, None], axis=-1)[:, 0]

  def from_max(x):
    ids = jnp.argmax(x, axis=-1)
    top = jnp.take_along_axis(x, ids[:, None], axis=-1)
    return ids, jnp.log(jnp.sum(jnp.exp(x - top), axis=-1))

  def max_then_argmax(x):
    top = jnp.max(x, axis=-1, keepdims=True)
    ids = jnp.argmax(x == top, axis=-1)
    return ids, jnp.log(jnp.sum(jnp.exp(x - top), axis=-1))
  for name, fn in (("current", current), ("from_max", from_max), ("max_then_argmax", max_then_argmax)):
    print(f"greedy selection {name:16s} {timed(jax.jit(fn), logits):6.2f} ms")


if __name__ == "__main__":
  main()
