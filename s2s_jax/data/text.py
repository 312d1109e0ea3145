"""Tokenized text files: one sentence a line, tokens separated by whitespace."""

import gzip
import os

from s2s_jax.errors import DataError


def read_token_lines(path) -> list[list[str]]:
  """Token lists, one per line; `.gz` files are decompressed.

  Decoded as UTF-8 with errors='replace' and split on any run of whitespace,
  as create_vocab_proto.py does, so a double space never yields an empty token.
  """
  path = os.fspath(path)
  opener = gzip.open if path.endswith(".gz") else open
  try:
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
      lines = [line.split() for line in f]
  except FileNotFoundError:
    raise DataError(f"{path} does not exist") from None
  except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError.
    raise DataError(f"{path} cannot be read: {e}") from None
  if not lines:
    raise DataError(f"{path} is empty")
  return lines


def raw_lines(path):
  """The lines of a raw text file, UTF-8, as a stream (DataError naming the line where it is not)."""
  path = os.fspath(path)
  try:
    f = open(path, "rb")
  except FileNotFoundError:
    raise DataError(f"{path} does not exist") from None
  with f:
    for number, line in enumerate(f, start=1):
      try:
        yield line.decode("utf-8").rstrip("\r\n")
      except UnicodeDecodeError as e:
        raise DataError(f"{path}, line {number}: not UTF-8 text ({e.reason} at byte "
                        f"{e.start})") from None


def read_raw_lines(path) -> list[str]:
  return list(raw_lines(path))
