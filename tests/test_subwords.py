"""SentencePiece subwords (s2s_jax/data/subwords.py): training from a bounded sample, raw text to
pieces and back, sampling, and the bad inputs a user can give."""

import pytest

from s2s_jax.data import subwords
from s2s_jax.data.vocab import SPECIAL_SYMBOLS, UNK_SYMBOL
from s2s_jax.errors import ConfigError, DataError

WORDS = ("a man in a blue shirt is riding a bike down the street while two dogs run beside "
         "him , and a woman with a red umbrella watches from the corner café").split()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
  folder = tmp_path_factory.mktemp("raw")
  lines = [" ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(4 + i % 9)).capitalize()
           + "." for i in range(400)]
  path = folder / "train.en"
  path.write_text("\n".join(lines) + "\n", encoding="utf-8")
  return path, lines


@pytest.fixture(scope="module", params=subwords.MODEL_TYPES)
def model(corpus, tmp_path_factory, request):
  prefix = tmp_path_factory.mktemp(request.param) / "spm"
  return subwords.Subwords(subwords.train([corpus[0]], prefix, vocab_size=80,
                                          model_type=request.param))


def test_raw_text_round_trips_through_pieces_with_no_special_symbol_among_them(model, corpus):
  _, lines = corpus
  for line in lines[:50]:
    pieces = model.encode(line)
    assert len(pieces) > len(line.split())  # subwords, not words, at 80 pieces
    assert model.decode(pieces) == line
  pieces = model.pieces()
  assert len(pieces) == 79 and UNK_SYMBOL not in pieces
  assert not set(SPECIAL_SYMBOLS) & set(pieces)
  assert len(model.checksum) == 64


def test_sampling_varies_the_segmentation_but_not_the_text(model, corpus):
  line = " ".join(corpus[1][:10])  # long enough that 30 draws never all agree
  samples = {tuple(model.encode(line, alpha=0.2)) for _ in range(30)}
  assert len(samples) > 1
  assert {model.decode(s) for s in samples} == {line}
  assert model.encode(line) == model.encode(line)  # alpha 0: deterministic


def test_training_keeps_a_bounded_sample(corpus, tmp_path):
  # 150 sampled lines of 400 still train a model (memory bounded by the sample, not the corpus;
  # SentencePiece wants more than 100).
  path = subwords.train([corpus[0]], tmp_path / "small", vocab_size=40, max_sentences=150)
  assert subwords.Subwords(path).decode(subwords.Subwords(path).encode("a man")) == "a man"


def test_a_missing_or_damaged_model_file_is_named(tmp_path):
  with pytest.raises(DataError, match=r"SentencePiece model .*nope.model does not exist"):
    subwords.Subwords(tmp_path / "nope.model")
  damaged = tmp_path / "damaged.model"
  damaged.write_bytes(b"\x08\x96\x01 not a model")
  with pytest.raises(DataError, match=r"damaged.model is damaged"):
    subwords.Subwords(damaged)


def test_non_utf8_training_text_is_named_with_its_line(tmp_path):
  path = tmp_path / "latin1.de"
  path.write_bytes("gut\nsch\xf6n\n".encode("latin-1"))
  with pytest.raises(DataError, match=r"latin1.de, line 2: not UTF-8 text"):
    subwords.train([path], tmp_path / "m", vocab_size=40)


def test_a_vocabulary_larger_than_the_text_allows_says_so(corpus, tmp_path):
  with pytest.raises(DataError, match=r"SentencePiece could not train on .*train.en: .*"):
    subwords.train([corpus[0]], tmp_path / "big", vocab_size=5000)


@pytest.mark.parametrize("joint", [True, False])
def test_the_text_source_segments_raw_text_with_models_kept_in_the_workdir(corpus, tmp_path, joint):
  import dataclasses
  import json

  from s2s_jax.config import DataConfig, SubwordConfig, TextConfig
  from s2s_jax.data import sources

  raw = tmp_path / "raw"
  raw.mkdir()
  lines = corpus[1]
  german = [line.replace("man", "Mann").replace("dog", "Hund") for line in lines]
  for split, count in (("train", 300), ("val", 50)):
    (raw / f"{split}.en").write_text("\n".join(lines[:count]) + "\n", encoding="utf-8")
    (raw / f"{split}.de").write_text("\n".join(german[:count]) + "\n", encoding="utf-8")
  cfg = dataclasses.replace(
      DataConfig(), source="text", text=TextConfig(dir=str(raw)),
      subwords=SubwordConfig(model_type="bpe", vocab_size=70, joint=joint))
  corpus_ = sources.load_corpus(cfg, str(tmp_path / "run"), 0)
  data = tmp_path / "run" / "data"
  src_model = subwords.Subwords(data / subwords.SRC_MODEL)
  trg_model = subwords.Subwords(data / subwords.TRG_MODEL)
  assert (src_model.checksum == trg_model.checksum) == joint
  assert list(corpus_.src_vocab) == SPECIAL_SYMBOLS + src_model.pieces()
  assert list(corpus_.trg_vocab) == SPECIAL_SYMBOLS + trg_model.pieces()
  assert len(corpus_.train) == 300 and len(corpus_.validation) == 50
  # The first pair's ids are its pieces'.
  words = {i: t for t, i in corpus_.trg_vocab.items()}
  _, trg_ids = next(iter(corpus_.train))
  assert trg_model.decode([words[int(i)] for i in trg_ids]) == german[0]
  stamp = json.loads((data / sources.TEXT_MARKER).read_text())
  assert stamp["subwords"]["model_type"] == "bpe" and stamp["subwords"]["joint"] == joint
  assert not list(data.glob("*.tmp*")) and not list(data.glob("*.vocab"))


@pytest.mark.parametrize("key,value,match", [
    ("model_type", "wordpiece", r"config.data.subwords.model_type='wordpiece' is not allowed; "
                                r"choose one of: , unigram, bpe"),
    ("vocab_size", 4, r"config.data.subwords.vocab_size must be at least 8, got 4"),
    ("max_sentences", 50, r"config.data.subwords.max_sentences must be over 100, got 50"),
    ("character_coverage", 0.5, r"config.data.subwords.character_coverage must be in \[0.9, 1\]"),
])
def test_bad_subword_settings_name_their_key(key, value, match):
  from s2s_jax import config as config_lib
  cd = config_lib.default_configdict()
  cd.data.subwords[key] = value
  with pytest.raises(ConfigError, match=match):
    config_lib.from_configdict(cd)
