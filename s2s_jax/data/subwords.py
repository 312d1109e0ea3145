"""SentencePiece subwords: a model trained from raw text, raw text encoded to pieces and pieces
decoded back to raw text (issue 30).

The pieces are the tokens of the rest of s2s-jax: the vocabulary JSON lists them (vocab.py adds
its four special symbols in front), so RecordIO channels, SageMaker mode and the endpoint see
nothing new. SentencePiece's own control symbols stay out of the pieces: <s>, </s> and <pad> are
added by s2s-jax, and its unknown piece is spelt <unk> as ours.

Training reads its files as a stream and keeps a uniform sample of at most `max_sentences` lines
(SentencePiece's `input_sentence_size` with shuffling), so its memory is bounded by the sample,
not by the corpus.
"""

import hashlib
import os
import shutil

import sentencepiece as spm

from s2s_jax.data import text
from s2s_jax.data.vocab import SPECIAL_SYMBOLS, UNK_SYMBOL
from s2s_jax.errors import DataError

MODEL_TYPES = ("unigram", "bpe")
SRC_MODEL, TRG_MODEL = "subwords.src.model", "subwords.trg.model"


def train(paths, model_prefix, vocab_size: int, model_type: str = "unigram",
          max_sentences: int = 1_000_000, character_coverage: float = 1.0, seed: int = 1) -> str:
  """Trains a model on the lines of `paths` (raw text, UTF-8); returns the .model file's path.

  vocab_size counts SentencePiece's pieces, <unk> included. A corpus too small for it makes
  SentencePiece stop with a message giving the largest size it allows; that message is passed on.
  """
  if model_type not in MODEL_TYPES:
    raise ValueError(f"model_type '{model_type}': choose one of {', '.join(MODEL_TYPES)}")
  paths = [os.fspath(p) for p in paths]
  for path in paths:
    _check_utf8(path)
  spm.set_random_generator_seed(seed)
  try:
    spm.SentencePieceTrainer.train(
        sentence_iterator=_lines(paths), model_prefix=os.fspath(model_prefix),
        vocab_size=vocab_size, model_type=model_type, character_coverage=character_coverage,
        input_sentence_size=max_sentences, shuffle_input_sentence=True,
        # s2s-jax adds <s>, </s> and <pad> itself; only the unknown piece is SentencePiece's.
        bos_id=-1, eos_id=-1, pad_id=-1, unk_id=0, unk_piece=UNK_SYMBOL,
        minloglevel=2)  # its progress lines go to stderr by the thousand
  except RuntimeError as e:
    raise DataError(f"SentencePiece could not train on {', '.join(paths)}: {e}") from None
  return f"{os.fspath(model_prefix)}.model"


def _lines(paths):
  for path in paths:
    yield from text.raw_lines(path)


def _check_utf8(path):
  """Reads the file through once, so that bad bytes are named before SentencePiece starts."""
  for _ in text.raw_lines(path):
    pass


class Subwords:
  """A trained model: raw text to pieces and back."""

  def __init__(self, path):
    self.path = os.fspath(path)
    try:
      with open(self.path, "rb") as f:
        serialized = f.read()
    except FileNotFoundError:
      raise DataError(f"SentencePiece model {self.path} does not exist") from None
    self._sp = spm.SentencePieceProcessor()
    try:
      self._sp.LoadFromSerializedProto(serialized)
    except RuntimeError:  # (its own message only says that parsing failed)
      raise DataError(f"SentencePiece model {self.path} is damaged: it does not parse as a "
                      "SentencePiece model") from None
    self.checksum = hashlib.sha256(serialized).hexdigest()

  def pieces(self) -> list[str]:
    """Every piece but <unk>, in the model's order: the tokens a vocabulary should hold."""
    return [self._sp.IdToPiece(i) for i in range(self._sp.GetPieceSize())
            if not self._sp.IsUnknown(i)]

  def encode(self, line: str, alpha: float = 0.0, nbest_size: int = -1) -> list[str]:
    """The pieces of one line of raw text. alpha > 0 samples a segmentation (subword
    regularisation, Kudo 2018; for BPE, BPE-dropout with probability alpha), for training only."""
    if alpha > 0.0:
      return self._sp.Encode(line, out_type=str, enable_sampling=True, alpha=alpha,
                             nbest_size=nbest_size)
    return self._sp.Encode(line, out_type=str)

  def decode(self, pieces) -> str:
    """Raw text from pieces; <unk> pieces come back as SentencePiece's ' ⁇ '."""
    return self._sp.Decode(list(pieces))

  def encode_file(self, path) -> list[list[str]]:
    """The pieces of every line of a raw text file (UTF-8; DataError naming the line if not)."""
    return [self.encode(line) for line in text.raw_lines(path)]


