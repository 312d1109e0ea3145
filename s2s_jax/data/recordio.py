"""RecordIO-protobuf: the training and inference data format of SageMaker seq2seq.

The only module that knows the framing (spec §2.2: magic, uint32 length with a
3-bit continuation flag, payload, zero padding to 4 bytes) and the Record schema
(spec §2.3: features["source"] / features["target"] as dense int32 tensors).
A corpus is held as a `TokenPairs`: flat token arrays plus offsets, so 30k or
30M sentence pairs cost two numpy arrays per side, not millions of lists.
"""

import dataclasses
import itertools
import logging
import os
import struct
from typing import Iterable, Iterator, Sequence

import numpy as np
from google.protobuf import message as pb_message

from s2s_jax.data import record_schema
from s2s_jax.errors import DataError

MAGIC = 0xCED7230A
_HEADER = struct.Struct("<II")
_LENGTH_BITS = 29  # dmlc: low 29 bits = length, high 3 bits = cflag.
_LENGTH_MASK = (1 << _LENGTH_BITS) - 1
_SOURCE, _TARGET = "source", "target"

log = logging.getLogger(__name__)


def frame(payload: bytes) -> bytes:
  """One RecordIO record: magic, length (cflag 0), payload, zero pad to 4."""
  n = len(payload)
  if n > _LENGTH_MASK:
    raise ValueError(f"payload of {n} bytes does not fit a RecordIO record")
  return _HEADER.pack(MAGIC, n) + bytes(payload) + b"\0" * (-n % 4)


def _int_list(values) -> list:
  return values.tolist() if isinstance(values, np.ndarray) else values


def encode_pair(source, target) -> bytes:
  """A serialized Record with dense int32 "source" and "target" features."""
  record = record_schema.Record()
  for key, values in ((_SOURCE, source), (_TARGET, target)):
    tensor = record.features[key].int32_tensor
    tensor.SetInParent()  # An empty target is still sent, as the notebook does.
    tensor.values.extend(_int_list(values))
  return record.SerializeToString()


def _read_bytes(path_or_bytes, name):
  if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
    return bytes(path_or_bytes)
  try:
    with open(path_or_bytes, "rb") as f:
      return f.read()
  except FileNotFoundError:
    raise DataError(f"{name} does not exist") from None
  except OSError as e:
    raise DataError(f"{name} cannot be read: {e.strerror or e}") from None


def _default_name(path_or_bytes, name):
  if name is not None:
    return name
  if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
    return "RecordIO data"
  return os.fspath(path_or_bytes)


def iter_payloads(path_or_bytes, name: str | None = None
                  ) -> Iterator[tuple[int, bytes]]:
  """Yields (record index, payload) for each record of a file or bytes object.

  `name` is what error messages call the data (default: the path).
  """
  name = _default_name(path_or_bytes, name)
  data = _read_bytes(path_or_bytes, name)
  pos, index, end = 0, 0, len(data)
  while pos < end:
    if end - pos < _HEADER.size:
      raise DataError(
          f"{name}: truncated record {index} at byte offset {pos}: expected "
          f"{_HEADER.size} header bytes, found {end - pos}")
    magic, lrec = _HEADER.unpack_from(data, pos)
    if magic != MAGIC:
      raise DataError(
          f"{name}: bad magic number 0x{magic:08X} at byte offset {pos}, "
          f"record {index}: not a RecordIO file")
    cflag, length = lrec >> _LENGTH_BITS, lrec & _LENGTH_MASK
    if cflag:
      raise DataError(
          f"{name}: record {index} at byte offset {pos} is a multi-part record "
          f"(cflag={cflag}), which is not supported")
    start = pos + _HEADER.size
    if end - start < length:
      raise DataError(
          f"{name}: truncated record {index} at byte offset {pos}: expected "
          f"{length} bytes, found {end - start}")
    yield index, data[start:start + length]
    # A last record may lack its padding: the SDK's reader accepts that too.
    pos = start + length + (-length % 4)
    index += 1


