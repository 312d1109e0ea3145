r"""A trained model's decoding on test_2016_flickr: sentences/s of a warm pass, then the costliest
XLA operations of a traced pass (all programs; the HLO text of the length-16 source bucket's).

  PYTHONPATH=. python experiments/2026-12-05_transformer_speed/profile/decode_ops.py \
      WORKDIR [BEAM=1] [DTYPE=float32]

WORKDIR: a training workdir or exported model (its best checkpoint is decoded).
"""

import dataclasses
import sys
import time

from s2s_jax import startup

startup.before_imports()

import numpy as np  # noqa: E402

from s2s_jax import manifest, step_profile  # noqa: E402
from s2s_jax.config import DecodeConfig  # noqa: E402
from s2s_jax.data import text  # noqa: E402
from s2s_jax.inference import Decoder, Translator  # noqa: E402

TEST = "../shared/data/multi30k/test_2016_flickr.en"


def main(workdir: str, beam: int = 1, dtype: str = "float32", top: int = 14,
         trace_dir: str = "/tmp/s2s_decode_ops"):
  import jax
  startup.program(compile_cache=False)
  from s2s_jax import checkpoint
  model_config, params, src_vocab, trg_vocab = checkpoint.load_model(workdir)
  translator = Translator(Decoder(dataclasses.replace(model_config, dtype=dtype), params,
                                  DecodeConfig(batch_size=64)), src_vocab, trg_vocab)
  sentences = text.read_token_lines(TEST)
  translator.translate(sentences, beam)  # compiles
  start = time.time()
  out = translator.translate(sentences, beam)
  wall = time.time() - start
  words = sum(len(t.tokens) for t in out)
  print(f"{manifest.cpu()}; {dtype} beam {beam}: {len(sentences) / wall:.1f} sent/s "
        f"({words / len(sentences):.1f} words a sentence); decode batch 64")
  jax.profiler.start_trace(trace_dir)
  start = time.time()
  translator.translate(sentences, beam)
  wall = time.time() - start
  jax.profiler.stop_trace()
  decoder = translator.decoder
  src = np.zeros((64, 16), np.int32)
  limits = np.full((64,), 20, np.int32)
  hlo = decoder._search.lower(decoder._search_params, src, limits, beam=beam,
                              max_len=decoder.max_output_length(16), with_attention=False,
                              exhaustive=False).compile().as_text()
  times = step_profile.operation_times(trace_dir, step_profile._module_name(hlo),
                                       step_profile.containers(hlo))
  lines = {}
  for row in hlo.splitlines():
    head = row.strip().removeprefix("ROOT ").split(" = ", 1)
    if len(head) == 2:
      lines[head[0].lstrip("%")] = head[1].split(", metadata=")[0][:150]
  names = step_profile.op_names(hlo)
  print(f"traced pass: wall {wall:.2f} s; operations of the length-16 program "
        f"{sum(times.values()) / 1e9:.2f} s")
  for op, ns in times.most_common(top):
    print(f"{ns / 1e6:8.1f} ms  {op} = {lines.get(op, '?')}\n            {names.get(op, '')[-110:]}")


if __name__ == "__main__":
  args = sys.argv[1:]
  main(args[0], *(int(a) if a.isdigit() else a for a in args[1:]))
