"""Synthetic copy / sort / reverse tasks for tests and smoke runs (spec §5.11).

Lines are drawn as Sockeye 1.13's test/common.py generate_digits_file draws them:
per line, random.Random(seed).randint(1, max_len) symbols, each a .choice() of
the symbols. With num_symbols=10 the symbols are "0".."9", so copy and sort data
equal Sockeye's for the same seed. Symbols 10 and up are spelled "s10", "s11",
...; "sort" orders by symbol number, not by string.
"""

import json
import os
import random

from s2s_jax.data import preprocessing as preprocess
from s2s_jax.errors import ConfigError

TASKS = ("copy", "sort", "reverse")
MARKER = "synthetic.json"
_OUTPUTS = (preprocess.TRAIN_REC, preprocess.VAL_REC, preprocess.VOCAB_SRC,
            preprocess.VOCAB_TRG)


def symbols(num_symbols: int) -> list[str]:
  return [str(i) if i < 10 else f"s{i}" for i in range(num_symbols)]


def generate_task(task: str, num_examples: int, max_len: int, seed: int,
                  num_symbols: int = 10
                  ) -> tuple[list[list[str]], list[list[str]]]:
  """(source token lists, target token lists) for one of TASKS."""
  if task not in TASKS:
    raise ConfigError(f"unknown synthetic task {task!r}; known: "
                      f"{', '.join(TASKS)}")
  if max_len < 1 or num_symbols < 1:
    raise ConfigError("synthetic data needs max_len >= 1 and num_symbols >= 1")
  rng = random.Random(seed)
  names = symbols(num_symbols)
  # choice() over a range draws exactly as choice() over Sockeye's "0123456789".
  ids_range = range(num_symbols)
  src, trg = [], []
  for _ in range(num_examples):
    ids = [rng.choice(ids_range) for _ in range(rng.randint(1, max_len))]
    out = {"copy": ids, "sort": sorted(ids), "reverse": ids[::-1]}[task]
    src.append([names[i] for i in ids])
    trg.append([names[i] for i in out])
  return src, trg


def write_synthetic(output_dir, task: str, num_train: int, num_val: int,
                    max_len: int, seed: int, num_symbols: int = 10) -> None:
  """train.rec, val.rec and one shared vocabulary (as both vocab files).

  Validation data uses seed + 1. Does nothing when output_dir already holds the
  files together with a synthetic.json marker for the same parameters.
  """
  params = dict(task=task, num_train=num_train, num_val=num_val,
                max_len=max_len, seed=seed, num_symbols=num_symbols)
  output_dir = os.fspath(output_dir)
  marker = os.path.join(output_dir, MARKER)
  if _is_current(output_dir, marker, params):
    return
  train_src, train_trg = generate_task(task, num_train, max_len, seed,
                                       num_symbols)
  val_src, val_trg = generate_task(task, num_val, max_len, seed + 1,
                                   num_symbols)
  preprocess.preprocess_tokens(
      train_src, train_trg, output_dir, val_src=val_src, val_trg=val_trg,
      single_vocab=True, num_words_source=None, num_words_target=None)
  # The marker goes last, so an interrupted run is redone, not trusted.
  tmp = marker + ".tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    json.dump(params, f, indent=2, sort_keys=True)
  os.replace(tmp, marker)


def _is_current(output_dir, marker, params) -> bool:
  if not all(os.path.isfile(os.path.join(output_dir, n)) for n in _OUTPUTS):
    return False
  try:
    with open(marker, encoding="utf-8") as f:
      return json.load(f) == params
  except (OSError, ValueError):
    return False
