"""The profile by piece of the model (s2s_jax/step_profile.py): name stacks map to pieces, and a
traced train step has time in every piece the model has, forward and backward."""

import jax
import optax
import pytest

from s2s_jax import step_profile, steps
from s2s_jax.config import ModelConfig
from s2s_jax.models.seq2seq import Seq2Seq
from test_architectures import BASE, _batch


@pytest.mark.parametrize("stack,piece,backward", [
    ("jit(train_step)/transpose(jvp(Seq2Seq))/decoder.decode_sequence/transpose(jvp())/while/"
     "body/attention/dot_general", "attention", True),
    ("jit(train_step)/jvp(Seq2Seq)/decoder.decode_sequence/jvp()/while/body/dot_general",
     "decoder recurrence", False),
    ("jit(train_step)/jvp(Seq2Seq)/encoder/reverse_rnn/jvp()/while/body/tanh",
     "encoder recurrence", False),
    ("jit(train_step)/transpose(jvp(Seq2Seq))/output/dot_general", "output layer", True),
    ("jit(train_step)/jvp(loss)/reduce_max", "loss (softmax cross-entropy)", False),
    ("jit(train_step)/jvp(Seq2Seq)/encoder/source_embed/source_embed.lookup/jit(_take)/gather",
     "embeddings", False),
    ("jit(train_step)/cond/branch_1_fun/optimizer/mul", "optimizer (Adam, clipping)", False),
    ("jit(train_step)/square", "gradient norm and the rest", False),
])
def test_name_stacks_map_to_pieces(stack, piece, backward):
  assert step_profile.piece_of(stack) == (piece, backward)


def test_a_traced_train_step_has_time_in_every_piece_forward_and_backward(tmp_path):
  cfg = ModelConfig(**BASE)
  src, trg = _batch()
  batch = {"src": src, "trg_in": trg, "trg_out": trg}
  state = steps.init_state(Seq2Seq(cfg), optax.adam(1e-3), jax.random.PRNGKey(0), batch)
  rng = jax.random.PRNGKey(1)
  compiled = jax.jit(steps.train_step).lower(
      state, batch, rng).compile()
  holder = [state]

  def run():
    holder[0], out = compiled(holder[0], batch, rng)
    jax.block_until_ready(out)
  table, wall = step_profile.profile(compiled, run, 2, str(tmp_path))
  for piece in ("encoder recurrence", "decoder recurrence", "attention", "output layer",
                "loss (softmax cross-entropy)", "optimizer (Adam, clipping)"):
    assert table.get(piece, [0, 0])[0] > 0, (piece, table)
  for piece in ("encoder recurrence", "decoder recurrence", "attention"):
    assert table[piece][1] > 0, (piece, table)
  text = step_profile.markdown(table, 2, wall)
  assert "| decoder recurrence |" in text and "ms per step" in text


def test_loops_branches_and_calls_are_containers_whatever_their_names():
  hlo = """HloModule jit_train_step
  %cond.135 = (f32[512]{0}, /*index=5*/f32[2,512]{1,0}) conditional(%p, %a, %b), branch_computations={%x, %y}
  %while.7 = (s32[], f32[4]{0}) while(%t), condition=%c, body=%b
  %call.2 = f32[4]{0} call(%a), to_apply=%f
  %ynn_fusion.34 = f32[18726]{0} fusion(%g, %c), kind=kCustom, calls=%fused_computation.34
  ROOT %tuple.1 = (f32[4]{0}) tuple(%call.2)
"""
  assert step_profile.containers(hlo) == {"cond.135", "while.7", "call.2"}
