"""`s2s-preprocess`: tokenized parallel text -> RecordIO-protobuf + vocabularies, as SageMaker's
create_vocab_proto.py (the same flags, dashes included); or raw text through SentencePiece
subwords (--subwords), the models written beside the vocabularies, where training from these
channels (data.source='rec') takes them into the model.

  s2s-preprocess -ts train.en -tt train.de -vs val.en -vt val.de -o data/
  s2s-preprocess -ts raw/train.en -tt raw/train.de -vs raw/val.en -vt raw/val.de -o data/ \
      --subwords=bpe --subword-vocab-size=8000 [--subword-separate]
"""

import argparse
import logging
import sys

from s2s_jax import config as config_lib
from s2s_jax.data.preprocessing import preprocess, preprocess_raw
from s2s_jax.errors import UserError


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
      prog="s2s-preprocess",
      description="Tokenized parallel text -> RecordIO-protobuf + vocabularies "
                  "(SageMaker seq2seq format).")
  p.add_argument("-ts", "--train-source", required=True)
  p.add_argument("-tt", "--train-target", required=True)
  p.add_argument("-vs", "--val-source")
  p.add_argument("-vt", "--val-target")
  p.add_argument("-o", "--output-dir", default=".",
                 help="where train.rec, val.rec, vocab.{src,trg}.json go")
  p.add_argument("--single-vocab", "-single-vocab", action="store_true",
                 help="one vocabulary from both sides, with the source limits")
  p.add_argument("--vocab-source-json", help="reuse this source vocabulary")
  p.add_argument("--vocab-target-json", help="reuse this target vocabulary")
  p.add_argument("--num-words-source", type=int, default=50000)
  p.add_argument("--num-words-target", type=int, default=50000)
  p.add_argument("--word-min-count-source", type=int, default=1)
  p.add_argument("--word-min-count-target", type=int, default=1)
  p.add_argument("--subwords", choices=["bpe", "unigram"],
                 help="raw text in: train SentencePiece models and write pieces (the word "
                      "options above do not apply)")
  p.add_argument("--subword-vocab-size", type=int, default=config_lib.SubwordConfig.vocab_size)
  p.add_argument("--subword-separate", action="store_true",
                 help="one model per language (default: one joint model)")
  p.add_argument("--subword-max-sentences", type=int, default=config_lib.SubwordConfig.max_sentences,
                 help="lines sampled to train each model (memory bounded by the sample)")
  return p


def _subword_config(args) -> config_lib.SubwordConfig:
  """The flags as a checked config (the same messages as config.data.subwords.*)."""
  cd = config_lib.default_configdict()
  cd.data.subwords.update(model_type=args.subwords, vocab_size=args.subword_vocab_size,
                          joint=not args.subword_separate,
                          max_sentences=args.subword_max_sentences)
  return config_lib.from_configdict(cd).data.subwords


def main(argv=None) -> int:
  args = _parser().parse_args(argv)
  logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
  try:
    if args.subwords:
      s = preprocess_raw(args.train_source, args.train_target, args.val_source, args.val_target,
                         args.output_dir, subword_config=_subword_config(args))
    else:
      s = preprocess(
          args.train_source, args.train_target, args.val_source, args.val_target,
          args.output_dir, single_vocab=args.single_vocab,
          vocab_source_json=args.vocab_source_json,
          vocab_target_json=args.vocab_target_json,
          num_words_source=args.num_words_source,
          num_words_target=args.num_words_target,
          min_count_source=args.word_min_count_source,
          min_count_target=args.word_min_count_target)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(f"train: {s['train_records']} records written, "
        f"{s['train_skipped']} pairs skipped")
  if "val_records" in s:
    print(f"val: {s['val_records']} records written, "
          f"{s['val_skipped']} pairs skipped")
  print(f"vocabulary: {s['source_vocab_size']} source, "
        f"{s['target_vocab_size']} target types -> {s['output_dir']}")
  return 0


def console():
  """The `s2s-preprocess` command."""
  sys.exit(main())


if __name__ == "__main__":
  console()
