"""One of several processes sharing a compilation cache, for tests/test_compile_cache.py.

  python tests/cache_worker.py DEVICES

Compiles and runs a data-parallel step (a gradient all-reduced over DEVICES fake CPU devices) with
the cache of $S2S_JAX_CACHE, and prints its result and how many programs came from the cache.
"""

import os
import pathlib
import sys

os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={sys.argv[1]}"
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from s2s_jax import startup  # noqa: E402

startup.before_imports()
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from s2s_jax import compile_cache, sharding  # noqa: E402

hits = []
jax.monitoring.register_event_listener(
    lambda event, **kw: hits.append(event) if event == "/jax/compilation_cache/cache_hits" else None)
compile_cache.MIN_COMPILE_SECONDS = 0.0  # every program goes through the cache
folder = compile_cache.configure()


def loss(w, x):
  h = x
  for _ in range(12):  # big enough that a cache entry takes a while to write
    h = jnp.tanh(h @ w)
  return jnp.mean(h ** 2)


mesh = sharding.make_mesh()
step = jax.jit(jax.grad(loss), in_shardings=(sharding.replicated(mesh), sharding.batch_sharding(mesh)),
               out_shardings=sharding.replicated(mesh))
w = jnp.asarray(np.random.RandomState(0).randn(256, 256) / 16, jnp.float32)
x = jnp.asarray(np.random.RandomState(1).randn(8 * mesh.size, 256), jnp.float32)
grad = step(w, x)
print(f"{float(jnp.sum(grad)):.6e} {len(hits)} {folder}")