@dataclasses.dataclass(frozen=True, eq=False)
class TokenPairs:
  """A parallel corpus as flat arrays: pair i is tokens[offsets[i]:offsets[i+1]]."""
  src_tokens: np.ndarray   # int32 [total source tokens]
  src_offsets: np.ndarray  # int64 [n + 1], starts at 0
  trg_tokens: np.ndarray   # int32 [total target tokens]
  trg_offsets: np.ndarray  # int64 [n + 1], starts at 0

  def __post_init__(self):
    if len(self.src_offsets) != len(self.trg_offsets) or not len(
        self.src_offsets):
      raise ValueError("src_offsets and trg_offsets must both have n + 1 items")

  def __len__(self) -> int:
    return len(self.src_offsets) - 1

  def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for i in range(len(self)):
      yield self.source(i), self.target(i)

  def src_lengths(self) -> np.ndarray:
    return np.diff(self.src_offsets)

  def trg_lengths(self) -> np.ndarray:
    return np.diff(self.trg_offsets)

  def source(self, i: int) -> np.ndarray:
    return self.src_tokens[self.src_offsets[i]:self.src_offsets[i + 1]]

  def target(self, i: int) -> np.ndarray:
    return self.trg_tokens[self.trg_offsets[i]:self.trg_offsets[i + 1]]

  @classmethod
  def from_lists(cls, src_list: Sequence[Sequence[int]],
                 trg_list: Sequence[Sequence[int]]) -> "TokenPairs":
    if len(src_list) != len(trg_list):
      raise ValueError(f"{len(src_list)} sources but {len(trg_list)} targets")
    src, src_off = _flatten(src_list)
    trg, trg_off = _flatten(trg_list)
    return cls(src, src_off, trg, trg_off)

  @classmethod
  def concatenate(cls, parts: Sequence["TokenPairs"]) -> "TokenPairs":
    def cat(tokens, offsets):
      shifts = np.cumsum([0] + [o[-1] for o in offsets[:-1]])
      return (np.concatenate(tokens).astype(np.int32),
              np.concatenate([offsets[0][:1]] + [
                  o[1:] + s for o, s in zip(offsets, shifts)]))
    src, src_off = cat([p.src_tokens for p in parts],
                       [p.src_offsets for p in parts])
    trg, trg_off = cat([p.trg_tokens for p in parts],
                       [p.trg_offsets for p in parts])
    return cls(src, src_off, trg, trg_off)


def _flatten(seqs) -> tuple[np.ndarray, np.ndarray]:
  lengths = [len(s) for s in seqs]
  offsets = np.zeros(len(lengths) + 1, np.int64)
  np.cumsum(lengths, out=offsets[1:])
  if len(seqs) and isinstance(seqs[0], np.ndarray):  # e.g. slices of a corpus.
    flat = np.concatenate([np.asarray(s, np.int32).reshape(-1) for s in seqs])
  else:
    flat = np.fromiter(itertools.chain.from_iterable(seqs), np.int32,
                       count=int(offsets[-1]))
  return flat, offsets


def _parse(payload, name, index):
  try:
    return record_schema.Record.FromString(payload)
  # The pure-python backend checks UTF-8 in string fields while parsing.
  except (pb_message.DecodeError, UnicodeDecodeError) as e:
    raise DataError(f"{name}: record {index} is not a valid Record protobuf "
                    f"({e})") from None


def _feature_names(record) -> str:
  # upb hands back bytes for keys that are not valid UTF-8; repr() shows both.
  names = sorted(repr(n) for n in record.features)
  return ", ".join(names) or "none"


def _values(record, key, name, index, required):
  """The int32 ids of a feature; an absent optional feature reads as empty."""
  value = record.features.get(key)
  if value is None:
    if not required:
      return ()
    raise DataError(f"{name}: record {index} has no {key!r} feature "
                    f"(features: {_feature_names(record)})")
  kind = value.WhichOneof("value")
  if kind == "int32_tensor":
    tensor = value.int32_tensor
    if tensor.keys:
      raise DataError(f"{name}: record {index}: feature {key!r} is a sparse "
                      "int32_tensor (has keys); token ids must be dense")
    return tensor.values
  if kind is None:  # A bare `record.features[key]` on the writer side.
    return ()
  raise DataError(f"{name}: record {index}: feature {key!r} is a {kind}, "
                  "expected an int32_tensor of token ids")


