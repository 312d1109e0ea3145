r"""`s2s-translate`: translate a file of sentences; BLEU against a reference if given.

  s2s-translate --workdir=runs/lstm_attn_data-multi30k --input=test.en --output=hyp.de \
      [--reference=test.de] [--beam_size=5] [--nbest=3] [--checkpoint=best]

Decoding settings (beam, length penalty, output length limit, batch size) are the model's saved
ones (decode_config.json) unless a flag gives them. One translation per line; with --nbest above 1
a JSON object per line instead, {"translations": [...], "scores": [...]}, best first (scores are
length-normalised negative log-probabilities, as Sockeye's JSON output). BLEU scores the best.

A model trained on raw text with SentencePiece subwords (data.subwords) carries its models: it reads
raw text and writes raw text, and --reference scores detokenized, cased sacreBLEU (13a) and chrF,
each with its signature. --input_format=tokens gives such a model its pieces instead; a model of
words reads tokenized text, and BLEU is then tokenized BLEU (sacrebleu -tok none).
"""

import json
import logging
import sys
import time

from s2s_jax import startup

startup.before_imports()  # before anything imports JAX

from absl import flags  # noqa: E402

from s2s_jax.bin import options  # noqa: E402

FLAGS = flags.FLAGS
log = logging.getLogger("s2s_jax")


def define_flags():
  options.define_workdir()
  options.define_decode()
  flags.DEFINE_string("input", None, "File of sentences, one per line (- for stdin): tokenized, "
                      "or raw text for a model with SentencePiece subwords.")
  flags.DEFINE_string("output", "-", "Output file (- for stdout).")
  flags.DEFINE_string("reference", None, "Reference translations; prints BLEU.")
  flags.DEFINE_enum("input_format", "auto", ["auto", "raw", "tokens"],
                    "auto: raw text for a model with SentencePiece models, else tokens; raw needs "
                    "such a model; tokens: whitespace-separated tokens (or pieces).")
  flags.DEFINE_integer("nbest", 1, "Hypotheses per sentence; above 1 the output is JSON Lines, "
                       '{"translations": [...], "scores": [...]} best first.')


def translate(workdir, input_path, output_path="-", reference=None, nbest=1, which="best",
              input_format="auto"):
  from s2s_jax import metrics
  from s2s_jax.data import text
  from s2s_jax.errors import DataError, UserError
  from s2s_jax.inference import Translator
  if not input_path:
    raise UserError("--input=FILE is needed (tokenized, one sentence per line; - for stdin)")
  if not workdir:
    raise UserError("--workdir=MODEL is needed (a training workdir or an exported model)")
  decode = options.decode_config(workdir)
  translator = Translator.load(workdir, decode, which)
  raw = input_format == "raw" or (input_format == "auto" and translator.subword_models is not None)
  start = time.time()
  if raw:
    lines = ([line.rstrip("\n") for line in sys.stdin] if input_path == "-"
             else text.read_raw_lines(input_path))
    outputs, hyps = translator.translate_text(lines, nbest=nbest)
    detok = translator.subword_models[1].decode
  else:
    sentences = ([line.split() for line in sys.stdin] if input_path == "-"
                 else text.read_token_lines(input_path))
    outputs = translator.translate(sentences, nbest=nbest)
    hyps = [" ".join(o.tokens) for o in outputs]
    detok = " ".join
  seconds = time.time() - start
  lines = hyps if nbest == 1 else [_nbest_line(o, detok) for o in outputs]
  if output_path == "-":
    print("\n".join(lines))
  else:
    with open(output_path, "w", encoding="utf-8") as f:
      f.write("".join(line + "\n" for line in lines))
  log.info("translated %d sentences in %.1f s (%.1f sentences/s, compilation included), beam %d",
           len(hyps), seconds, len(hyps) / max(seconds, 1e-9), decode.beam_size)
  if reference:
    refs = (text.read_raw_lines(reference) if raw
            else [" ".join(t) for t in text.read_token_lines(reference)])
    if len(refs) != len(hyps):
      raise DataError(f"{reference} has {len(refs)} lines but {input_path} has {len(hyps)}")
    if raw:
      scores = metrics.detokenized_scores(hyps, refs)
      print(f"BLEU = {scores['bleu']:.2f} ({scores['bleu_signature']})\n"
            f"chrF = {scores['chrf']:.2f} ({scores['chrf_signature']})", file=sys.stderr)
    else:
      print(f"BLEU = {metrics.bleu(hyps, refs):.2f} (tokenized, as sacrebleu -tok none)",
            file=sys.stderr)


def _nbest_line(translation, detok):
  return json.dumps({"translations": [detok(t) for t, _ in translation.nbest],
                     "scores": [round(s, 6) for _, s in translation.nbest]}, ensure_ascii=False)


def main(argv):
  del argv
  options.setup_logging()
  startup.program()
  from s2s_jax.errors import UserError
  try:
    translate(FLAGS.workdir, FLAGS.input, FLAGS.output, FLAGS.reference, FLAGS.nbest,
              FLAGS.checkpoint, FLAGS.input_format)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


def console():
  """The `s2s-translate` command."""
  options.run_program(sys.modules[__name__], define_flags, main)


if __name__ == "__main__":
  console()
