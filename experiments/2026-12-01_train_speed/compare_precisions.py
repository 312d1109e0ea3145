r"""fp32 against bf16 at equal updates, from two `s2s-bench --json` files of the same config:
the loss curves (per-token NLL of every update), test BLEU, and speed. Prints figures and draws
curves.png; asserts nothing.

  python experiments/2026-12-01_train_speed/compare_precisions.py OUT/fp32.json OUT/bf16.json \
      [--plot=OUT/curves.png]
"""

import argparse
import json

import numpy as np


def moving_average(values, window=20):
  values = np.asarray(values, np.float64)
  if len(values) < window:
    return values
  return np.convolve(values, np.ones(window) / window, mode="valid")


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("fp32")
  parser.add_argument("bf16")
  parser.add_argument("--plot", default=None)
  args = parser.parse_args()
  runs = {}
  for name, path in (("fp32", args.fp32), ("bf16", args.bf16)):
    with open(path, encoding="utf-8") as f:
      runs[name] = json.load(f)
  a, b = (np.asarray(runs[n]["train_nll_per_update"]) for n in ("fp32", "bf16"))
  if len(a) != len(b):
    raise SystemExit(f"the runs have {len(a)} and {len(b)} updates: compare equal updates")
  sa, sb = moving_average(a), moving_average(b)
  print(f"updates: {len(a)}; precision: {runs['fp32']['precision']} vs {runs['bf16']['precision']}")
  print(f"per-token NLL, mean |bf16 - fp32| over updates: {np.abs(b - a).mean():.4f}")
  print(f"  of the 20-update moving averages: max {np.abs(sb - sa).max():.4f}, "
        f"relative max {np.max(np.abs(sb - sa) / sa):.2%}")
  print(f"  last 50 updates: fp32 {a[-50:].mean():.4f}, bf16 {b[-50:].mean():.4f}")
  for key in sorted(k for k in runs["fp32"] if k.endswith("_bleu")):
    print(f"{key}: fp32 {runs['fp32'][key]}, bf16 {runs['bf16'][key]}, "
          f"difference {runs['bf16'][key] - runs['fp32'][key]:+.2f}")
  for key in ("ms_per_update", "train_tokens_per_s", "decode_beam5_sentences_per_s",
              "decode_greedy_sentences_per_s"):
    if key in runs["fp32"] and key in runs["bf16"]:
      print(f"{key}: fp32 {runs['fp32'][key]}, bf16 {runs['bf16'][key]} "
            f"(bf16 / fp32 {runs['bf16'][key] / runs['fp32'][key]:.2f})")
  if args.plot:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, curve in (("fp32", sa), ("bf16", sb)):
      ax.plot(np.arange(len(curve)) + 20, curve, label=name)
    ax.set_xlabel("update")
    ax.set_ylabel("per-token NLL (20-update moving average)")
    ax.set_title(runs["fp32"].get("cpu", ""), fontsize=8)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.plot, dpi=120)
    print(f"wrote {args.plot}")


if __name__ == "__main__":
  main()