def _check_ids(tokens, offsets, kept, vocab_size, side, name):
  """Raises DataError for the first id that is negative or >= vocab_size."""
  if not len(tokens):
    return
  high = np.iinfo(np.int32).max if vocab_size is None else vocab_size - 1
  if tokens.min() >= 0 and tokens.max() <= high:
    return
  pos = int(np.flatnonzero((tokens < 0) | (tokens > high))[0])
  index = kept[np.searchsorted(offsets, pos, side="right") - 1]
  bad = int(tokens[pos])
  if vocab_size is None:
    raise DataError(f"{name}: record {index}: {side} token id {bad} is "
                    "negative")
  raise DataError(f"{name}: record {index}: {side} token id {bad} is outside "
                  f"the {side} vocabulary (size {vocab_size})")


def read_pairs(path, src_vocab_size: int | None = None,
               trg_vocab_size: int | None = None,
               allow_empty_target: bool = False,
               name: str | None = None) -> TokenPairs:
  """Reads every record of a .rec file (or bytes) into a TokenPairs.

  Training mode (default): pairs with an empty source or target are skipped and
  counted in a warning. allow_empty_target=True is inference mode: the target may
  be missing or empty and no record is skipped, so result i answers record i.
  """
  name = _default_name(path, name)
  src, trg, src_lens, trg_lens, kept = [], [], [], [], []
  skipped = total = 0
  for index, payload in iter_payloads(path, name=name):
    total += 1
    record = _parse(payload, name, index)
    s = _values(record, _SOURCE, name, index, required=True)
    t = _values(record, _TARGET, name, index, required=not allow_empty_target)
    if not allow_empty_target and not (len(s) and len(t)):
      skipped += 1
      continue
    src += s[:]  # Slicing copies in C: twice as fast as iterating.
    trg += t[:]
    src_lens.append(len(s))
    trg_lens.append(len(t))
    kept.append(index)
  if not total:
    raise DataError(f"{name} holds no records")
  if skipped:
    log.warning("%s: skipped %d of %d records with an empty source or target",
                name, skipped, total)
  if not kept:
    raise DataError(f"{name} holds no usable records: all {total} have an "
                    "empty source or target")
  pairs = TokenPairs(
      np.asarray(src, np.int32), np.cumsum([0] + src_lens, dtype=np.int64),
      np.asarray(trg, np.int32), np.cumsum([0] + trg_lens, dtype=np.int64))
  _check_ids(pairs.src_tokens, pairs.src_offsets, kept, src_vocab_size,
             _SOURCE, name)
  _check_ids(pairs.trg_tokens, pairs.trg_offsets, kept, trg_vocab_size,
             _TARGET, name)
  return pairs


def read_pairs_many(paths: Sequence, src_vocab_size: int | None = None,
                    trg_vocab_size: int | None = None,
                    allow_empty_target: bool = False) -> TokenPairs:
  """read_pairs over several files (one SageMaker channel), concatenated."""
  if not paths:
    raise DataError("no RecordIO files to read")
  return TokenPairs.concatenate([
      read_pairs(p, src_vocab_size, trg_vocab_size, allow_empty_target)
      for p in paths])


def write_pairs(path, pairs: Iterable) -> int:
  """Writes (source ids, target ids) pairs as a .rec file; returns the count.

  Written under path + ".tmp" and renamed, so `path` is never half-written.
  """
  path = os.fspath(path)
  tmp = path + ".tmp"
  count = 0
  try:
    with open(tmp, "wb") as f:
      for source, target in pairs:
        f.write(frame(encode_pair(source, target)))
        count += 1
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return count


def resolve_rec_files(location, channel_name: str) -> list[str]:
  """The data files of a channel: a file, or a directory's *.rec files.

  A directory without *.rec files contributes all its regular, non-hidden files
  (SageMaker does not require the extension).
  """
  location = os.fspath(location)
  if not os.path.exists(location):
    raise DataError(f"{channel_name} channel: {location} does not exist")
  if not os.path.isdir(location):
    return [location]
  files = sorted(
      os.path.join(location, n) for n in os.listdir(location)
      if not n.startswith(".") and os.path.isfile(os.path.join(location, n)))
  recs = [f for f in files if f.endswith(".rec")]
  if not (recs or files):
    raise DataError(f"{channel_name} channel: directory {location} has no "
                    "data files")
  return recs or files
