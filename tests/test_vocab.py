"""Vocabulary rules of spec §2.4, JSON files, ids <-> tokens."""

import json

from s2s_jax.data import vocab as vocab_lib

SPECIALS = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3}


def test_special_symbols_and_ids():
  assert vocab_lib.SPECIAL_SYMBOLS == ["<pad>", "<unk>", "<s>", "</s>"]
  assert [vocab_lib.PAD_ID, vocab_lib.UNK_ID, vocab_lib.BOS_ID,
          vocab_lib.EOS_ID] == [0, 1, 2, 3]


def test_descending_count_ties_reverse_lexicographic():
  lines = [["b", "a", "c", "a"], ["c", "d", "a"], ["B", "e"]]
  # Counts: a=3, c=2, then b, d, e, B once each: "e" > "d" > "b" > "B".
  assert vocab_lib.build_vocab(lines) == {
      **SPECIALS, "a": 4, "c": 5, "e": 6, "d": 7, "b": 8, "B": 9}


def test_min_count_is_applied_before_the_num_words_cap():
  lines = [["x"] * 5 + ["y"] * 3 + ["z"] * 3 + ["w"]]
  assert vocab_lib.build_vocab(lines, min_count=3) == {
      **SPECIALS, "x": 4, "z": 5, "y": 6}
  assert vocab_lib.build_vocab(lines, num_words=2, min_count=2) == {
      **SPECIALS, "x": 4, "z": 5}
  # The cap counts regular tokens only; None and 0 mean no cap.
  assert len(vocab_lib.build_vocab(lines, num_words=1)) == 5
  assert len(vocab_lib.build_vocab(lines, num_words=None)) == 8
  assert len(vocab_lib.build_vocab(lines, num_words=0)) == 8


def test_special_symbols_in_text_are_not_counted():
  lines = [["<unk>", "<unk>", "<pad>", "</s>", "<s>", "x"]]
  assert vocab_lib.build_vocab(lines, num_words=1) == {**SPECIALS, "x": 4}


def test_save_and_load_round_trip(tmp_path):
  vocab = vocab_lib.build_vocab([["über", "ß", "a", "a"]])
  path = tmp_path / "vocab.src.json"
  vocab_lib.save_vocab(vocab, path)
  text = path.read_text(encoding="utf-8")
  assert "über" in text  # ensure_ascii=False, as the reference writes it.
  assert text.startswith('{\n    "<pad>": 0,')  # indent=4.
  assert json.loads(text) == vocab
  assert vocab_lib.load_vocab(path) == vocab
  assert [p.name for p in tmp_path.iterdir()] == ["vocab.src.json"]


def test_ids_from_tokens_maps_oov_to_unk():
  vocab = {**SPECIALS, "a": 4, "b": 5}
  assert vocab_lib.ids_from_tokens(["a", "zzz", "b", "<s>"], vocab) == [
      4, 1, 5, 2]


def test_tokens_from_ids_stops_at_eos_and_drops_pad_and_bos():
  vocab = {**SPECIALS, "a": 4, "b": 5}
  inv = vocab_lib.inverse(vocab)
  assert inv == ["<pad>", "<unk>", "<s>", "</s>", "a", "b"]
  assert vocab_lib.tokens_from_ids([2, 4, 0, 1, 5, 3, 4, 4], inv) == [
      "a", "<unk>", "b"]
  assert vocab_lib.tokens_from_ids([], inv) == []
