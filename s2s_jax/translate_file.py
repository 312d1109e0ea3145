"""Translate a file of tokenized sentences with a trained workdir; optional BLEU against a reference.

One translation per line; with nbest > 1 a JSON object per line instead, {"translations": [...],
"scores": [...]}, best first (scores are length-normalised negative log-probabilities, as Sockeye's
JSON output). BLEU scores the best.
"""

import json
import logging
import sys
import time

from s2s_jax import metrics
from s2s_jax.config import DecodeConfig
from s2s_jax.data import text
from s2s_jax.errors import DataError, UserError
from s2s_jax.inference import Translator

log = logging.getLogger("s2s_jax")


def main(decode: DecodeConfig, workdir, input_path, output_path="-", reference=None, beam=None,
         which="best", nbest=1):
  if not input_path:
    raise UserError("--mode=translate needs --input=FILE (tokenized, one sentence per line; - for stdin)")
  sentences = ([line.split() for line in sys.stdin] if input_path == "-"
               else text.read_token_lines(input_path))
  translator = Translator.load(workdir, decode, which)
  start = time.time()
  outputs = translator.translate(sentences, beam, nbest=nbest)
  seconds = time.time() - start
  hyps = [" ".join(o.tokens) for o in outputs]
  lines = hyps if nbest == 1 else [_nbest_line(o) for o in outputs]
  if output_path == "-":
    print("\n".join(lines))
  else:
    with open(output_path, "w", encoding="utf-8") as f:
      f.write("".join(line + "\n" for line in lines))
  log.info("translated %d sentences in %.1f s (%.1f sentences/s, compilation included), beam %d",
           len(hyps), seconds, len(hyps) / max(seconds, 1e-9), beam or decode.beam_size)
  if reference:
    refs = [" ".join(t) for t in text.read_token_lines(reference)]
    if len(refs) != len(hyps):
      raise DataError(f"{reference} has {len(refs)} lines but {input_path} has {len(hyps)}")
    print(f"BLEU = {metrics.bleu(hyps, refs):.2f} (tokenized, as sacrebleu -tok none)",
          file=sys.stderr)


def _nbest_line(translation):
  return json.dumps({"translations": [" ".join(t) for t, _ in translation.nbest],
                     "scores": [round(s, 6) for _, s in translation.nbest]}, ensure_ascii=False)
