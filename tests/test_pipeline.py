"""Buckets, BOS/EOS, truncation, batching, seeded order, resume skipping and process shards."""

import dataclasses

import numpy as np
import pytest

from s2s_jax.config import DataConfig
from s2s_jax.data import pipeline
from s2s_jax.data.recordio import TokenPairs
from s2s_jax.data.vocab import BOS_ID, EOS_ID
from s2s_jax.errors import ConfigError


def _pairs(n=200, seed=0, max_len=12):
  rng = np.random.RandomState(seed)
  # Each source starts with its own id, so a batch row can be traced back to its pair.
  src = [np.r_[1000 + i, rng.randint(4, 50, rng.randint(0, max_len))] for i in range(n)]
  trg = [rng.randint(4, 50, rng.randint(1, max_len + 1)) for _ in range(n)]
  return TokenPairs.from_lists(src, trg)


def test_sockeye_parallel_buckets():
  cfg = DataConfig(max_seq_len_source=30, max_seq_len_target=30, bucket_width=10)
  assert pipeline.define_buckets(cfg, 1.0) == [(10, 10), (20, 20), (30, 30)]
  # Target twice as long: the source steps shrink to width / ratio.
  assert pipeline.define_buckets(cfg, 2.0) == [(5, 10), (10, 20), (15, 30), (20, 30), (25, 30),
                                               (30, 30)]
  assert pipeline.define_buckets(dataclasses.replace(cfg, bucketing_enabled=False), 1.0) == [(30, 30)]


def test_truncate_and_drop_policies():
  pairs = TokenPairs.from_lists([[5] * 8, [5] * 3], [[6] * 3, [6] * 9])
  cfg = DataConfig(max_seq_len_source=5, max_seq_len_target=5)
  cut, n = pipeline.fit_lengths(pairs, cfg)
  assert n == 2 and cut.src_lengths().tolist() == [5, 3] and cut.trg_lengths().tolist() == [3, 4]
  kept, n = pipeline.fit_lengths(pairs, dataclasses.replace(cfg, length_policy="drop"))
  assert n == 2 and len(kept) == 0


def _batches(pairs, cfg, seed=1, **kw):
  buckets = pipeline.define_buckets(cfg, 1.0)
  rows = pipeline.batch_sizes(buckets, cfg, 1)
  return pipeline.TrainBatches(pairs, buckets, rows, seed, **kw)


def test_batches_add_bos_and_eos_and_fit_their_bucket():
  pairs = _pairs()
  cfg = DataConfig(max_seq_len_source=12, max_seq_len_target=13, bucket_width=4, batch_size=8)
  stream = _batches(pairs, cfg)
  batches = list(stream.epoch(0))
  assert len(batches) == stream.batches_per_epoch
  by_source = {tuple(pairs.source(i)): pairs.target(i) for i in range(len(pairs))}
  for b in batches:
    assert b["src"].shape[0] == 8
    assert (b["src"].shape[1], b["trg_in"].shape[1]) in stream.buckets
    for row in range(8):
      src = b["src"][row][b["src"][row] != 0]
      trg = by_source[tuple(src)]
      n = len(trg)
      assert b["trg_in"][row, 0] == BOS_ID and (b["trg_in"][row, 1:n + 1] == trg).all()
      assert (b["trg_out"][row, :n] == trg).all() and b["trg_out"][row, n] == EOS_ID
      assert (b["trg_out"][row, n + 1:] == 0).all()


def test_word_batches_hold_as_many_rows_as_batch_size_target_positions_allow():
  cfg = DataConfig(max_seq_len_source=12, max_seq_len_target=13, bucket_width=4, batch_size=64,
                   batch_type="word")
  batches = list(_batches(_pairs(), cfg).epoch(0))
  for b in batches:  # full: one more row would pass 64 target positions
    rows, length = b["trg_in"].shape
    assert rows * length <= 64 < (rows + 1) * length and b["src"].shape[0] == rows
  assert len({b["trg_in"].shape[0] for b in batches}) > 1  # rows follow the bucket's length


def test_order_depends_only_on_seed_and_epoch_and_skip_resumes():
  cfg = DataConfig(max_seq_len_source=12, max_seq_len_target=13, bucket_width=4, batch_size=8)
  pairs = _pairs()
  a = [b["src"] for b in _batches(pairs, cfg).epoch(3)]
  b = [b["src"] for b in _batches(pairs, cfg).epoch(3)]
  c = [b["src"] for b in _batches(pairs, cfg).epoch(4)]
  assert all((x == y).all() for x, y in zip(a, b))
  assert any(x.shape != y.shape or (x != y).any() for x, y in zip(a, c))
  resumed = [b["src"] for b in _batches(pairs, cfg).epoch(3, skip=5)]
  assert all((x == y).all() for x, y in zip(a[5:], resumed)) and len(resumed) == len(a) - 5


