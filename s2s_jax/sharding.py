"""The only module that knows about devices: a 1-D 'data' mesh over all local devices, batches split
along it, parameters and optimizer state replicated."""

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P


DATA = "data"


def make_mesh(devices=None) -> jax.sharding.Mesh:
  devices = np.array(devices if devices is not None else jax.devices())
  return jax.sharding.Mesh(devices, (DATA,))


def batch_sharding(mesh) -> NamedSharding:
  return NamedSharding(mesh, P(DATA))


def data_parallel(step, mesh, num_args: int, batch_arg: int = 1):
  """step(*args) run once per device: args[batch_arg] split by rows over DATA, the others whole;
  step combines across devices itself (collectives over DATA) and returns the same on every
  device.

  Written per device rather than left to XLA's partitioner, which splits the model's own
  computation: it gathered whole-batch activations onto every device for the weight gradients
  (each device then computed them all) and summed bias gradients inside the recurrences' loops,
  once per time step. XLA:CPU then runs a collective inside a loop beside one outside it, and
  with its devices sharing a few threads the two can wait on each other until XLA aborts the
  process ("Termination timeout for `all gather ...`"; experiments/2026-12-01_compile_cache)."""
  in_specs = tuple(P(DATA) if i == batch_arg else P() for i in range(num_args))
  # check_vma=False: JAX does not type which values differ between devices. With the check, the
  # models' zero initial states (the same everywhere) would need marking as per-device wherever a
  # loop carries them, and JAX would sum a parameter's gradient where the parameter meets
  # per-device values; without it, a gradient is the device's own and the step sums it once.
  return jax.shard_map(step, mesh=mesh, in_specs=in_specs, out_specs=P(), check_vma=False)


def replicated(mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def put_batch(batch: dict, mesh) -> dict:
  """Host numpy batch (this process's rows) -> global arrays split over the 'data' axis."""
  sharding = batch_sharding(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in batch.items()}


def put_replicated(tree, mesh):
  return jax.device_put(tree, replicated(mesh))
