"""What every encoder returns and every decoder reads."""

from typing import NamedTuple

import jax


class EncoderOutput(NamedTuple):
  memory: jax.Array   # (batch, source, hidden) top-layer states, zero at padded positions
  mask: jax.Array     # (batch, source) True at real tokens
  lengths: jax.Array  # (batch,) number of real tokens
