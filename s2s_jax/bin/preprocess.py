"""`s2s-preprocess`: tokenized parallel text -> RecordIO-protobuf + vocabularies, as SageMaker's
create_vocab_proto.py (the same flags, dashes included).

  s2s-preprocess -ts train.en -tt train.de -vs val.en -vt val.de -o data/
"""

import argparse
import logging
import sys

from s2s_jax.data.preprocessing import preprocess
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
  return p


def main(argv=None) -> int:
  args = _parser().parse_args(argv)
  logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
  try:
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
