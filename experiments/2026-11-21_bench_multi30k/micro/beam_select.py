"""One beam-5 step's output layer + candidate selection at 64 sentences x 5 hypotheses x 18,726 types:
the old selection (log-softmax, masks and one TopK over the (64, 5 x V) candidate array) against
beam_search._select (log-sum-exp and a per-hypothesis TopK). Prints milliseconds; asserts nothing.

  PYTHONPATH=. python experiments/2026-11-21_bench_multi30k/micro/beam_select.py
"""

import time

from s2s_jax import startup

startup.before_imports()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from s2s_jax import beam_search  # noqa: E402

B, K, V, H = 64, 5, 18726, 512


def old_select(logits, scores, finished, at_limit):
  nll = -jax.nn.log_softmax(logits).reshape(B, K, V)
  ids = jnp.arange(V)
  nll = jnp.where(at_limit[:, None, None] & (ids != 3), 1e9, nll)
  nll = jnp.where(finished[:, :, None], jnp.where(ids == 0, 0.0, 1e9), nll)
  return jax.lax.top_k(-(scores[:, :, None] + nll).reshape(B, K * V), K)


def timed(fn, *args, n=20):
  jax.block_until_ready(fn(*args))
  start = time.perf_counter()
  for _ in range(n):
    out = fn(*args)
  jax.block_until_ready(out)
  return 1000 * (time.perf_counter() - start) / n


def main():
  rng = np.random.default_rng(0)
  hidden = jnp.asarray(rng.standard_normal((B * K, H), np.float32))
  w_out = jnp.asarray(rng.standard_normal((H, V), np.float32) * 0.05)
  scores = jnp.asarray(rng.random((B, K), np.float32))
  finished, at_limit = jnp.zeros((B, K), bool), jnp.zeros((B,), bool)
  gemm = jax.jit(lambda h, w: h @ w)
  old = jax.jit(lambda h, w, s, f, a: old_select(h @ w, s, f, a))
  new = jax.jit(lambda h, w, s, f, a: beam_search._select(h @ w, s, f, a, K))
  print(f"output GEMM alone        {timed(gemm, hidden, w_out):7.1f} ms")
  print(f"GEMM + old selection     {timed(old, hidden, w_out, scores, finished, at_limit):7.1f} ms")
  print(f"GEMM + _select           {timed(new, hidden, w_out, scores, finished, at_limit):7.1f} ms")


if __name__ == "__main__":
  main()
