import sys, re
sys.path.insert(0, ".")
from s2s_jax import startup; startup.before_imports()
import jax, jax.numpy as jnp, numpy as np, optax, functools
from s2s_jax import optim, steps
from s2s_jax.config import ModelConfig, TrainConfig
from s2s_jax.models.seq2seq import Seq2Seq
cfg = ModelConfig(vocab_size_source=50, vocab_size_target=60, num_embed_source=16, num_embed_target=16, rnn_num_hidden=32)
rng = np.random.RandomState(0)
b = {"src": jnp.asarray(rng.randint(4, 50, (8, 7)), jnp.int32), "trg_in": jnp.asarray(rng.randint(4, 60, (8, 6)), jnp.int32), "trg_out": jnp.asarray(rng.randint(4, 60, (8, 6)), jnp.int32)}
for clip in (5.0, -1.0):
  state = steps.init_state(Seq2Seq(cfg), optim.make_optimizer(TrainConfig(clip_gradient_norm=clip)), jax.random.PRNGKey(0), b)
  text = jax.jit(steps.train_step).lower(state, b, jax.random.PRNGKey(1)).compile().as_text()
  n_sqrt = len(re.findall(r"f32\[\] sqrt", text)); n_fin = len(re.findall("is-finite", text))
  print("clip", clip, "scalar sqrt ops", n_sqrt, "is-finite ops", n_fin)
