"""Translate a file of tokenized sentences with a trained workdir; optional BLEU against a reference."""

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
         which="best"):
  if not input_path:
    raise UserError("--mode=translate needs --input=FILE (tokenized, one sentence per line; - for stdin)")
  sentences = ([line.split() for line in sys.stdin] if input_path == "-"
               else text.read_token_lines(input_path))
  translator = Translator.load(workdir, decode, which)
  start = time.time()
  outputs = translator.translate(sentences, beam)
  seconds = time.time() - start
  hyps = [" ".join(o.tokens) for o in outputs]
  if output_path == "-":
    print("\n".join(hyps))
  else:
    with open(output_path, "w", encoding="utf-8") as f:
      f.write("".join(h + "\n" for h in hyps))
  log.info("translated %d sentences in %.1f s (%.1f sentences/s, compilation included), beam %d",
           len(hyps), seconds, len(hyps) / max(seconds, 1e-9), beam or decode.beam_size)
  if reference:
    refs = [" ".join(t) for t in text.read_token_lines(reference)]
    if len(refs) != len(hyps):
      raise DataError(f"{reference} has {len(refs)} lines but {input_path} has {len(hyps)}")
    print(f"BLEU = {metrics.bleu(hyps, refs):.2f} (tokenized, as sacrebleu -tok none)",
          file=sys.stderr)
