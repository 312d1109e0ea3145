"""Batches for training (tf.data) and evaluation, from TokenPairs read off RecordIO files.

Conventions (Sockeye 1.x, spec §5.1): the source gets neither BOS nor EOS; the target input is
[<s>] + y and the label y + [</s>], so a target side of n tokens takes n + 1 positions.
Over-long pairs are truncated (SageMaker's documented behaviour) or dropped (Sockeye's), per
`length_policy`; max_seq_len_target counts the BOS/EOS position. Batches are padded to their
bucket's shape, so the train step compiles once per bucket.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from s2s_jax.config import DataConfig
from s2s_jax.errors import ConfigError
from s2s_jax.data.recordio import TokenPairs
from s2s_jax.data.vocab import BOS_ID, EOS_ID, PAD_ID


@dataclasses.dataclass(frozen=True)
class LengthStats:
  """Target (incl. BOS) / source length ratio over the training data: buckets and output limits."""
  mean: float
  std: float

  @classmethod
  def of(cls, pairs: TokenPairs):
    ratio = (pairs.trg_lengths() + 1) / np.maximum(pairs.src_lengths(), 1)
    return cls(float(ratio.mean()), float(ratio.std())) if len(pairs) else cls(1.0, 0.0)


def fit_lengths(pairs: TokenPairs, cfg: DataConfig) -> tuple[TokenPairs, int]:
  """Applies max_seq_len_* to a corpus; returns (pairs, number truncated or dropped)."""
  max_src, max_trg = cfg.max_seq_len_source, cfg.max_seq_len_target - 1
  src_len, trg_len = pairs.src_lengths(), pairs.trg_lengths()
  too_long = (src_len > max_src) | (trg_len > max_trg)
  count = int(too_long.sum())
  if not count:
    return pairs, 0
  if cfg.length_policy == "drop":
    keep = np.flatnonzero(~too_long)
    return TokenPairs.from_lists([pairs.source(i) for i in keep], [pairs.target(i) for i in keep]), count
  return TokenPairs.from_lists([pairs.source(i)[:max_src] for i in range(len(pairs))],
                               [pairs.target(i)[:max_trg] for i in range(len(pairs))]), count


def define_buckets(cfg: DataConfig, ratio: float) -> list[tuple[int, int]]:
  """Sockeye's parallel (source, target) buckets; the shorter side's step is scaled by the ratio."""
  max_src, max_trg = cfg.max_seq_len_source, cfg.max_seq_len_target
  if not cfg.bucketing_enabled:
    return [(max_src, max_trg)]
  width = cfg.bucket_width
  src_step, trg_step = width, width
  if ratio >= 1.0:
    src_step = max(1, int(round(width / ratio)))
  else:
    trg_step = max(1, int(round(width * ratio)))

  def steps(limit, step):
    lengths = list(range(step, limit + step, step))
    lengths[-1] = limit
    return lengths
  src, trg = steps(max_src, src_step), steps(max_trg, trg_step)
  src += [src[-1]] * (len(trg) - len(src))
  trg += [trg[-1]] * (len(src) - len(trg))
  return sorted(set((max(2, s), max(2, t)) for s, t in zip(src, trg)))


def assign_buckets(pairs: TokenPairs, buckets) -> np.ndarray:
  """Index of the first bucket each pair fits (target counted with its BOS/EOS position)."""
  src_len, trg_len = pairs.src_lengths(), pairs.trg_lengths() + 1
  bucket_src = np.array([b[0] for b in buckets])
  bucket_trg = np.array([b[1] for b in buckets])
  fits = (src_len[:, None] <= bucket_src[None]) & (trg_len[:, None] <= bucket_trg[None])
  if not fits.any(axis=1).all():
    raise ValueError("some pairs fit no bucket; apply fit_lengths first")
  return fits.argmax(axis=1).astype(np.int32)


def batch_sizes(buckets, cfg: DataConfig, devices: int, micro_batches: int = 1) -> list[int]:
  """Rows per batch in each bucket: batch_size sentences, or batch_size target tokens ('word'),
  rounded down to a multiple of devices x micro_batches (every micro-batch gets equal rows)."""
  multiple_of = devices * micro_batches
  rows = [cfg.batch_size] * len(buckets) if cfg.batch_type == "sentence" else [
      cfg.batch_size // trg for _, trg in buckets]
  if min(rows) < multiple_of:  # rounding up would change the update size silently
    unit = "sentences" if cfg.batch_type == "sentence" else (
        f"target tokens: {min(rows)} rows of the longest bucket's "
        f"{max(t for _, t in buckets)} tokens")
    raise ConfigError(f"data.batch_size={cfg.batch_size} ({unit}) is less than a row for each of "
                      f"{devices} device(s) x train.micro_batches={micro_batches}")
  return [n // multiple_of * multiple_of for n in rows]


# Names the order of an epoch's batches; checkpoints record it, because resuming mid-epoch skips
# the first batches of the order the run started with.
BATCH_ORDER = "plan_epoch-1"


@dataclasses.dataclass(frozen=True)
class BatchPlan:
  """An epoch's global batches: batch k is bucket `buckets[k]` and holds the pairs
  `pairs[starts[k]:starts[k + 1]]` (every process's rows, process 0's first)."""
  buckets: np.ndarray  # int32 [batches]
  starts: np.ndarray   # int64 [batches + 1]
  pairs: np.ndarray    # int64 [rows of all batches]

  def __len__(self) -> int:
    return len(self.buckets)

  def share(self, process_index: int, process_count: int) -> "BatchPlan":
    """The same batches with this process's rows only: its equal slice of each batch."""
    sizes = np.diff(self.starts) // process_count
    starts = self.starts[:-1] + process_index * sizes
    rows = np.repeat(starts - np.r_[0, np.cumsum(sizes)[:-1]], sizes) + np.arange(sizes.sum())
    return BatchPlan(self.buckets, np.r_[0, np.cumsum(sizes)], self.pairs[rows])


