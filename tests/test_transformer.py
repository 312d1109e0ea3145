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
  assert len(carry.keys) == 2 and carry.keys[0].shape == (2, 2, 7, 4)  # (batch, heads, max_len, head size)
  _, carry, probs = model.apply(params, carry, memory, jnp.array([2, 2]),
                                method=Seq2Seq.decode_step)
  assert [int(p) for p in carry.position] == [1, 1]
  # Only position 0 of the cache is written after one step.
  assert float(jnp.abs(carry.keys[1][:, :, 1:]).max()) == 0.0
  assert float(jnp.abs(carry.keys[1][:, :, 0]).max()) > 0.0
  np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
  assert float(probs[1, 2:].max()) == 0.0  # none on the second row's padding


def test_the_materialised_residual_gradient_is_exactly_autodiffs(monkeypatch):
  from s2s_jax.models import transformer
  src = jnp.array([[4, 5, 6, 0], [7, 8, 9, 10]])
  params = jax.jit(Seq2Seq(CFG).init)(jax.random.PRNGKey(0), src, src)

  def grads():
    loss = lambda p: (Seq2Seq(CFG).apply(p, src, src) ** 2).sum()  # noqa: E731
    return jax.jit(jax.grad(loss))(params)
  with_boundary = grads()
  monkeypatch.setattr(transformer, "_materialised_gradient", lambda x: x)
  plain = grads()
  for a, b in zip(jax.tree_util.tree_leaves(with_boundary), jax.tree_util.tree_leaves(plain)):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.slow  # 38 s on one core: five searches compile (model, average, ensemble, server)
def test_a_trained_transformer_serves_at_every_door(tmp_path):
  """Checkpoint averaging, an ensemble, n-best, attention matrices, long-source chunks, the HTTP
  endpoint and batch transform, with a Transformer model: the doors the RNN's serve fixture
  tests in depth (test_serve.py), each once with the Transformer's key/value-cache carry."""
  import http.client
  import json
  import threading

  from conftest import tiny_config
  from s2s_jax import checkpoint, trainer
  from s2s_jax.bin import average
  from s2s_jax.config import DecodeConfig
  from s2s_jax.inference import SourceItem, Translator
  from s2s_jax.serving import batch_transform
  from s2s_jax.serving import server as server_lib

  work, model = tmp_path / "train", tmp_path / "model"
  trainer.train(tiny_config(
      model__encoder_type="transformer", model__decoder_type="transformer",
      model__transformer_model_size=8, model__transformer_attention_heads=2,
      model__transformer_feed_forward_num_hidden=16, train__lr_scheduler_type="inv_sqrt_warmup",
      train__learning_rate_warmup=4, train__bleu_sample_size=0, train__keep_last_checkpoints=2),
      str(work), devices=jax.devices()[:1])
  checkpoint.export_model(str(work), str(model))
  decode = DecodeConfig(beam_size=2, batch_size=4)
  single = Translator.load(str(model), decode)
  sentences = [["1", "2", "3"], ["4", "5"], []]
  want = single.translate(sentences, with_attention=True, nbest=2)
  assert want[0].attention.shape == (len(want[0].tokens), 3) and len(want[0].nbest) == 2

  config, mean, _, _ = average.average(str(work), [4, 8])
  checkpoint.write_model_dir(str(tmp_path / "avg"), config, mean,
                             *checkpoint.load_model(str(work))[2:])
  assert len(Translator.load(str(tmp_path / "avg"), decode).translate(sentences)) == 3

  twice = Translator.load(f"{model},{model}", decode).translate(sentences, with_attention=True)
  assert [t.tokens for t in twice] == [t.tokens for t in want]
  np.testing.assert_allclose(twice[0].attention, want[0].attention, atol=1e-5)

  decoder = single.decoder
  limit = decoder.config.max_seq_len_source
  long = [4 + i % 5 for i in range(limit * 2 + 1)]
  out, = decoder.decode_items([SourceItem(long, attention=True)])
  parts = decoder.decode_items([SourceItem(long[i:i + limit]) for i in range(0, len(long), limit)])
  assert out.ids == [t for p in parts for t in p.ids] and out.attention.shape[1] == len(long)

  srv, _ = server_lib.make_server(str(model), decode, server_lib.ServeOptions(port=0),
                                  background_load=False)
  threading.Thread(target=srv.run, daemon=True).start()
  try:
    conn = http.client.HTTPConnection("127.0.0.1", srv.effective_port, timeout=60)
    conn.request("POST", "/invocations", json.dumps({"instances": [
        {"data": "1 2 3", "configuration": {"attention_matrix": "true"}}]}),
                 {"Content-Type": "application/json"})
    response = conn.getresponse()
    prediction, = json.loads(response.read())["predictions"]
    assert response.status == 200
    assert prediction["target"].split() == want[0].tokens
    np.testing.assert_allclose(prediction["matrix"], want[0].attention, atol=1e-5)
  finally:
    srv.close()

  (tmp_path / "in.jsonl").write_text("".join(json.dumps({"source": " ".join(s)}) + "\n"
                                             for s in sentences))
  assert batch_transform.transform_file(single, str(tmp_path / "in.jsonl"),
                                        str(tmp_path / "out.jsonl")) == 3
  got = [json.loads(line)["target"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
  assert got == [" ".join(t.tokens) for t in want]
