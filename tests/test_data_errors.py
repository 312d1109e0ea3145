"""Every bad input a user can hand us ends in one clear DataError line."""

import json
import re
import struct

import pytest

from s2s_jax.data import preprocessing as preprocess
from s2s_jax.data import record_schema
from s2s_jax.data import recordio
from s2s_jax.data import text
from s2s_jax.data import vocab as vocab_lib
from s2s_jax.errors import DataError, UserError

GOOD = recordio.frame(recordio.encode_pair([4, 5], [6]))  # 8 + 35 + 1 pad.


def _rec(tmp_path, data, name="bad.rec"):
  path = tmp_path / name
  path.write_bytes(data)
  return path


def _record(**features):
  record = record_schema.Record()
  for key, (kind, values) in features.items():
    getattr(record.features[key], kind).values.extend(values)
  return recordio.frame(record.SerializeToString())


def _raises(match, fn, *args, **kwargs):
  with pytest.raises(DataError, match=match) as info:
    fn(*args, **kwargs)
  assert "\n" not in str(info.value)
  # No protobuf/json/struct traceback is chained onto the message.
  assert info.value.__cause__ is None
  assert info.value.__context__ is None or info.value.__suppress_context__
  return str(info.value)


def test_data_error_is_a_user_error():
  assert issubclass(DataError, UserError)


def test_missing_and_empty_text_files(tmp_path):
  _raises(f"^{re.escape(str(tmp_path / 'no.en'))} does not exist$",
          text.read_token_lines, tmp_path / "no.en")
  (tmp_path / "empty.en").write_text("")
  _raises("empty.en is empty$", text.read_token_lines, tmp_path / "empty.en")
  (tmp_path / "bad.gz").write_bytes(b"not gzip")
  _raises("bad.gz cannot be read", text.read_token_lines, tmp_path / "bad.gz")


def test_missing_train_file_in_preprocess(tmp_path):
  (tmp_path / "t.de").write_text("a\n")
  _raises("t.en does not exist", preprocess.preprocess, tmp_path / "t.en",
          tmp_path / "t.de", output_dir=tmp_path)


def test_mismatched_line_counts_name_both_files(tmp_path):
  (tmp_path / "t.en").write_text("a\nb\nc\n")
  (tmp_path / "t.de").write_text("a\nb\n")
  msg = _raises("has 3 lines but", preprocess.preprocess, tmp_path / "t.en",
                tmp_path / "t.de", output_dir=tmp_path / "out")
  assert str(tmp_path / "t.en") in msg and str(tmp_path / "t.de") in msg
  assert "has 2" in msg
  assert not (tmp_path / "out").exists()


def test_all_pairs_empty(tmp_path):
  (tmp_path / "t.en").write_text("a\n\n")
  (tmp_path / "t.de").write_text("\nb\n")
  _raises("no training pairs left: all 2", preprocess.preprocess,
          tmp_path / "t.en", tmp_path / "t.de", output_dir=tmp_path)


@pytest.mark.parametrize("content, match", [
    ("{not json", r"is not valid JSON: Expecting property name"),
    ('["<pad>"]', r"must be a JSON object of token -> id, found a list"),
    ('{"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": "3"}',
     r"id of token '</s>' must be an integer, found \"3\""),
    ('{"<unk>": 1, "<s>": 2, "</s>": 3}', r"lacks the special symbol <pad>$"),
    ('{"<pad>": 5, "<unk>": 1, "<s>": 2, "</s>": 3}',
     r"<pad> must have id 0, found 5$"),
    ('{"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, "a": 5}',
     r"ids must be exactly 0..4, but id 4 is missing"),
    ('{"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, "a": 4, "b": 4}',
     r"id 4 is used by several tokens: \['a', 'b'\]"),
])
def test_bad_vocabularies(tmp_path, content, match):
  path = tmp_path / "vocab.trg.json"
  path.write_text(content, encoding="utf-8")
  msg = _raises(match, vocab_lib.load_vocab, path, "target")
  assert msg.startswith(f"target vocabulary {path}")


def test_missing_vocabulary(tmp_path):
  _raises("source vocabulary .*v.json does not exist", vocab_lib.load_vocab,
          tmp_path / "v.json")


def test_bad_magic(tmp_path):
  path = _rec(tmp_path, b"PK\x03\x04" + b"\0" * 12)
  _raises(rf"^{re.escape(str(path))}: bad magic number 0x04034B50 at byte "
          r"offset 0, record 0: not a RecordIO file$", recordio.read_pairs,
          path)
  _raises("bad magic number 0x00000000 at byte offset 44, record 1",
          recordio.read_pairs, _rec(tmp_path, GOOD + b"\0" * 8))


