"""RecordIO framing, the Record encoding, TokenPairs and the .rec reader/writer."""

import logging
import os
import struct

import numpy as np
import pytest

from s2s_jax.data import record_schema
from s2s_jax.data import recordio

# Spec §2.3: source=[5, 6, 7], target=[8, 9] as a framed record.
SPEC_HEADER = bytes.fromhex("0a23d7ce 25000000")
SPEC_SOURCE_ENTRY = bytes.fromhex("0a11 0a06") + b"source" + bytes.fromhex(
    "1207 3a05 0a03 050607")
SPEC_TARGET_ENTRY = bytes.fromhex("0a10 0a06") + b"target" + bytes.fromhex(
    "1206 3a04 0a02 0809")


def test_frame_matches_spec_byte_example():
  framed = recordio.frame(recordio.encode_pair([5, 6, 7], [8, 9]))
  assert len(framed) == 48  # 8 header + 37 payload + 3 pad.
  assert framed[:8] == SPEC_HEADER
  assert framed[-3:] == b"\0\0\0"
  payload = framed[8:45]
  # Map entry order is not guaranteed by protobuf; each entry's bytes are.
  assert payload in (SPEC_SOURCE_ENTRY + SPEC_TARGET_ENTRY,
                     SPEC_TARGET_ENTRY + SPEC_SOURCE_ENTRY)
  record = record_schema.Record.FromString(payload)
  assert list(record.features["source"].int32_tensor.values) == [5, 6, 7]
  assert list(record.features["target"].int32_tensor.values) == [8, 9]


@pytest.mark.parametrize("n", range(9))
def test_frame_pads_to_multiple_of_four(n):
  framed = recordio.frame(b"\x07" * n)
  magic, length = struct.unpack_from("<II", framed)
  assert (magic, length) == (recordio.MAGIC, n)
  assert len(framed) % 4 == 0 and len(framed) - 8 - n < 4
  assert framed[8 + n:] == b"\0" * (len(framed) - 8 - n)


def test_iter_payloads_accepts_bytes_and_paths(tmp_path):
  data = b"".join(recordio.frame(p) for p in (b"", b"abc", b"abcdefgh"))
  path = tmp_path / "x.rec"
  path.write_bytes(data)
  expected = [(0, b""), (1, b"abc"), (2, b"abcdefgh")]
  assert list(recordio.iter_payloads(data)) == expected
  assert list(recordio.iter_payloads(str(path))) == expected
  assert list(recordio.iter_payloads(path)) == expected


def test_last_record_without_padding_is_accepted():
  data = recordio.frame(b"abcd") + recordio.frame(b"xyz")[:-1]
  assert [p for _, p in recordio.iter_payloads(data)] == [b"abcd", b"xyz"]


def test_write_then_read_round_trip(tmp_path):
  src = [[4, 5, 6], [7], np.array([8, 9], np.int32)]
  trg = [[10, 11], [12, 13, 14, 15], [2**31 - 1]]
  path = tmp_path / "train.rec"
  assert recordio.write_pairs(path, zip(src, trg)) == 3
  assert sorted(os.listdir(tmp_path)) == ["train.rec"]
  pairs = recordio.read_pairs(path)
  assert len(pairs) == 3
  assert pairs.src_tokens.dtype == np.int32
  assert pairs.src_offsets.dtype == np.int64
  assert pairs.src_lengths().tolist() == [3, 1, 2]
  assert pairs.trg_lengths().tolist() == [2, 4, 1]
  for i in range(3):
    assert pairs.source(i).tolist() == list(src[i])
    assert pairs.target(i).tolist() == list(trg[i])
  # A TokenPairs is itself a pairs iterable: writing it back is lossless.
  again = tmp_path / "again.rec"
  recordio.write_pairs(again, pairs)
  assert again.read_bytes() == path.read_bytes()


def test_failed_write_leaves_nothing_under_the_real_name(tmp_path):
  path = tmp_path / "train.rec"

  def pairs():
    yield [4], [5]
    raise RuntimeError("interrupted")

  with pytest.raises(RuntimeError):
    recordio.write_pairs(path, pairs())
  assert os.listdir(tmp_path) == []


