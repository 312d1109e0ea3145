"""How many global norms the compiled train step computes, with and without gradient clipping.

  python experiments/2026-12-01_nonfinite_check/hlo_count.py   # from the repository root
"""

import re
import sys

sys.path.insert(0, ".")
from s2s_jax import startup  # noqa: E402

startup.before_imports()
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from s2s_jax import optim, steps  # noqa: E402
from s2s_jax.config import ModelConfig, TrainConfig  # noqa: E402
from s2s_jax.models.seq2seq import Seq2Seq  # noqa: E402

cfg = ModelConfig(vocab_size_source=50, vocab_size_target=60, num_embed_source=16,
                  num_embed_target=16, rnn_num_hidden=32)
rng = np.random.RandomState(0)
batch = {key: jnp.asarray(rng.randint(4, 50, shape), jnp.int32)
         for key, shape in (("src", (8, 7)), ("trg_in", (8, 6)), ("trg_out", (8, 6)))}
for clip in (5.0, -1.0):
  tx = optim.make_optimizer(TrainConfig(clip_gradient_norm=clip))
  state = steps.init_state(Seq2Seq(cfg), tx, jax.random.PRNGKey(0), batch)
  text = jax.jit(steps.train_step).lower(state, batch, jax.random.PRNGKey(1)).compile().as_text()
  print(f"clip_gradient_norm={clip}: {len(re.findall(r'f32.. sqrt', text))} scalar sqrt "
        f"(one per global norm), {text.count('is-finite')} is-finite")
