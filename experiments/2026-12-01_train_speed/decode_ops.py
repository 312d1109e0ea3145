r"""Beam search's costliest XLA operations on test_2016_flickr with the benchmark model (untrained),
from a jax.profiler trace: sentences/s of a warm pass, then the top operations of a traced pass
with their HLO instruction (of the length-16 source bucket's program) and name stack.

  PYTHONPATH=. python experiments/2026-12-01_train_speed/decode_ops.py 5   # the beam size
"""

import collections
import glob
import os
import sys
import time

from s2s_jax import startup

startup.before_imports()

import jax  # noqa: E402
import numpy as np  # noqa: E402

from configs import lstm_attn  # noqa: E402
from s2s_jax import config as config_lib  # noqa: E402
from s2s_jax import manifest, step_profile, trainer  # noqa: E402
from s2s_jax.data import sources, text  # noqa: E402
from s2s_jax.inference import Decoder, Translator  # noqa: E402


def main(beam: int, top: int = 12, trace_dir: str = "/tmp/s2s_decode_ops"):
  startup.program(compile_cache=False)
  cfg = config_lib.from_configdict(lstm_attn.get_config("data=multi30k,peers=true"))
  s = trainer.build(cfg, "/tmp/s2s_decode_ops_run")
  params = trainer.init_state(s, cfg.seed).params
  translator = Translator(Decoder(s.model_config, params, cfg.decode), s.corpus.src_vocab,
                          s.corpus.trg_vocab)
  sentences = text.read_token_lines(sources.text_files(cfg.data, "test")[0])
  translator.translate(sentences, beam)  # compiles
  start = time.time()
  translator.translate(sentences, beam)
  print(f"{manifest.cpu()}; beam {beam}: {len(sentences) / (time.time() - start):.1f} sent/s; "
        f"decode batch {cfg.decode.batch_size}")
  jax.profiler.start_trace(trace_dir)
  start = time.time()
  translator.translate(sentences, beam)
  wall = time.time() - start
  jax.profiler.stop_trace()
  from jax.profiler import ProfileData
  path = sorted(glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True),
                key=os.path.getmtime)[-1]
  times = collections.Counter()
  for plane in ProfileData.from_file(path).planes:
    for line in plane.lines:
      for event in line.events:
        stats = dict(event.stats)
        if "hlo_op" in stats and event.name.split(".")[0] not in ("while", "conditional", "call"):
          times[stats["hlo_op"]] += event.duration_ns
  print(f"traced pass: wall {wall:.2f} s; operations {sum(times.values()) / 1e9:.2f} s")
  decoder = translator.decoder
  src = np.zeros((cfg.decode.batch_size, 16), np.int32)
  limits = np.full((cfg.decode.batch_size,), 20, np.int32)
  hlo = decoder._search.lower(decoder._search_params, src, limits, beam=beam,
                              max_len=decoder.max_output_length(16), with_attention=False,
                              exhaustive=False).compile().as_text()
  lines = {}
  for row in hlo.splitlines():
    head = row.strip().removeprefix("ROOT ").split(" = ", 1)
    if len(head) == 2:
      lines[head[0].lstrip("%")] = head[1].split(", metadata=")[0][:160]
  names = step_profile.op_names(hlo)
  for op, ns in times.most_common(top):
    print(f"{ns / 1e6:8.1f} ms  {op} = {lines.get(op, '?')}\n            {names.get(op, '')[-110:]}")


if __name__ == "__main__":
  main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
