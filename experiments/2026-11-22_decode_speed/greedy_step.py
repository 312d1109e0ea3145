"""One greedy decoding step of the benchmark model at 64 rows (random weights, source length 32):
the whole step against its output GEMM alone. Prints milliseconds; asserts nothing.

  PYTHONPATH=. python experiments/2026-11-22_decode_speed/greedy_step.py
"""

from s2s_jax import startup

startup.before_imports()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from gemm_layout import timed  # noqa: E402  (this folder is on the path when run as a script)
from s2s_jax.config import ModelConfig  # noqa: E402
from s2s_jax.models.seq2seq import Seq2Seq  # noqa: E402

ROWS, SRC, V_SRC, V_TRG = 64, 32, 10214, 18726


def main():
  cfg = ModelConfig(vocab_size_source=V_SRC, vocab_size_target=V_TRG, num_embed_source=256,
                    num_embed_target=256, rnn_num_hidden=512, rnn_attention_type="mlp")
  model = Seq2Seq(cfg, hoist=False)
  src = jnp.asarray(np.random.default_rng(0).integers(4, V_SRC, (ROWS, SRC)), jnp.int32)
  params = model.init(jax.random.PRNGKey(0), src, src[:, :4])["params"]
  variables = {"params": params}
  enc = model.apply(variables, src, method=Seq2Seq.encode)
  carry, memory = model.apply(variables, enc, method=Seq2Seq.init_state)
  prev = jnp.full((ROWS,), 5, jnp.int32)

  def step(params, carry, memory, prev):
    logits, carry, att = model.apply({"params": params}, carry, memory, prev,
                                     method=Seq2Seq.decode_step)
    lse = jax.nn.logsumexp(logits, axis=-1)
    best = jnp.argmax(logits, axis=-1)
    return best, lse, carry

  def hidden_only(params, carry, memory, prev):
    hidden, carry, _ = model.apply({"params": params}, carry, memory, prev,
                                   method=lambda m, *a: m.decoder.decode_step(*a))
    return hidden, carry

  hidden = jnp.ones((ROWS, 512), jnp.float32)
  w_out = params["output"]["w_out"]
  print(f"whole greedy step          {timed(jax.jit(step), params, carry, memory, prev):7.2f} ms")
  print(f"decoder step (no output)   {timed(jax.jit(hidden_only), params, carry, memory, prev):7.2f} ms")
  print(f"output GEMM alone          {timed(jax.jit(lambda h, w: h @ w), hidden, w_out):7.2f} ms")
  print(f"GEMM + lse + argmax        "
        f"{timed(jax.jit(lambda h, w: (jax.nn.logsumexp(h @ w, -1), jnp.argmax(h @ w, -1))), hidden, w_out):7.2f} ms")
  wt = w_out.T
  print(f"GEMM, transposed weight    {timed(jax.jit(lambda h, w: h @ w.T), hidden, wt):7.2f} ms")


if __name__ == "__main__":
  main()
