"""RNN cells as pure update rules, and `CellLayer`, the parameters of one recurrent layer.

A cell's step is split so that recurrences stay fast: the part of the input projection that does
not depend on the recurrence (`pre`, e.g. embeddings) is one product over all time steps, outside
the loop; inside the loop only `taps.dot` products remain (see recurrence.py). Gate orders follow
MXNet (spec §5.3): LSTM i, f, c~, o; GRU r, z, n.
"""

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from s2s_jax.models import precision


def layer_norm(x, gain, bias, eps=1e-6):
  mean = x.mean(-1, keepdims=True)
  var = ((x - mean) ** 2).mean(-1, keepdims=True)
  return (x - mean) * jax.lax.rsqrt(var + eps) * gain + bias


class LSTM:
  gates = 4
  num_states = 2  # (h, c); the output is h
  h2h_bias = False  # one bias suffices: i2h and h2h are summed before any nonlinearity

  @staticmethod
  def update(i2h, h2h, state, ln=None):
    z = i2h + h2h
    if ln is not None:
      z = layer_norm(i2h, *ln["i2h"]) + layer_norm(h2h, *ln["h2h"])
    i, f, g, o = jnp.split(z, 4, axis=-1)
    c = jax.nn.sigmoid(f) * state[1] + jax.nn.sigmoid(i) * jnp.tanh(g)
    c_out = layer_norm(c, *ln["c"]) if ln is not None else c
    return (jax.nn.sigmoid(o) * jnp.tanh(c_out), c)


class GRU:
  gates = 3
  num_states = 1  # (h,)
  h2h_bias = True  # MXNet's GRU: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))

  @staticmethod
  def update(i2h, h2h, state, ln=None):
    if ln is not None:
      i2h, h2h = layer_norm(i2h, *ln["i2h"]), layer_norm(h2h, *ln["h2h"])
    xr, xz, xn = jnp.split(i2h, 3, axis=-1)
    hr, hz, hn = jnp.split(h2h, 3, axis=-1)
    r = jax.nn.sigmoid(xr + hr)
    z = jax.nn.sigmoid(xz + hz)
    n = jnp.tanh(xn + r * hn)
    return ((1.0 - z) * n + z * state[0],)


class CellLayer(nn.Module):
  """Parameters of one recurrent layer whose input is `pre` (projected once for all steps) and/or
  `x` (projected inside the loop, e.g. input feeding or the layer below)."""
  cell: type
  pre_size: int
  step_size: int
  hidden: int
  kernel_init: Callable
  layer_norm: bool = False
  dtype: str = "float32"  # of the input projection's product (precision.py)

  def setup(self):
    width = self.cell.gates * self.hidden
    if self.pre_size:
      self.w_pre = self.param("w_pre", self.kernel_init, (self.pre_size, width))
    if self.step_size:
      self.w_step = self.param("w_step", self.kernel_init, (self.step_size, width))
    self.w_hh = self.param("w_hh", self.kernel_init, (self.hidden, width))
    self.b = self.param("b", nn.initializers.zeros, (width,))
    if self.cell.h2h_bias:
      self.b_hh = self.param("b_hh", nn.initializers.zeros, (width,))
    if self.layer_norm:
      names = ("i2h", "h2h", "c") if self.cell is LSTM else ("i2h", "h2h")
      sizes = {"i2h": width, "h2h": width, "c": self.hidden}
      self.ln = {n: (self.param(f"ln_{n}_gain", nn.initializers.ones, (sizes[n],)),
                     self.param(f"ln_{n}_bias", nn.initializers.zeros, (sizes[n],))) for n in names}

  @property
  def fused(self):
    """LSTM without layer norm: input and state go through one product of their concatenation."""
    return self.cell is LSTM and not self.layer_norm

  def project(self, pre):
    """(..., pre_size) -> (..., gates * hidden), bias included."""
    lead = pre.shape[:-1]
    flat = precision.dot(pre.reshape(-1, pre.shape[-1]), self.w_pre, self.dtype)
    return precision.add_bias(flat, self.b).reshape(*lead, -1)

  def weights(self, name):
    """Matrices the step uses through `taps.dot`, under names unique to this layer."""
    if self.fused and self.step_size:
      return {f"{name}_rec": jnp.concatenate([self.w_step, self.w_hh], 0)}
    out = {f"{name}_hh": self.w_hh}
    if self.step_size:
      out[f"{name}_x"] = self.w_step
    return out

  def consts(self):
    out = {"b": self.b}
    if self.cell.h2h_bias:
      out["b_hh"] = self.b_hh
    if self.layer_norm:
      out["ln"] = self.ln
    return out


def step(cell, taps, consts, name, pre, x, state):
  """One step of a CellLayer's recurrence (see CellLayer.weights/consts); returns the new state.

  pre: projected input incl. bias, or None (then the bias is added here); x: in-loop input or None.
  """
  h = state[0]
  base = consts["b"] if pre is None else pre
  if cell is LSTM and "ln" not in consts:
    z = base + (taps.dot(f"{name}_rec", jnp.concatenate([x, h], -1)) if x is not None
                else taps.dot(f"{name}_hh", h))
    return LSTM.update(z, 0.0, state)
  i2h = base + (taps.dot(f"{name}_x", x) if x is not None else 0.0)
  h2h = taps.dot(f"{name}_hh", h) + consts.get("b_hh", 0.0)
  return cell.update(i2h, h2h, state, consts.get("ln"))
