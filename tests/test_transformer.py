"""The Transformer's own pieces: its schedule, its config checks, the key/value cache's size, and
the attention it reports. (Shapes, masking, the step path and decoding: test_architectures.py.)"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import tiny
from s2s_jax import config as config_lib
from s2s_jax import optim
from s2s_jax.config import ModelConfig, TrainConfig
from s2s_jax.errors import ConfigError
from s2s_jax.models.seq2seq import Seq2Seq

CFG = ModelConfig(vocab_size_source=12, vocab_size_target=12, num_embed_source=8,
                  num_embed_target=8, encoder_type="transformer", decoder_type="transformer",
                  transformer_model_size=8, transformer_attention_heads=2,
                  transformer_feed_forward_num_hidden=16, num_layers_encoder=1,
                  num_layers_decoder=2, max_seq_len_source=10, max_seq_len_target=10)


def test_the_inverse_square_root_schedule_warms_up_then_decays():
  cfg = TrainConfig(lr_scheduler_type="inv_sqrt_warmup", learning_rate_warmup=4)
  factors = [float(optim.schedule_factor(cfg, t)) for t in (0, 1, 2, 3, 15, 63)]
  np.testing.assert_allclose(factors, [0.25, 0.5, 0.75, 1.0, 0.5, 0.25], rtol=1e-6)


def test_the_inverse_square_root_schedule_needs_a_warm_up():
  cd = tiny.get_config()
  cd.train.lr_scheduler_type = "inv_sqrt_warmup"
  with pytest.raises(ConfigError, match="learning_rate_warmup must be positive with "
                     "lr_scheduler_type='inv_sqrt_warmup'"):
    config_lib.from_configdict(cd)


def test_a_steps_cache_holds_max_len_positions_per_layer_and_attention_is_a_distribution():
  src = jnp.array([[4, 5, 6, 0], [7, 8, 0, 0]])
  model = Seq2Seq(CFG)
  params = jax.jit(model.init)(jax.random.PRNGKey(0), src, src)
  enc = model.apply(params, src, method=Seq2Seq.encode)
  carry, memory = model.apply(params, enc, 7, method=Seq2Seq.init_state)
  assert len(carry.keys) == 2 and carry.keys[0].shape == (2, 7, 2, 4)
  _, carry, probs = model.apply(params, carry, memory, jnp.array([2, 2]),
                                method=Seq2Seq.decode_step)
  assert [int(p) for p in carry.position] == [1, 1]
  # Only position 0 of the cache is written after one step.
  assert float(jnp.abs(carry.keys[1][:, 1:]).max()) == 0.0
  assert float(jnp.abs(carry.keys[1][:, 0]).min()) >= 0.0 and float(
      jnp.abs(carry.keys[1][:, 0]).max()) > 0.0
  np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
  assert float(probs[1, 2:].max()) == 0.0  # none on the second row's padding
