"""Tokenized parallel text -> train.rec, val.rec, vocab.src.json, vocab.trg.json (the library part
of the `s2s-preprocess` program, s2s_jax/bin/preprocess.py).

The counterpart of SageMaker's create_vocab_proto.py (spec §2.5), with the same
vocabulary rules and record contents: raw token ids, OOV -> <unk>, no BOS/EOS,
no truncation, pairs with an empty side skipped. Unlike the original, records
are written in line order, so the output is deterministic.

  s2s-preprocess -ts train.en -tt train.de -vs val.en -vt val.de -o data/
"""

import functools
import itertools
import logging
import os
from typing import Sequence

from s2s_jax.data import recordio, subwords
from s2s_jax.data import text
from s2s_jax.data import vocab as vocab_lib
from s2s_jax.errors import ConfigError, DataError

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


def preprocess_raw(train_src, train_trg, val_src=None, val_trg=None, output_dir=".", *,
                   subword_config) -> dict:
  """Raw text files -> the same four files plus subwords.{src,trg}.model: SentencePiece models
  trained on the training files (a config.SubwordConfig), every line segmented into pieces, and
  vocabularies of the models' pieces (no count or cap applies)."""
  if (val_src is None) != (val_trg is None):
    raise ConfigError("give both a validation source and target, or neither")
  src_model, trg_model = subwords.prepare(subword_config, train_src, train_trg, output_dir)
  val = {}
  if val_src is not None:
    val = dict(val_src=src_model.encode_file(val_src), val_trg=trg_model.encode_file(val_trg))
  summary = preprocess_tokens(
      src_model.encode_file(train_src), trg_model.encode_file(train_trg), output_dir, **val,
      src_vocab=vocab_lib.vocab_from_pieces(src_model.pieces()),
      trg_vocab=vocab_lib.vocab_from_pieces(trg_model.pieces()))
  return {**summary, "subwords": subword_config.model_type}
