"""The only module that knows about devices: a 1-D 'data' mesh over all local devices, batches split
along it, parameters and optimizer state replicated."""

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P


def make_mesh(devices=None) -> jax.sharding.Mesh:
  devices = np.array(devices if devices is not None else jax.devices())
  return jax.sharding.Mesh(devices, ("data",))


def batch_sharding(mesh) -> NamedSharding:
  return NamedSharding(mesh, P("data"))


def replicated(mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def put_batch(batch: dict, mesh) -> dict:
  """Host numpy batch (this process's rows) -> global arrays split over the 'data' axis."""
  sharding = batch_sharding(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in batch.items()}


def put_replicated(tree, mesh):
  return jax.device_put(tree, replicated(mesh))
