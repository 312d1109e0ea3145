"""Fuzz: any bytes given to read_pairs give valid pairs or a DataError."""

import hypothesis
from hypothesis import strategies as st

from s2s_jax.data import record_schema
from s2s_jax.data import recordio
from s2s_jax.errors import DataError

VOCAB = 50
_SETTINGS = hypothesis.settings(
    max_examples=200, deadline=None, derandomize=True,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])


def _valid_file():
  odd = record_schema.Record()  # Extra fields readers must ignore.
  odd.features["source"].int32_tensor.values.extend([5])
  odd.features["target"].int32_tensor.values.extend([6, 7])
  odd.features["extra"].bytes.value.append(b"\x0a\x23\xd7\xce")
  odd.label["values"].float32_tensor.values.append(1.0)
  odd.uid = "u"
  return b"".join([
      recordio.frame(recordio.encode_pair([4, 5, 6], [7, 8])),
      recordio.frame(recordio.encode_pair([49], [])),
      recordio.frame(odd.SerializeToString()),
      recordio.frame(recordio.encode_pair(list(range(4, 40)), [9] * 130)),
  ])


VALID = _valid_file()


def _check(data, allow_empty_target=False):
  try:
    pairs = recordio.read_pairs(data, VOCAB, VOCAB,
                                allow_empty_target=allow_empty_target,
                                name="fuzz.rec")
  except DataError as e:
    assert str(e).startswith("fuzz.rec")
    return
  n = len(pairs)
  assert n > 0
  for tokens, offsets in ((pairs.src_tokens, pairs.src_offsets),
                          (pairs.trg_tokens, pairs.trg_offsets)):
    assert tokens.dtype.name == "int32" and offsets.dtype.name == "int64"
    assert len(offsets) == n + 1 and offsets[0] == 0
    assert offsets[-1] == len(tokens) and (offsets[1:] >= offsets[:-1]).all()
    assert ((tokens >= 0) & (tokens < VOCAB)).all()
  if not allow_empty_target:
    assert (pairs.src_lengths() > 0).all() and (pairs.trg_lengths() > 0).all()


@st.composite
def mutated(draw):
  data = bytearray(VALID)
  for _ in range(draw(st.integers(1, 4))):
    op = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    pos = draw(st.integers(0, max(len(data) - 1, 0)))
    if op == "flip" and data:
      data[pos] ^= 1 << draw(st.integers(0, 7))
    elif op == "truncate":
      del data[pos:]
    elif op == "insert":
      data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
    elif op == "delete":
      del data[pos:pos + draw(st.integers(1, 8))]
  return bytes(data)


def test_valid_file_reads():
  pairs = recordio.read_pairs(VALID, VOCAB, VOCAB, allow_empty_target=True)
  assert len(pairs) == 4
  assert len(recordio.read_pairs(VALID, VOCAB, VOCAB)) == 3


@_SETTINGS
@hypothesis.given(st.binary(max_size=200), st.booleans())
def test_random_bytes(data, allow_empty_target):
  _check(data, allow_empty_target)


@_SETTINGS
@hypothesis.given(st.binary(max_size=120), st.booleans())
def test_random_payloads_in_valid_frames(payload, allow_empty_target):
  _check(recordio.frame(payload) + VALID, allow_empty_target)


@_SETTINGS
@hypothesis.given(mutated(), st.booleans())
# A feature name that is not UTF-8 (upb returns it as bytes): found by fuzzing.
@hypothesis.example(VALID.replace(b"target", b"tar\xffet"), False)
def test_mutated_files(data, allow_empty_target):
  _check(data, allow_empty_target)
