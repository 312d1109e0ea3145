"""Reader throughput: Multi30k train (29,000 pairs) -> train.rec -> read_pairs.

  python experiments/bench_reader.py [--data /work/shared/data/multi30k]

Prints figures only; timings on a shared machine vary, so take the best of a few.
"""

import argparse
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from s2s_jax.data import preprocessing as preprocess  # noqa: E402
from s2s_jax.data import recordio  # noqa: E402

DEFAULT_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared/data/multi30k"


def main():
  p = argparse.ArgumentParser(description=__doc__)
  p.add_argument("--data", default=str(DEFAULT_DATA))
  p.add_argument("--repeats", type=int, default=5)
  args = p.parse_args()
  data = pathlib.Path(args.data)
  with tempfile.TemporaryDirectory() as out:
    start = time.perf_counter()
    s = preprocess.preprocess(data / "train.en", data / "train.de",
                              output_dir=out)
    print(f"preprocess: {s['train_records']} records in "
          f"{time.perf_counter() - start:.2f} s")
    rec = pathlib.Path(out) / preprocess.TRAIN_REC
    times = []
    for _ in range(args.repeats):
      start = time.perf_counter()
      pairs = recordio.read_pairs(rec, s["source_vocab_size"],
                                  s["target_vocab_size"])
      times.append(time.perf_counter() - start)
    best = min(times)
    print(f"read_pairs: {len(pairs)} records, best of {args.repeats} "
          f"{best * 1e3:.0f} ms ({len(pairs) / best:,.0f} records/s, "
          f"{rec.stat().st_size / best / 2**20:.1f} MiB/s); median "
          f"{sorted(times)[len(times) // 2] * 1e3:.0f} ms")


if __name__ == "__main__":
  main()
