"""Our records against the SageMaker Python SDK's reader, writer and schema."""

import io
import os

import numpy as np
import pytest

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
sagemaker_common = pytest.importorskip("sagemaker.amazon.common")
record_pb2 = pytest.importorskip("sagemaker.amazon.record_pb2")

from google.protobuf import descriptor_pb2  # noqa: E402

from s2s_jax.data import record_schema  # noqa: E402
from s2s_jax.data import recordio  # noqa: E402
from s2s_jax.errors import DataError  # noqa: E402

SRC = [[4, 5, 6], [7], [8, 9, 10, 11, 12], [13, 2**31 - 1]]
TRG = [[20, 21], [22, 23, 24], [25], [0]]


def test_sdk_reads_what_we_write(tmp_path):
  path = tmp_path / "train.rec"
  recordio.write_pairs(path, zip(SRC, TRG))
  with open(path, "rb") as f:
    records = sagemaker_common.read_records(f)
  assert len(records) == len(SRC)
  for record, s, t in zip(records, SRC, TRG):
    assert isinstance(record, record_pb2.Record)
    assert list(record.features["source"].int32_tensor.values) == s
    assert list(record.features["target"].int32_tensor.values) == t
    assert not record.label


def test_we_read_what_the_sdk_writes(tmp_path):
  buf = io.BytesIO()
  for s, t in zip(SRC, TRG):
    record = record_pb2.Record()
    record.features["source"].int32_tensor.values.extend(s)
    record.features["target"].int32_tensor.values.extend(t)
    sagemaker_common._write_recordio(buf, record.SerializeToString())
  path = tmp_path / "sdk.rec"
  path.write_bytes(buf.getvalue())
  pairs = recordio.read_pairs(path, 2**31, 26)
  assert [p.tolist() for p, _ in pairs] == SRC
  assert [t.tolist() for _, t in pairs] == TRG
  assert path.read_bytes() == b"".join(
      recordio.frame(recordio.encode_pair(s, t)) for s, t in zip(SRC, TRG))


def test_sdk_dense_tensor_file_is_rejected_clearly():
  buf = io.BytesIO()
  sagemaker_common.write_numpy_to_dense_tensor(
      buf, np.array([[1, 2], [3, 4]]), labels=np.array([0, 1]))
  with pytest.raises(DataError, match=r"record 0 has no 'source' feature "
                     r"\(features: 'values'\)"):
    recordio.read_pairs(buf.getvalue(), name="dense.rec")


def test_descriptor_matches_the_sdk():
  sdk = descriptor_pb2.FileDescriptorProto()
  record_pb2.DESCRIPTOR.CopyToProto(sdk)
  ours = descriptor_pb2.FileDescriptorProto()
  record_schema.Record.DESCRIPTOR.file.CopyToProto(ours)
  assert ours.package == sdk.package == "aialgs.data"
  assert ours.syntax in ("", "proto2") and sdk.syntax in ("", "proto2")
  assert [m.name for m in ours.message_type] == [
      m.name for m in sdk.message_type]
  for mine, theirs in zip(ours.message_type, sdk.message_type):
    assert mine == theirs, mine.name  # Fields, numbers, types, packed, oneof.


def test_both_schemas_coexist_in_one_process():
  # Ours lives in a private pool, so the SDK's default-pool classes still work.
  assert record_schema.Record is not record_pb2.Record
  assert record_schema.Record.DESCRIPTOR.full_name == "aialgs.data.Record"
  theirs = record_pb2.Record()
  theirs.ParseFromString(recordio.encode_pair([5, 6, 7], [8, 9]))
  assert list(theirs.features["source"].int32_tensor.values) == [5, 6, 7]
