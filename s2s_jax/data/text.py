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
