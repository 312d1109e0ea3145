"""Channel locations: every missing or empty train/validation/vocab location ends in one clear line."""

import dataclasses
import json

import pytest

from s2s_jax.config import DataConfig, RecConfig
from s2s_jax.data import recordio, sources
from s2s_jax.data import vocab as vocab_lib
from s2s_jax.errors import ConfigError, DataError

VOCAB = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, "a": 4, "b": 5}


@pytest.fixture
def channels(tmp_path):
  for name in ("train", "validation", "vocab"):
    (tmp_path / name).mkdir()
  recordio.write_pairs(tmp_path / "train" / "train.rec", [([4, 5], [5]), ([5], [4, 4])])
  recordio.write_pairs(tmp_path / "validation" / "val.rec", [([4], [5])])
  vocab_lib.save_vocab(VOCAB, tmp_path / "vocab" / "vocab.src.json")
  vocab_lib.save_vocab(VOCAB, tmp_path / "vocab" / "vocab.trg.json")
  return tmp_path


def _cfg(root, **paths):
  rec = RecConfig(**{k: str(root / k) for k in ("train", "validation", "vocab")} | paths)
  return dataclasses.replace(DataConfig(), source="rec", rec=rec)


def test_good_channels_load(channels):
  corpus = sources.load_corpus(_cfg(channels), str(channels / "run"), 0)
  assert len(corpus.train) == 2 and len(corpus.validation) == 1 and len(corpus.src_vocab) == 6


@pytest.mark.parametrize("channel,match", [
    ("train", "train channel: .*/nowhere does not exist"),
    ("validation", "validation channel: .*/nowhere does not exist"),
    ("vocab", "vocab channel: .*/nowhere is not a directory"),
])
def test_missing_channel(channels, channel, match):
  with pytest.raises(DataError, match=match):
    sources.load_corpus(_cfg(channels, **{channel: str(channels / "nowhere")}), str(channels), 0)


def test_empty_channel_directory(channels):
  (channels / "empty").mkdir()
  with pytest.raises(DataError, match="train channel: directory .*/empty has no data files"):
    sources.load_corpus(_cfg(channels, train=str(channels / "empty")), str(channels), 0)


def test_empty_rec_file(channels):
  (channels / "validation" / "val.rec").write_bytes(b"")
  with pytest.raises(DataError, match="val.rec"):
    sources.load_corpus(_cfg(channels), str(channels), 0)


def test_vocab_channel_without_target_vocab(channels):
  (channels / "vocab" / "vocab.trg.json").unlink()
  with pytest.raises(DataError, match="vocab.trg.json"):
    sources.load_corpus(_cfg(channels), str(channels), 0)


def test_vocab_without_special_symbols(channels):
  (channels / "vocab" / "vocab.src.json").write_text(json.dumps({"a": 0, "b": 1}))
  with pytest.raises(DataError, match="<pad>"):
    sources.load_corpus(_cfg(channels), str(channels), 0)


def test_token_ids_outside_the_vocabulary(channels):
  recordio.write_pairs(channels / "train" / "train.rec", [([4, 99], [5])])
  with pytest.raises(DataError, match="record 0: source token id 99 is outside the source vocabulary"):
    sources.load_corpus(_cfg(channels), str(channels), 0)


def test_rec_source_needs_every_location(channels):
  with pytest.raises(ConfigError, match="config.data.rec.vocab is empty"):
    sources.load_corpus(_cfg(channels, vocab=""), str(channels), 0)
