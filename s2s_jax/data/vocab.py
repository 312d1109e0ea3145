"""Vocabularies: vocab.src.json / vocab.trg.json, token -> id (spec §2.4).

Same rules as SageMaker's create_vocab_proto.py and Sockeye 1.x vocab.py, so a
vocabulary built here is interchangeable with one built there.
"""

import collections
import itertools
import json
import os
from typing import Iterable, Mapping, Sequence

from s2s_jax.errors import DataError

PAD_SYMBOL = "<pad>"
UNK_SYMBOL = "<unk>"
BOS_SYMBOL = "<s>"
EOS_SYMBOL = "</s>"
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
SPECIAL_SYMBOLS = [PAD_SYMBOL, UNK_SYMBOL, BOS_SYMBOL, EOS_SYMBOL]


def build_vocab(token_lists: Iterable[Sequence[str]],
                num_words: int | None = None,
                min_count: int = 1) -> dict[str, int]:
  """Counts tokens and assigns ids 4, 5, ... by descending count.

  Ties go in reverse lexicographic order (the reference sorts (count, token)
  tuples with reverse=True). min_count is applied before the num_words cap, which
  counts regular tokens only; None or 0 means no cap.
  """
  counts = collections.Counter(itertools.chain.from_iterable(token_lists))
  for symbol in SPECIAL_SYMBOLS:
    counts.pop(symbol, None)
  ranked = sorted(((c, w) for w, c in counts.items() if c >= min_count),
                  reverse=True)
  if num_words:
    ranked = ranked[:num_words]
  vocab = {s: i for i, s in enumerate(SPECIAL_SYMBOLS)}
  for i, (_, word) in enumerate(ranked, start=len(SPECIAL_SYMBOLS)):
    vocab[word] = i
  return vocab


def vocab_from_pieces(pieces: Iterable[str]) -> dict[str, int]:
  """The special symbols, then the pieces of a subword model in its own order (the model ranks
  them already; no count or cap applies)."""
  vocab = {s: i for i, s in enumerate(SPECIAL_SYMBOLS)}
  for piece in pieces:
    vocab.setdefault(piece, len(vocab))
  return vocab


def _check_vocab(vocab, path, side):
  where = f"{side} vocabulary {path}"
  if not isinstance(vocab, dict):
    raise DataError(f"{where} must be a JSON object of token -> id, found a "
                    f"{type(vocab).__name__}")
  for token, i in vocab.items():
    if type(i) is not int:  # Also rejects true/false, which are ints in Python.
      raise DataError(f"{where}: id of token {token!r} must be an integer, "
                      f"found {json.dumps(i)}")
  for want, symbol in enumerate(SPECIAL_SYMBOLS):
    if symbol not in vocab:
      raise DataError(f"{where} lacks the special symbol {symbol}")
    if vocab[symbol] != want:
      raise DataError(f"{where}: {symbol} must have id {want}, found "
                      f"{vocab[symbol]}")
  ids = sorted(vocab.values())
  if ids != list(range(len(ids))):
    seen = set()
    dup = next((i for i in ids if i in seen or seen.add(i)), None)
    if dup is not None:
      tokens = [t for t, i in vocab.items() if i == dup]
      raise DataError(f"{where}: id {dup} is used by several tokens: "
                      f"{tokens[:3]}")
    gap = next(i for i, j in enumerate(ids) if i != j)
    raise DataError(f"{where}: ids must be exactly 0..{len(ids) - 1}, but id "
                    f"{gap} is missing")


def load_vocab(path, side: str = "source") -> dict[str, int]:
  """Loads and validates a vocabulary JSON file; `side` names it in errors."""
  path = os.fspath(path)
  try:
    with open(path, encoding="utf-8") as f:
      vocab = json.load(f)
  except FileNotFoundError:
    raise DataError(f"{side} vocabulary {path} does not exist") from None
  except UnicodeDecodeError as e:
    raise DataError(f"{side} vocabulary {path} is not UTF-8 text: {e}") from None
  except json.JSONDecodeError as e:
    raise DataError(f"{side} vocabulary {path} is not valid JSON: {e}") from None
  except OSError as e:
    raise DataError(f"{side} vocabulary {path} cannot be read: "
                    f"{e.strerror or e}") from None
  _check_vocab(vocab, path, side)
  return vocab


def save_vocab(vocab: Mapping[str, int], path) -> None:
  """Writes the vocabulary as the reference does, atomically (tmp + rename)."""
  path = os.fspath(path)
  tmp = path + ".tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    json.dump(dict(vocab), f, indent=4, ensure_ascii=False)
  os.replace(tmp, path)


def ids_from_tokens(tokens: Iterable[str], vocab: Mapping[str, int]
                    ) -> list[int]:
  """Token ids; unknown tokens map to UNK_ID. No BOS/EOS is added."""
  get = vocab.get
  return [get(t, UNK_ID) for t in tokens]


def inverse(vocab: Mapping[str, int]) -> list[str]:
  """id -> token, as a list indexed by id."""
  inv = [""] * len(vocab)
  for token, i in vocab.items():
    inv[i] = token
  return inv


def tokens_from_ids(ids: Iterable[int], inv: Sequence[str]) -> list[str]:
  """Tokens up to the first EOS, without PAD and BOS (Sockeye's _make_result)."""
  out = []
  for i in ids:
    i = int(i)
    if i == EOS_ID:
      break
    if i not in (PAD_ID, BOS_ID):
      out.append(inv[i] if 0 <= i < len(inv) else UNK_SYMBOL)
  return out
