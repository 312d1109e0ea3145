"""Text -> .rec + vocabularies (spec §2.5), text reading, synthetic tasks."""

import gzip
import itertools
import json
import os
import pathlib
import random
import subprocess
import sys

import pytest

from s2s_jax.bin import preprocess as preprocess_program
from s2s_jax.data import preprocessing as preprocess
from s2s_jax.data import recordio
from s2s_jax.data import synthetic
from s2s_jax.data import text
from s2s_jax.data import vocab as vocab_lib
from s2s_jax.errors import ConfigError

REPO = pathlib.Path(__file__).resolve().parents[1]
MULTI30K = pathlib.Path(__file__).resolve().parents[2] / "shared/data/multi30k"


def _write(path, lines):
  path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
  return str(path)


@pytest.fixture
def corpus(tmp_path):
  d = tmp_path / "text"
  d.mkdir()
  return dict(
      train_src=_write(d / "train.en", [
          "the cat sat", "the  dog", "", "a cat", "the end  "]),
      train_trg=_write(d / "train.de", [
          "die katze", "der hund", "leer", "", "das ende"]),
      val_src=_write(d / "val.en", ["the bird", "cat"]),
      val_trg=_write(d / "val.de", ["der vogel", "katze"]),
  )


def _read(out, name, vocab_src, vocab_trg):
  inv_src = vocab_lib.inverse(vocab_src)
  inv_trg = vocab_lib.inverse(vocab_trg)
  pairs = recordio.read_pairs(os.path.join(out, name), len(vocab_src),
                              len(vocab_trg))
  return [(" ".join(inv_src[i] for i in s), " ".join(inv_trg[i] for i in t))
          for s, t in pairs]


def test_preprocess_writes_records_in_line_order(corpus, tmp_path):
  out = tmp_path / "out"
  summary = preprocess.preprocess(**corpus, output_dir=out)
  assert summary["train_records"] == 3 and summary["train_skipped"] == 2
  assert summary["val_records"] == 2 and summary["val_skipped"] == 0
  assert sorted(os.listdir(out)) == [
      "train.rec", "val.rec", "vocab.src.json", "vocab.trg.json"]
  src = vocab_lib.load_vocab(out / "vocab.src.json")
  trg = vocab_lib.load_vocab(out / "vocab.trg.json", "target")
  # Source counts from the kept and the skipped lines alike: the=3, cat=2.
  assert src == {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, "the": 4,
                 "cat": 5, "sat": 6, "end": 7, "dog": 8, "a": 9}
  assert summary["source_vocab_size"] == 10
  assert summary["target_vocab_size"] == len(trg)
  assert _read(out, "train.rec", src, trg) == [
      ("the cat sat", "die katze"), ("the dog", "der hund"),
      ("the end", "das ende")]
  # Validation is encoded with the training vocabulary: "bird", "vogel" -> <unk>.
  assert _read(out, "val.rec", src, trg) == [
      ("the <unk>", "der <unk>"), ("cat", "katze")]


def test_no_bos_or_eos_is_added(corpus, tmp_path):
  preprocess.preprocess(**corpus, output_dir=tmp_path)
  pairs = recordio.read_pairs(tmp_path / "train.rec")
  assert pairs.source(0).tolist() == [4, 5, 6]
  assert not set(pairs.src_tokens.tolist()) & {0, 2, 3}


def test_single_vocab_uses_both_sides_and_source_limits(corpus, tmp_path):
  summary = preprocess.preprocess(
      **corpus, output_dir=tmp_path, single_vocab=True, num_words_source=3,
      num_words_target=1000, min_count_target=50)
  src = json.loads((tmp_path / "vocab.src.json").read_text("utf-8"))
  assert src == json.loads((tmp_path / "vocab.trg.json").read_text("utf-8"))
  # the=3, cat=2, then the top count-1 token in reverse order: "sat".
  assert list(src)[4:] == ["the", "cat", "sat"]
  assert summary["source_vocab_size"] == summary["target_vocab_size"] == 7


def test_existing_vocabularies_are_reused(corpus, tmp_path):
  given = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, "cat": 4}
  vocab_lib.save_vocab(given, tmp_path / "v.json")
  out = tmp_path / "out"
  summary = preprocess.preprocess(
      **corpus, output_dir=out, vocab_source_json=tmp_path / "v.json",
      vocab_target_json=tmp_path / "v.json")
  assert summary["source_vocab_size"] == 5
  assert vocab_lib.load_vocab(out / "vocab.trg.json") == given
  pairs = recordio.read_pairs(out / "train.rec", 5, 5)
  assert pairs.source(0).tolist() == [1, 4, 1]
  assert pairs.target(0).tolist() == [1, 1]


def test_reuse_needs_both_vocabularies(corpus, tmp_path):
  with pytest.raises(ConfigError, match="both"):
    preprocess.preprocess(**corpus, output_dir=tmp_path,
                          vocab_source_json=tmp_path / "v.json")


def test_cli_accepts_the_original_single_dash_flag(corpus, tmp_path, capsys):
  out = tmp_path / "cli"
  rc = preprocess_program.main([
      "-ts", corpus["train_src"], "-tt", corpus["train_trg"],
      "-vs", corpus["val_src"], "-vt", corpus["val_trg"], "-o", str(out),
      "-single-vocab", "--num-words-source", "2"])
  assert rc == 0
  printed = capsys.readouterr().out
  assert "train: 3 records written, 2 pairs skipped" in printed
  assert "6 source, 6 target" in printed
  assert (out / "vocab.src.json").read_bytes() == (
      out / "vocab.trg.json").read_bytes()