def prepare(cfg, train_src, train_trg, output_dir):
  """Trains the models a SubwordConfig asks for on the training files and writes them as
  output_dir/subwords.{src,trg}.model (the same model twice when joint); returns (source model,
  target model) as Subwords."""
  os.makedirs(output_dir, exist_ok=True)
  paths = {SRC_MODEL: [train_src], TRG_MODEL: [train_trg]}
  if cfg.joint:
    paths = {SRC_MODEL: [train_src, train_trg]}
  for name, files in paths.items():
    prefix = os.path.join(output_dir, name.removesuffix(".model") + ".tmp")
    trained = train(files, prefix, cfg.vocab_size, cfg.model_type, cfg.max_sentences,
                    cfg.character_coverage)
    os.replace(trained, os.path.join(output_dir, name))  # whole or absent, never half-written
    os.remove(prefix + ".vocab")  # (the vocabulary JSON lists the pieces)
  if cfg.joint:
    shutil.copyfile(os.path.join(output_dir, SRC_MODEL), os.path.join(output_dir, TRG_MODEL + ".tmp"))
    os.replace(os.path.join(output_dir, TRG_MODEL + ".tmp"), os.path.join(output_dir, TRG_MODEL))
  return (Subwords(os.path.join(output_dir, SRC_MODEL)),
          Subwords(os.path.join(output_dir, TRG_MODEL)))


def copy_models(from_dir, to_dir):
  """Copies the SentencePiece models kept beside a vocabulary (none for word vocabularies), each
  written whole (a temporary file renamed)."""
  for name in (SRC_MODEL, TRG_MODEL):
    source, target = os.path.join(from_dir, name), os.path.join(to_dir, name)
    if os.path.exists(source) and os.path.abspath(source) != os.path.abspath(target):
      shutil.copyfile(source, target + ".tmp")
      os.replace(target + ".tmp", target)


def load_models(model_dir, src_vocab, trg_vocab):
  """(source model, target model) a model directory carries, or None for a model of words.
  DataError if only one is there, or if a model and its vocabulary disagree."""
  paths = [os.path.join(model_dir, name) for name in (SRC_MODEL, TRG_MODEL)]
  present = [os.path.exists(p) for p in paths]
  if not any(present):
    return None
  if not all(present):
    missing = paths[present.index(False)]
    raise DataError(f"{missing} is missing: a model with subwords carries both "
                    f"{SRC_MODEL} and {TRG_MODEL}")
  models = tuple(Subwords(p) for p in paths)
  for model, vocab, side in zip(models, (src_vocab, trg_vocab), ("source", "target")):
    pieces = model.pieces()
    stray = next((piece for piece in pieces if piece not in vocab), None)
    if stray is not None or len(vocab) != len(pieces) + len(SPECIAL_SYMBOLS):
      what = (f"its piece {stray!r} is not in the vocabulary" if stray is not None else
              f"{len(pieces)} pieces against {len(vocab) - len(SPECIAL_SYMBOLS)} tokens")
      raise DataError(f"SentencePiece model {model.path} and the {side} vocabulary of "
                      f"{model_dir} disagree: {what}")
  return models
