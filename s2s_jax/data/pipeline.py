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


def batch_sizes(buckets, cfg: DataConfig, multiple_of: int) -> list[int]:
  """Rows per batch in each bucket: batch_size sentences, or batch_size target tokens ('word')."""
  def round_down(n):
    return max(multiple_of, n // multiple_of * multiple_of)
  if cfg.batch_type == "sentence":
    return [round_down(cfg.batch_size)] * len(buckets)
  return [round_down(cfg.batch_size // trg) for _, trg in buckets]


class TrainBatches:
  """Shuffled, bucketed training batches for one process; one tf.data pipeline per epoch.

  The order depends only on (seed, epoch), so a restarted run skips to the batch it stopped at.
  Each bucket's incomplete last batch of an epoch is dropped (different rows every epoch).
  """

  def __init__(self, pairs: TokenPairs, buckets, rows_per_batch, seed: int,
               process_index: int = 0, process_count: int = 1):
    self.buckets = buckets
    self.rows = rows_per_batch
    self.seed = seed
    self.shard = (process_count, process_index)
    self.bucket_ids = assign_buckets(pairs, buckets)
    self.pairs = pairs
    per_bucket = np.bincount(self.bucket_ids, minlength=len(buckets)) // process_count
    full = [n // r for n, r in zip(per_bucket, rows_per_batch)]
    self.batches_per_epoch = int(sum(full))
    # The (source, target) shapes that batches take: what the train step compiles for.
    self.shapes = [(b[0], b[1]) for b, n in zip(buckets, full) if n]
    if self.batches_per_epoch == 0:
      raise ValueError(f"{len(pairs)} training pairs are fewer than one batch "
                       f"({min(rows_per_batch)} rows per process)")

  def _dataset(self, epoch):
    p = self.pairs
    src = tf.RaggedTensor.from_row_splits(p.src_tokens, p.src_offsets, validate=False)
    trg = tf.RaggedTensor.from_row_splits(p.trg_tokens, p.trg_offsets, validate=False)
    ds = tf.data.Dataset.from_tensor_slices((src, trg, self.bucket_ids))
    ds = ds.shard(*self.shard)
    ds = ds.shuffle(len(p), seed=self.seed * 100003 + epoch, reshuffle_each_iteration=False)
    bos, eos = tf.constant([BOS_ID], tf.int32), tf.constant([EOS_ID], tf.int32)
    ds = ds.map(lambda s, t, b: {"src": s, "trg_in": tf.concat([bos, t], 0),
                                 "trg_out": tf.concat([t, eos], 0), "bucket": b})
    src_lens = tf.constant([b[0] for b in self.buckets], tf.int64)
    trg_lens = tf.constant([b[1] for b in self.buckets], tf.int64)
    rows = tf.constant(self.rows, tf.int64)

    def batch(key, window):
      key = tf.cast(key, tf.int32)
      s, t = tf.gather(src_lens, key)[None], tf.gather(trg_lens, key)[None]
      return window.padded_batch(tf.gather(rows, key), drop_remainder=True,
                                 padded_shapes={"src": s, "trg_in": t, "trg_out": t, "bucket": []})
    ds = ds.group_by_window(key_func=lambda ex: tf.cast(ex["bucket"], tf.int64), reduce_func=batch,
                            window_size_func=lambda key: tf.gather(rows, key))
    ds = ds.map(lambda ex: {k: v for k, v in ex.items() if k != "bucket"})
    options = tf.data.Options()
    options.deterministic = True
    options.threading.private_threadpool_size = 1  # leave the cores to XLA
    options.threading.max_intra_op_parallelism = 1
    return ds.with_options(options).prefetch(2)

  def epoch(self, epoch: int, skip: int = 0):
    """Yields numpy batches {"src", "trg_in", "trg_out"} of this epoch, after the first `skip`."""
    yield from self._dataset(epoch).skip(skip).as_numpy_iterator()


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