def test_processes_read_disjoint_shares():
  cfg = DataConfig(max_seq_len_source=12, max_seq_len_target=13, bucket_width=4, batch_size=4)
  pairs = _pairs()
  seen = []
  for index in range(2):
    rows = [tuple(r[r != 0]) for b in _batches(pairs, cfg, process_index=index,
                                                  process_count=2).epoch(0) for r in b["src"]]
    seen.append(set(rows))
  assert seen[0] and seen[1] and not seen[0] & seen[1]


def test_eval_batches_cover_every_pair_once():
  pairs = _pairs(37)
  cfg = DataConfig(max_seq_len_source=12, max_seq_len_target=13, bucket_width=4, batch_size=8)
  buckets = pipeline.define_buckets(cfg, 1.0)
  rows = pipeline.batch_sizes(buckets, cfg, 1)
  real = [r for b in pipeline.eval_batches(pairs, buckets, rows) for r in b["src"] if r.any()]
  assert len(real) == 37


def test_too_few_pairs_for_a_batch_is_an_error():
  cfg = DataConfig(max_seq_len_source=12, max_seq_len_target=13, batch_size=64)
  with pytest.raises(ValueError, match="fewer than one batch"):
    _batches(_pairs(10), cfg)


def test_processes_share_one_plan_same_shapes_and_together_the_whole_batches():
  # Multi-process training needs every process at the same batch shape at every step.
  cfg = DataConfig(max_seq_len_source=12, max_seq_len_target=13, bucket_width=4, batch_size=28,
                   batch_type="word")
  pairs = _pairs(300)
  buckets = pipeline.define_buckets(cfg, 1.0)
  rows = pipeline.batch_sizes(buckets, cfg, 2)
  whole = list(pipeline.TrainBatches(pairs, buckets, rows, 1).epoch(2))
  shares = [list(pipeline.TrainBatches(pairs, buckets, rows, 1, process_index=i,
                                       process_count=2).epoch(2)) for i in range(2)]
  assert len(shares[0]) == len(shares[1]) == len(whole) > 1
  for w, a, b in zip(whole, *shares):
    for key in w:
      assert a[key].shape == b[key].shape
      np.testing.assert_array_equal(np.concatenate([a[key], b[key]]), w[key])


def test_a_plan_batches_every_bucket_and_leaves_only_incomplete_batches_out():
  ids = np.random.RandomState(0).randint(0, 3, 103).astype(np.int32)
  plan = pipeline.plan_epoch(ids, [4, 5, 6], seed=3, epoch=0)
  assert len(set(plan.pairs.tolist())) == len(plan.pairs)  # no pair twice
  counts = np.bincount(ids, minlength=3)
  assert np.bincount(plan.buckets, minlength=3).tolist() == (counts // [4, 5, 6]).tolist()
  for k, bucket in enumerate(plan.buckets):
    assert (ids[plan.pairs[plan.starts[k]:plan.starts[k + 1]]] == bucket).all()


def test_rows_that_do_not_split_into_the_processes_are_an_error():
  cfg = DataConfig(max_seq_len_source=12, max_seq_len_target=13, batch_size=5)
  with pytest.raises(ValueError, match=r"do not split into 2 processes"):
    _batches(_pairs(), cfg, process_count=2)


@pytest.mark.parametrize("batch_type,batch_size,message", [
    ("sentence", 6, r"data.batch_size=6 \(sentences\) is less than a row for each of 4 device\(s\) "
                    r"x train.micro_batches=2"),
    ("word", 90, r"data.batch_size=90 \(target tokens: 6 rows of the longest bucket's 13 tokens\) "
                 r"is less than a row for each of 4 device\(s\) x train.micro_batches=2")])
def test_a_batch_smaller_than_devices_times_micro_batches_is_an_error(batch_type, batch_size,
                                                                      message):
  # It was rounded up to devices x micro-batches rows: another update size than the one asked.
  cfg = DataConfig(max_seq_len_source=12, max_seq_len_target=13, bucket_width=4,
                   batch_size=batch_size, batch_type=batch_type)
  with pytest.raises(ConfigError, match=message):
    pipeline.batch_sizes(pipeline.define_buckets(cfg, 1.0), cfg, 4, 2)
  assert pipeline.batch_sizes(pipeline.define_buckets(cfg, 1.0), cfg, 2, 2)[-1] == 4  # rounded down
