"""Every encoder, decoder, cell and attention the config can name, in each pair, plus the deep,
residual, layer-normalised and weight-tied variants: shapes, masking, the step path reproducing
the full-sequence path, batched vs one-by-one decoding, and a training step that lowers the loss.

One test per variant, so that its checks share one compiled program (XLA's CPU compiles dominate).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from s2s_jax import losses
from s2s_jax.config import DecodeConfig, ModelConfig
from s2s_jax.data.vocab import PAD_ID
from s2s_jax.inference import Decoder
from s2s_jax.models import registry
from s2s_jax.models.seq2seq import Seq2Seq

BASE = dict(vocab_size_source=20, vocab_size_target=20, num_embed_source=8, num_embed_target=8,
            rnn_num_hidden=16, rnn_attention_num_hidden=12, cnn_num_hidden=16,
            transformer_model_size=8, transformer_attention_heads=2,
            transformer_feed_forward_num_hidden=16,
            max_seq_len_source=12, max_seq_len_target=12, length_ratio_mean=1.2)


def _variants():
  out = {}
  # Every pair of RNN or CNN encoder, cell and attention values (each attention with each cell
  # and each encoder, each encoder with each cell), in 14 of the 28 triples: an attention reads
  # the encoder's memory and the cell's state, which meet only through their shapes. The
  # Transformer encoder's memory has the same shape as the CNN's; it pairs with the RNN decoder
  # below.
  encoders = tuple(e for e in registry.names("encoder") if e != "transformer")
  cells = registry.names("cell")
  for i, att in enumerate(registry.names("attention")):
    for k in range(max(len(encoders), len(cells))):
      enc, cell = encoders[(i + k) % len(encoders)], cells[k % len(cells)]
      out[f"{enc}-rnn-{cell}-{att}"] = dict(encoder_type=enc, rnn_cell_type=cell,
                                            rnn_attention_type=att)
  out["rnn-cnn-lstm"] = dict(decoder_type="cnn")
  out["rnn-cnn-gru"] = dict(decoder_type="cnn", rnn_cell_type="gru")
  out["cnn-cnn"] = dict(encoder_type="cnn", decoder_type="cnn", num_layers_encoder=2,
                        num_layers_decoder=2)
  out["cnn-cnn-fixed-relu-k1-tied"] = dict(encoder_type="cnn", decoder_type="cnn",
                                           cnn_positional_embedding_type="fixed",
                                           cnn_activation_type="relu", cnn_kernel_width_encoder=1,
                                           cnn_kernel_width_decoder=1,
                                           weight_tying_type="trg_softmax", num_embed_target=16)
  out["gnmt-residual-layer-norm-lstm"] = dict(num_layers_encoder=2, num_layers_decoder=2,
                                              rnn_residual_connections=True,
                                              layer_normalization=True)
  out["deep-gru-attention-below"] = dict(rnn_cell_type="gru", num_layers_encoder=2,
                                         num_layers_decoder=2, rnn_attention_in_upper_layers=False,
                                         rnn_residual_connections=True, rnn_decoder_state_init="avg")
  out["layer-norm-gru-coverage"] = dict(layer_normalization=True, rnn_cell_type="gru",
                                        rnn_attention_type="coverage")
  out["transformer"] = dict(encoder_type="transformer", decoder_type="transformer")
  out["transformer-post-norm-learned-gelu-tied"] = dict(
      encoder_type="transformer", decoder_type="transformer", transformer_preprocess="",
      transformer_postprocess="drn", transformer_positional_embedding_type="learned",
      transformer_activation_type="gelu", weight_tying_type="src_trg_softmax",
      num_layers_decoder=2)
  out["transformer-rnn-gru-dot"] = dict(encoder_type="transformer", rnn_cell_type="gru",
                                        rnn_attention_type="dot", num_embed_source=8)
  out["rnn-transformer-swish"] = dict(decoder_type="transformer",
                                      transformer_activation_type="swish1")
  out["tied-all-zero-init"] = dict(weight_tying_type="src_trg_softmax", num_embed_source=16,
                                   num_embed_target=16, rnn_decoder_state_init="zero")
  return out


VARIANTS = _variants()


def _batch():
  rng = np.random.RandomState(0)
  src = rng.randint(4, 20, (3, 7))
  src[0, 5:] = PAD_ID
  src[1, 3:] = PAD_ID
  trg = rng.randint(4, 20, (3, 6))
  trg[2, 4:] = PAD_ID
  return jnp.array(src), jnp.array(trg)


def _run_model(model, params):
  """Everything but beam search, as one program (one compile per variant): the full-sequence
  logits for the batch, with more source padding and with later target tokens changed, the step
  path over the same targets, and the loss before and after one gradient-descent step."""
  src, trg = _batch()
  out = {"full": model.apply(params, src, trg),
         "wider": model.apply(params, jnp.pad(src, ((0, 0), (0, 4))), trg),
         "later": model.apply(params, src, trg.at[:, 4:].set(7))}
  enc = model.apply(params, src, method=Seq2Seq.encode)
  carry, memory = model.apply(params, enc, trg.shape[1], method=Seq2Seq.init_state)

  def one_step(carry, prev):
    logits, carry, probs = model.apply(params, carry, memory, prev, method=Seq2Seq.decode_step)
    return carry, (logits, probs)
  _, (logits, probs) = jax.lax.scan(one_step, carry, trg.T)
  out["steps"], out["probs"] = logits.transpose(1, 0, 2), probs.transpose(1, 0, 2)

  trg_in = jnp.concatenate([jnp.full((3, 1), 2), trg[:, :-1]], 1)

  def loss(params):
    total, _, count = losses.cross_entropy(model.apply(params, src, trg_in, train=True,
                                                       rngs={"dropout": jax.random.PRNGKey(1)}),
                                           trg, 0.0)
    return total / count
  before, grads = jax.value_and_grad(loss)(params)
  out["loss"] = (before, loss(jax.tree_util.tree_map(lambda p, g: p - 0.05 * g, params, grads)))
  return out


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_architecture(variant):
  cfg = ModelConfig(**{**BASE, **VARIANTS[variant]})
  src, trg = _batch()
  # The plain scan initialises without tracing the hoisted VJP; the parameters are the same.
  # Jitted: one compile, where eager init compiled ~25 small programs (~1 s a variant).
  params = jax.jit(Seq2Seq(cfg, hoist=False).init)(jax.random.PRNGKey(0), src, trg)
  model = Seq2Seq(cfg)
  out = jax.jit(_run_model, static_argnums=0)(model, params)

  assert out["full"].shape == (3, 6, cfg.vocab_size_target)
  np.testing.assert_allclose(out["steps"], out["full"], atol=2e-5,
                             err_msg="the step path differs from the full-sequence path")
  assert out["probs"].shape == (3, 6, src.shape[1])
  np.testing.assert_allclose(out["probs"].sum(-1), 1.0, rtol=1e-5)
  assert float(jnp.abs(out["probs"] * (src == PAD_ID)[:, None, :]).max()) == 0.0, \
      "attention on padding"
  # rows of 5, 3 and 7 tokens padded to 11 columns instead of 7
  np.testing.assert_allclose(out["wider"], out["full"], atol=2e-5,
                             err_msg="more source padding changed the output")
  np.testing.assert_allclose(out["later"][:, :4], out["full"][:, :4], atol=2e-5,
                             err_msg="later target tokens changed earlier positions")
  before, after = map(float, out["loss"])
  assert np.isfinite(before) and after < before, "a gradient step did not lower the loss"

  decoder = Decoder(cfg, params["params"], DecodeConfig(beam_size=2, batch_size=4))
  sources = [[5, 6, 7, 8, 9], [11], [4, 12, 13]]
  batched = decoder.decode_ids(sources, with_attention=True)
  for src_ids, out in zip(sources, batched):
    alone = decoder.decode_ids([src_ids], with_attention=True)[0]
    assert alone.ids == out.ids, "batched and one-by-one decoding differ"
    assert alone.score == pytest.approx(out.score, abs=1e-4)
    assert out.attention.shape == (len(out.ids), len(src_ids))
    np.testing.assert_allclose(alone.attention, out.attention, atol=1e-5)


@pytest.mark.slow  # 34 s of compiles; test_model's hoisted-gradient tests stay in the everyday tier
def test_hoisted_gradients_equal_plain_autodiff_for_deep_and_normalised_rnns():
  src, trg = _batch()
  for name in ("gnmt-residual-layer-norm-lstm", "deep-gru-attention-below"):
    cfg = ModelConfig(**{**BASE, **VARIANTS[name]})
    variables = jax.jit(Seq2Seq(cfg, hoist=False).init)(jax.random.PRNGKey(1), src, trg)

    def grads(hoist, cfg=cfg, variables=variables):
      def loss(v):
        logits = Seq2Seq(cfg, hoist).apply(v, src, trg)
        return (jax.nn.log_softmax(logits) * (trg != 0)[..., None]).sum()
      return jax.jit(jax.grad(loss))(variables)
    diff = jax.tree_util.tree_map(lambda a, b: float(jnp.abs(a - b).max()), grads(True),
                                  grads(False))
    assert max(jax.tree_util.tree_leaves(diff)) < 1e-4, name