def test_from_lists_and_concatenate():
  a = recordio.TokenPairs.from_lists([[1, 2], [3]], [[4], [5, 6, 7]])
  b = recordio.TokenPairs.from_lists([[8]], [[9, 10]])
  c = recordio.TokenPairs.concatenate([a, b])
  assert len(c) == 3
  assert [c.source(i).tolist() for i in range(3)] == [[1, 2], [3], [8]]
  assert [c.target(i).tolist() for i in range(3)] == [[4], [5, 6, 7], [9, 10]]
  assert c.src_offsets.tolist() == [0, 2, 3, 4]
  assert c.trg_offsets.tolist() == [0, 1, 4, 6]
  # Slices of another corpus (numpy arrays) work as well as lists.
  d = recordio.TokenPairs.from_lists([c.source(2), c.source(0)[:0]],
                                     [c.target(1), c.target(0)])
  assert d.src_tokens.dtype == np.int32 and d.src_offsets.dtype == np.int64
  assert d.src_offsets.tolist() == [0, 1, 1]
  assert d.trg_tokens.tolist() == [5, 6, 7, 4]


def test_read_pairs_many_concatenates_files_in_order(tmp_path):
  recordio.write_pairs(tmp_path / "a.rec", [([4], [5]), ([6, 7], [8])])
  recordio.write_pairs(tmp_path / "b.rec", [([9], [10, 11])])
  files = recordio.resolve_rec_files(tmp_path, "train")
  pairs = recordio.read_pairs_many(files, 12, 12)
  assert [p.tolist() for p, _ in pairs] == [[4], [6, 7], [9]]
  assert [t.tolist() for _, t in pairs] == [[5], [8], [10, 11]]


def test_empty_pairs_are_skipped_and_counted(tmp_path, caplog):
  path = tmp_path / "train.rec"
  recordio.write_pairs(path, [([4], [5]), ([], [6]), ([7], []), ([8], [9])])
  with caplog.at_level(logging.WARNING):
    pairs = recordio.read_pairs(path)
  assert [s.tolist() for s, _ in pairs] == [[4], [8]]
  assert "skipped 2 of 4 records" in caplog.text and str(path) in caplog.text


def test_inference_mode_keeps_every_record_and_accepts_missing_target():
  no_target = record_schema.Record()
  no_target.features["source"].int32_tensor.values.extend([4, 5])
  unset_target = record_schema.Record()  # Target entry present, no tensor set.
  unset_target.features["source"].int32_tensor.values.extend([6])
  unset_target.features["target"].Clear()
  data = b"".join([
      recordio.frame(recordio.encode_pair([7, 8], [])),
      recordio.frame(no_target.SerializeToString()),
      recordio.frame(unset_target.SerializeToString()),
      recordio.frame(recordio.encode_pair([], [])),
  ])
  pairs = recordio.read_pairs(data, 10, 10, allow_empty_target=True)
  assert [s.tolist() for s, _ in pairs] == [[7, 8], [4, 5], [6], []]
  assert pairs.trg_lengths().tolist() == [0, 0, 0, 0]


def test_resolve_rec_files(tmp_path):
  single = tmp_path / "one.rec"
  single.write_bytes(b"")
  assert recordio.resolve_rec_files(single, "train") == [str(single)]
  d = tmp_path / "channel"
  d.mkdir()
  for name in ["b.rec", "a.rec", "notes.txt", ".hidden.rec"]:
    (d / name).write_bytes(b"")
  (d / "sub.rec").mkdir()
  assert recordio.resolve_rec_files(d, "train") == [
      str(d / "a.rec"), str(d / "b.rec")]
  e = tmp_path / "no_ext"
  e.mkdir()
  for name in ["part-1", "part-0", ".manifest"]:
    (e / name).write_bytes(b"")
  assert recordio.resolve_rec_files(e, "validation") == [
      str(e / "part-0"), str(e / "part-1")]
