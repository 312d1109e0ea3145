"""From a DataConfig to the train/validation corpus and vocabularies, always through RecordIO.

'synthetic' and 'text' data are first written as train.rec / val.rec / vocab.*.json into
workdir/data (once; a marker file records what they were made from), so every source takes the
same path as SageMaker's channels: 'rec' points at those channels directly.
"""

import dataclasses
import json
import logging
import os

from s2s_jax.data import preprocessing as preprocess
from s2s_jax.config import DataConfig
from s2s_jax.data import recordio, synthetic
from s2s_jax.data import vocab as vocab_lib
from s2s_jax.errors import ConfigError, DataError

log = logging.getLogger("s2s_jax")
TEXT_MARKER = "text_source.json"


@dataclasses.dataclass
class Corpus:
  train: recordio.TokenPairs
  validation: recordio.TokenPairs
  src_vocab: dict
  trg_vocab: dict
  vocab_dir: str = ""  # the vocab channel: SentencePiece models beside the vocabularies go with them


def text_files(cfg: DataConfig, split: str):
  """(source path, target path) of a text split ('train', 'validation' or 'test')."""
  t = cfg.text
  prefix = getattr(t, split)
  return (os.path.join(t.dir, f"{prefix}.{t.src_lang}"), os.path.join(t.dir, f"{prefix}.{t.trg_lang}"))


def channels(cfg: DataConfig, workdir: str, seed: int):
  """(train, validation, vocab) locations; generates or preprocesses data into workdir/data."""
  out = os.path.join(workdir, "data")
  if cfg.source == "synthetic":
    s = cfg.synthetic
    synthetic.write_synthetic(out, s.task, s.num_train, s.num_val, s.max_len, seed, s.num_symbols)
  elif cfg.source == "text":
    _preprocess_text_once(cfg, out)
  else:
    for key in ("train", "validation", "vocab"):
      if not getattr(cfg.rec, key):
        raise ConfigError(f"config.data.rec.{key} is empty: with data.source='rec' give the "
                          "train, validation and vocab locations")
    return cfg.rec.train, cfg.rec.validation, cfg.rec.vocab
  return (os.path.join(out, preprocess.TRAIN_REC), os.path.join(out, preprocess.VAL_REC), out)


def load_vocabs(location):
  """Source and target vocabularies from a vocab channel (a directory) or a pair of files."""
  if not os.path.isdir(location):
    raise DataError(f"vocab channel: {location} is not a directory holding "
                    f"{preprocess.VOCAB_SRC} and {preprocess.VOCAB_TRG}")
  return (vocab_lib.load_vocab(os.path.join(location, preprocess.VOCAB_SRC), "source"),
          vocab_lib.load_vocab(os.path.join(location, preprocess.VOCAB_TRG), "target"))


def load_corpus(cfg: DataConfig, workdir: str, seed: int) -> Corpus:
  train, validation, vocab = channels(cfg, workdir, seed)
  src_vocab, trg_vocab = load_vocabs(vocab)
  sizes = dict(src_vocab_size=len(src_vocab), trg_vocab_size=len(trg_vocab))
  train_pairs = recordio.read_pairs_many(recordio.resolve_rec_files(train, "train"), **sizes)
  val_pairs = recordio.read_pairs_many(recordio.resolve_rec_files(validation, "validation"), **sizes)
  for name, pairs in (("train", train_pairs), ("validation", val_pairs)):
    if not len(pairs):
      raise DataError(f"{name} channel {train if name == 'train' else validation} holds no "
                      "usable pairs")
  return Corpus(train_pairs, val_pairs, src_vocab, trg_vocab, vocab)


def _preprocess_text_once(cfg: DataConfig, out: str):
  if not cfg.text.dir:
    raise ConfigError("config.data.text.dir is empty: give the folder of the tokenized text")
  files = [*text_files(cfg, "train"), *text_files(cfg, "validation")]
  for path in files:
    if not os.path.isfile(path):
      raise DataError(f"text data: {path} does not exist")
  stamp = {"files": [[os.path.abspath(p), os.path.getsize(p), int(os.path.getmtime(p))] for p in files],
           "options": [cfg.single_vocab, cfg.num_words_source, cfg.num_words_target,
                       cfg.word_min_count_source, cfg.word_min_count_target]}
  if cfg.subwords.model_type:
    stamp["subwords"] = dataclasses.asdict(cfg.subwords)
  marker = os.path.join(out, TEXT_MARKER)
  if os.path.exists(marker):
    with open(marker, encoding="utf-8") as f:
      if json.load(f) == stamp:
        return
  log.info("preprocessing %s into %s", cfg.text.dir, out)
  if cfg.subwords.model_type:
    summary = preprocess.preprocess_raw(*files, output_dir=out, subword_config=cfg.subwords)
  else:
    summary = preprocess.preprocess(
        *files, output_dir=out, single_vocab=cfg.single_vocab,
        num_words_source=cfg.num_words_source, num_words_target=cfg.num_words_target,
        min_count_source=cfg.word_min_count_source, min_count_target=cfg.word_min_count_target)
  log.info("preprocessed: %s", summary)
  with open(marker + ".tmp", "w", encoding="utf-8") as f:
    json.dump(stamp, f)
  os.replace(marker + ".tmp", marker)