def test_cli_reports_data_errors_in_one_line(tmp_path):
  proc = subprocess.run(
      [sys.executable, "-m", "s2s_jax.bin.preprocess", "-ts",
       str(tmp_path / "missing.en"), "-tt", str(tmp_path / "missing.de"),
       "-o", str(tmp_path)], cwd=REPO, capture_output=True, text=True,
      timeout=60)
  assert proc.returncode == 2
  assert proc.stderr.strip() == f"error: {tmp_path / 'missing.en'} does not exist"


def test_read_token_lines_splits_on_any_whitespace(tmp_path):
  path = tmp_path / "t.en"
  path.write_bytes("a  b\tc \u00a0 d\r\n\n e \xff\n".encode("utf-8") + b"\xff\n")
  assert text.read_token_lines(path) == [
      ["a", "b", "c", "d"], [], ["e", "\xff"], ["\ufffd"]]
  gz = tmp_path / "t.en.gz"
  with gzip.open(gz, "wt", encoding="utf-8") as f:
    f.write("x  y\nz\n")
  assert text.read_token_lines(gz) == [["x", "y"], ["z"]]


def _sockeye_1_13_digits(line_count, line_length, sort_target, seed):
  """Sockeye 1.13 test/common.py generate_digits_file, returning lines."""
  random_gen = random.Random(seed)
  src, trg = [], []
  for _ in range(line_count):
    digits = [random_gen.choice("0123456789")
              for _ in range(random_gen.randint(1, line_length))]
    src.append(digits[:])
    if sort_target:
      digits.sort()
    trg.append(digits)
  return src, trg


@pytest.mark.parametrize("task", ["copy", "sort"])
def test_synthetic_matches_sockeye_digits(task):
  ours = synthetic.generate_task(task, 200, 10, seed=13)
  assert ours == _sockeye_1_13_digits(200, 10, task == "sort", seed=13)


def test_synthetic_tasks():
  src, trg = synthetic.generate_task("reverse", 300, 7, seed=5, num_symbols=14)
  assert all(t == s[::-1] for s, t in zip(src, trg))
  assert {len(s) for s in src} == set(range(1, 8))
  assert set(itertools.chain(*src)) == set(synthetic.symbols(14))
  assert synthetic.symbols(12)[9:] == ["9", "s10", "s11"]
  src, trg = synthetic.generate_task("sort", 50, 9, seed=5, num_symbols=12)
  order = {s: i for i, s in enumerate(synthetic.symbols(12))}
  assert all(t == sorted(s, key=order.get) for s, t in zip(src, trg))
  assert synthetic.generate_task("copy", 20, 5, 1) != synthetic.generate_task(
      "copy", 20, 5, 2)
  with pytest.raises(ConfigError, match="unknown synthetic task"):
    synthetic.generate_task("shuffle", 1, 1, 0)


def test_write_synthetic_is_idempotent(tmp_path):
  synthetic.write_synthetic(tmp_path, "copy", 40, 10, 6, seed=3)
  files = ["train.rec", "val.rec", "vocab.src.json", "vocab.trg.json"]
  stamps = {f: os.stat(tmp_path / f).st_mtime_ns for f in files}
  vocab = vocab_lib.load_vocab(tmp_path / "vocab.src.json")
  assert vocab == vocab_lib.load_vocab(tmp_path / "vocab.trg.json")
  train = recordio.read_pairs(tmp_path / "train.rec", len(vocab), len(vocab))
  val = recordio.read_pairs(tmp_path / "val.rec", len(vocab), len(vocab))
  assert (len(train), len(val)) == (40, 10)
  assert all((s == t).all() for s, t in train)
  assert train.source(0).tolist() != val.source(0).tolist()  # seed + 1.
  synthetic.write_synthetic(tmp_path, "copy", 40, 10, 6, seed=3)
  assert {f: os.stat(tmp_path / f).st_mtime_ns for f in files} == stamps
  synthetic.write_synthetic(tmp_path, "reverse", 40, 10, 6, seed=3)
  assert json.loads((tmp_path / "synthetic.json").read_text())["task"] == (
      "reverse")
  train = recordio.read_pairs(tmp_path / "train.rec")
  assert all(t.tolist() == s.tolist()[::-1] for s, t in train)


def test_multi30k_smoke(tmp_path):
  if not (MULTI30K / "train.en").exists():
    pytest.skip(f"{MULTI30K} is absent")
  files = {}
  for split in ("train", "val"):
    for lang in ("en", "de"):
      with open(MULTI30K / f"{split}.{lang}", encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in itertools.islice(f, 2000)]
      files[f"{split}.{lang}"] = _write(tmp_path / f"{split}.{lang}", lines)
  out = tmp_path / "out"
  summary = preprocess.preprocess(
      files["train.en"], files["train.de"], files["val.en"], files["val.de"],
      out)
  assert summary["train_records"] + summary["train_skipped"] == 2000
  assert summary["val_records"] + summary["val_skipped"] == 1014
  assert summary["train_records"] > 1990
  src = vocab_lib.load_vocab(out / "vocab.src.json")
  assert "" not in src and all(t == t.strip() and t for t in src)
  trg = vocab_lib.load_vocab(out / "vocab.trg.json", "target")
  pairs = recordio.read_pairs(out / "train.rec", len(src), len(trg))
  inv = vocab_lib.inverse(src)
  first = text.read_token_lines(files["train.en"])[0]
  assert [inv[i] for i in pairs.source(0)] == first