def plan_epoch(bucket_ids: np.ndarray, rows_per_batch, seed: int, epoch: int) -> BatchPlan:
  """The batches of an epoch, from the seed and the epoch alone, so that every process computes
  the same plan: the pairs in a shuffled order, each bucket's pairs filling its batches in that
  order, a batch coming when its last pair does (as tf.data's group_by_window would emit it);
  each bucket's incomplete last batch is dropped (different pairs every epoch)."""
  order = np.random.default_rng((seed, epoch)).permutation(len(bucket_ids))
  ids = bucket_ids[order]
  due, buckets, members = [], [], []
  for bucket, rows in enumerate(rows_per_batch):
    positions = np.flatnonzero(ids == bucket)
    positions = positions[:len(positions) // rows * rows].reshape(-1, rows)
    due.append(positions[:, -1])
    buckets.append(np.full(len(positions), bucket, np.int32))
    members.append(order[positions])
  by_due = np.argsort(np.concatenate(due), kind="stable")
  buckets = np.concatenate(buckets)[by_due]
  sizes = np.asarray(rows_per_batch, np.int64)[buckets]
  members = [m for rows in members for m in rows]
  pairs = np.concatenate([members[k] for k in by_due]) if len(by_due) else np.zeros(0, np.int64)
  return BatchPlan(buckets, np.r_[0, np.cumsum(sizes)], pairs.astype(np.int64))


class TrainBatches:
  """Shuffled, bucketed training batches for one process; one tf.data pipeline per epoch.

  Every process follows the same plan (plan_epoch): the same batch shapes in the same order and
  the same number of batches, which multi-process training needs (a process whose step took
  another shape than the others' would wait for them forever). Each process reads its own slice
  of the rows of each batch. The order depends only on (seed, epoch), so a restarted run skips to
  the batch it stopped at.
  """

  def __init__(self, pairs: TokenPairs, buckets, rows_per_batch, seed: int,
               process_index: int = 0, process_count: int = 1):
    """rows_per_batch: each bucket's rows per batch over all processes (a multiple of
    process_count)."""
    uneven = [r for r in rows_per_batch if r % process_count]
    if uneven:
      raise ValueError(f"rows per batch {uneven} do not split into {process_count} processes")
    self.buckets = buckets
    self.rows = [r // process_count for r in rows_per_batch]  # this process's rows per batch
    self.global_rows = list(rows_per_batch)
    self.seed = seed
    self.shard = (process_count, process_index)
    self.bucket_ids = assign_buckets(pairs, buckets)
    self.pairs = pairs
    self._batch = None  # _batch_fn's, once traced
    per_bucket = np.bincount(self.bucket_ids, minlength=len(buckets))
    full = [n // r for n, r in zip(per_bucket, rows_per_batch)]
    self.batches_per_epoch = int(sum(full))
    # The (source, target) shapes that batches take: what the train step compiles for.
    self.shapes = [(b[0], b[1]) for b, n in zip(buckets, full) if n]
    if self.batches_per_epoch == 0:
      raise ValueError(f"{len(pairs)} training pairs are fewer than one batch "
                       f"({min(rows_per_batch)} rows)")

  def plan(self, epoch: int) -> BatchPlan:
    """This process's share of the epoch's plan."""
    count, index = self.shard
    return plan_epoch(self.bucket_ids, self.global_rows, self.seed, epoch).share(index, count)

  def _batch_fn(self):
    """A tf.function from (a batch's pair indices, its bucket) to its padded arrays, traced once
    per TrainBatches: tracing it again for every epoch's dataset cost 0.2 s an epoch, most of a
    small corpus's epoch (256 pairs, 15 batches)."""
    if self._batch is None:
      p = self.pairs
      src = tf.RaggedTensor.from_row_splits(p.src_tokens, p.src_offsets, validate=False)
      trg = tf.RaggedTensor.from_row_splits(p.trg_tokens, p.trg_offsets, validate=False)
      src_lens = tf.constant([b[0] for b in self.buckets], tf.int64)
      trg_lens = tf.constant([b[1] for b in self.buckets], tf.int64)

      @tf.function(input_signature=[tf.TensorSpec([None], tf.int64), tf.TensorSpec([], tf.int32)])
      def batch(rows, bucket):
        n = tf.shape(rows, out_type=tf.int64)[0]
        s, t = tf.gather(src, rows), tf.gather(trg, rows)
        bos = tf.RaggedTensor.from_tensor(tf.fill([n, 1], BOS_ID))
        eos = tf.RaggedTensor.from_tensor(tf.fill([n, 1], EOS_ID))
        src_shape, trg_shape = [n, src_lens[bucket]], [n, trg_lens[bucket]]
        return {"src": s.to_tensor(PAD_ID, shape=src_shape),
                "trg_in": tf.concat([bos, t], 1).to_tensor(PAD_ID, shape=trg_shape),
                "trg_out": tf.concat([t, eos], 1).to_tensor(PAD_ID, shape=trg_shape)}
      self._batch = batch
    return self._batch

  def _dataset(self, epoch, skip):
    plan = self.plan(epoch)
    members = tf.RaggedTensor.from_row_splits(plan.pairs, plan.starts, validate=False)
    ds = tf.data.Dataset.from_tensor_slices((members, plan.buckets)).skip(skip)
    ds = ds.map(self._batch_fn())
    options = tf.data.Options()
    options.deterministic = True
    options.threading.private_threadpool_size = 1  # leave the cores to XLA
    options.threading.max_intra_op_parallelism = 1
    # tf.data's graph rewrites cost 50 ms an epoch in make_iterator and have nothing to fuse in
    # one map with a fixed prefetch.
    options.experimental_optimization.apply_default_optimizations = False
    options.autotune.enabled = False
    return ds.with_options(options).prefetch(2)

  def epoch(self, epoch: int, skip: int = 0):
    """Yields numpy batches {"src", "trg_in", "trg_out"} of this epoch, after the first `skip`."""
    yield from self._dataset(epoch, skip).as_numpy_iterator()


def pad_batch(sources, targets, src_len: int, trg_len: int, rows: int):
  """A {"src","trg_in","trg_out"} batch of exactly `rows` rows (extra rows are all padding)."""
  batch = {k: np.full((rows, n), PAD_ID, np.int32)
           for k, n in (("src", src_len), ("trg_in", trg_len), ("trg_out", trg_len))}
  for r, (s, t) in enumerate(zip(sources, targets)):
    batch["src"][r, :len(s)] = s
    batch["trg_in"][r, 0] = BOS_ID
    batch["trg_in"][r, 1:len(t) + 1] = t
    batch["trg_out"][r, :len(t)] = t
    batch["trg_out"][r, len(t)] = EOS_ID
  return batch


def eval_batches(pairs: TokenPairs, buckets, rows_per_batch):
  """Every pair exactly once, grouped by bucket, in the training batch shapes (so no new
  compilation); the last batch of a bucket is filled with empty rows."""
  ids = assign_buckets(pairs, buckets)
  for b in np.unique(ids):
    members = np.flatnonzero(ids == b)
    rows = rows_per_batch[b]
    for start in range(0, len(members), rows):
      chunk = members[start:start + rows]
      yield pad_batch([pairs.source(i) for i in chunk], [pairs.target(i) for i in chunk],
                      *buckets[b], rows)
