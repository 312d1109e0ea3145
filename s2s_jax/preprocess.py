"""Tokenized parallel text -> train.rec, val.rec, vocab.src.json, vocab.trg.json.

The counterpart of SageMaker's create_vocab_proto.py (spec §2.5), with the same
vocabulary rules and record contents: raw token ids, OOV -> <unk>, no BOS/EOS,
no truncation, pairs with an empty side skipped. Unlike the original, records
are written in line order, so the output is deterministic.

  python -m s2s_jax.preprocess -ts train.en -tt train.de -vs val.en -vt val.de \
      -o data/
"""

import argparse
import functools
import itertools
import logging
import os
import sys
from typing import Sequence

from s2s_jax.data import recordio
from s2s_jax.data import text
from s2s_jax.data import vocab as vocab_lib
from s2s_jax.errors import ConfigError, DataError, UserError

TRAIN_REC, VAL_REC = "train.rec", "val.rec"
VOCAB_SRC, VOCAB_TRG = "vocab.src.json", "vocab.trg.json"

log = logging.getLogger(__name__)


def _check_parallel(src, trg, src_name, trg_name):
  if len(src) != len(trg):
    raise DataError(f"{src_name} has {len(src)} lines but {trg_name} has "
                    f"{len(trg)}; source and target must be line-parallel")


def _write_split(path, src_lines, trg_lines, src_vocab, trg_vocab):
  """Writes one .rec file; returns (records written, pairs skipped)."""
  skipped = 0

  def pairs():
    nonlocal skipped
    for s, t in zip(src_lines, trg_lines):
      if not (s and t):
        skipped += 1
        continue
      yield (vocab_lib.ids_from_tokens(s, src_vocab),
             vocab_lib.ids_from_tokens(t, trg_vocab))

  written = recordio.write_pairs(path, pairs())
  if skipped:
    log.warning("%s: skipped %d of %d pairs with an empty source or target",
                path, skipped, len(src_lines))
  return written, skipped


def preprocess_tokens(
    train_src: Sequence[Sequence[str]], train_trg: Sequence[Sequence[str]],
    output_dir, *, val_src=None, val_trg=None, src_vocab=None, trg_vocab=None,
    single_vocab: bool = False, num_words_source: int | None = 50000,
    num_words_target: int | None = 50000, min_count_source: int = 1,
    min_count_target: int = 1) -> dict:
  """preprocess() on token lists already in memory; vocabs given are reused.

  With single_vocab one vocabulary is built from both sides using the source
  limits, as the reference does; it is ignored when vocabularies are given.
  """
  _check_parallel(train_src, train_trg, "train source", "train target")
  if src_vocab is None:
    if single_vocab:
      src_vocab = trg_vocab = vocab_lib.build_vocab(
          itertools.chain(train_src, train_trg), num_words_source,
          min_count_source)
    else:
      src_vocab = vocab_lib.build_vocab(train_src, num_words_source,
                                        min_count_source)
      trg_vocab = vocab_lib.build_vocab(train_trg, num_words_target,
                                        min_count_target)
  os.makedirs(output_dir, exist_ok=True)
  join = functools.partial(os.path.join, output_dir)
  summary = {"output_dir": os.fspath(output_dir)}
  written, skipped = _write_split(join(TRAIN_REC), train_src, train_trg,
                                  src_vocab, trg_vocab)
  if not written:
    raise DataError(f"no training pairs left: all {skipped} have an empty "
                    "source or target")
  summary.update(train_records=written, train_skipped=skipped)
  if val_src is not None:
    _check_parallel(val_src, val_trg, "val source", "val target")
    written, skipped = _write_split(join(VAL_REC), val_src, val_trg,
                                    src_vocab, trg_vocab)
    summary.update(val_records=written, val_skipped=skipped)
  vocab_lib.save_vocab(src_vocab, join(VOCAB_SRC))
  vocab_lib.save_vocab(trg_vocab, join(VOCAB_TRG))
  summary.update(source_vocab_size=len(src_vocab),
                 target_vocab_size=len(trg_vocab))
  return summary


def preprocess(train_src, train_trg, val_src=None, val_trg=None,
               output_dir=".", *, single_vocab: bool = False,
               vocab_source_json=None, vocab_target_json=None,
               num_words_source: int | None = 50000,
               num_words_target: int | None = 50000,
               min_count_source: int = 1, min_count_target: int = 1) -> dict:
  """Text files -> the four files of the train/validation/vocab channels.

  Returns counts: train_records, train_skipped, val_records, val_skipped (when a
  validation pair is given), source_vocab_size, target_vocab_size.
  """
  if (val_src is None) != (val_trg is None):
    raise ConfigError("give both a validation source and target, or neither")
  if (vocab_source_json is None) != (vocab_target_json is None):
    raise ConfigError("to reuse vocabularies give both the source and the "
                      "target vocabulary JSON")
  src, trg = text.read_token_lines(train_src), text.read_token_lines(train_trg)
  _check_parallel(src, trg, os.fspath(train_src), os.fspath(train_trg))
  vsrc = vtrg = None
  if val_src is not None:
    vsrc, vtrg = text.read_token_lines(val_src), text.read_token_lines(val_trg)
    _check_parallel(vsrc, vtrg, os.fspath(val_src), os.fspath(val_trg))
  src_vocab = trg_vocab = None
  if vocab_source_json is not None:
    src_vocab = vocab_lib.load_vocab(vocab_source_json, "source")
    trg_vocab = vocab_lib.load_vocab(vocab_target_json, "target")
  return preprocess_tokens(
      src, trg, output_dir, val_src=vsrc, val_trg=vtrg, src_vocab=src_vocab,
      trg_vocab=trg_vocab, single_vocab=single_vocab,
      num_words_source=num_words_source, num_words_target=num_words_target,
      min_count_source=min_count_source, min_count_target=min_count_target)


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
      prog="python -m s2s_jax.preprocess",
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


if __name__ == "__main__":
  sys.exit(main())