def test_truncated_last_record(tmp_path):
  data = GOOD + GOOD
  _raises(r"truncated record 1 at byte offset 44: expected 35 bytes, found 29$",
          recordio.read_pairs, _rec(tmp_path, data[:-7]))
  _raises(r"truncated record 1 at byte offset 44: expected 8 header bytes, "
          r"found 3$", recordio.read_pairs, _rec(tmp_path, GOOD + data[:3]))


def test_multi_part_record(tmp_path):
  header = struct.pack("<II", recordio.MAGIC, (1 << 29) | 4)
  _raises(r"record 1 at byte offset 44 is a multi-part record \(cflag=1\), "
          "which is not supported", recordio.read_pairs,
          _rec(tmp_path, GOOD + header + b"abcd"))


def test_payload_not_protobuf(tmp_path):
  path = _rec(tmp_path, GOOD + recordio.frame(b"\xff\xff\xff\xff"))
  _raises(r"record 1 is not a valid Record protobuf", recordio.read_pairs,
          path)


@pytest.mark.parametrize("features, match", [
    (dict(target=("int32_tensor", [4])),
     r"record 1 has no 'source' feature \(features: 'target'\)$"),
    (dict(source=("int32_tensor", [4]), values=("int32_tensor", [5])),
     r"record 1 has no 'target' feature \(features: 'source', 'values'\)$"),
    (dict(source=("float32_tensor", [4.0]), target=("int32_tensor", [5])),
     r"record 1: feature 'source' is a float32_tensor, expected an "
     r"int32_tensor of token ids$"),
    (dict(source=("int32_tensor", [4]), target=("float64_tensor", [5.0])),
     r"record 1: feature 'target' is a float64_tensor"),
])
def test_bad_features(tmp_path, features, match):
  path = _rec(tmp_path, GOOD + _record(**features))
  msg = _raises(match, recordio.read_pairs, path)
  assert msg.startswith(f"{path}: ")


def test_feature_name_not_utf8(tmp_path):
  payload = recordio.encode_pair([4], [5]).replace(b"source", b"sou\xffce")
  # upb keeps the name as bytes; the pure-python backend refuses to parse it.
  _raises(r"record 0 (has no 'source' feature \(features: 'target', "
          r"b'sou\\xffce'\)$|is not a valid Record protobuf)",
          recordio.read_pairs,
          _rec(tmp_path, recordio.frame(payload)))


def test_sparse_tensor(tmp_path):
  record = record_schema.Record()
  record.features["source"].int32_tensor.values.extend([4])
  record.features["source"].int32_tensor.keys.extend([7])
  record.features["target"].int32_tensor.values.extend([5])
  _raises("record 0: feature 'source' is a sparse int32_tensor",
          recordio.read_pairs,
          _rec(tmp_path, recordio.frame(record.SerializeToString())))


def test_token_ids_outside_the_vocabulary(tmp_path):
  data = GOOD + recordio.frame(recordio.encode_pair([], [4])) + (
      recordio.frame(recordio.encode_pair([4, 10500], [5])))
  path = _rec(tmp_path, data)
  _raises(r"record 2: source token id 10500 is outside the source vocabulary "
          r"\(size 10214\)$", recordio.read_pairs, path, 10214, 100)
  _raises(r"record 0: target token id 6 is outside the target vocabulary "
          r"\(size 6\)$", recordio.read_pairs, path, 20000, 6)
  _raises(r"record 0: source token id -3 is negative$", recordio.read_pairs,
          _rec(tmp_path, recordio.frame(recordio.encode_pair([-3], [4]))))


def test_empty_rec_file(tmp_path):
  path = _rec(tmp_path, b"", "empty.rec")
  _raises(rf"^{re.escape(str(path))} holds no records$", recordio.read_pairs,
          path)
  _raises(r"^RecordIO data holds no records$", recordio.read_pairs, b"")


def test_missing_rec_file(tmp_path):
  _raises(r"nope.rec does not exist$", recordio.read_pairs,
          tmp_path / "nope.rec")
  _raises(r"cannot be read", recordio.read_pairs, tmp_path)


def test_bad_channels(tmp_path):
  _raises(rf"^train channel: {re.escape(str(tmp_path / 'x'))} does not exist$",
          recordio.resolve_rec_files, tmp_path / "x", "train")
  (tmp_path / "d").mkdir()
  (tmp_path / "d" / ".hidden").write_bytes(b"")
  _raises(rf"^validation channel: directory "
          rf"{re.escape(str(tmp_path / 'd'))} has no data files$",
          recordio.resolve_rec_files, tmp_path / "d", "validation")


def test_request_bodies_are_named_in_errors():
  _raises(r"^request 7: bad magic number", recordio.read_pairs,
          json.dumps({"instances": []}).encode(), name="request 7",
          allow_empty_target=True)
