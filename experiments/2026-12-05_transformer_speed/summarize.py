"""The speed table of run.sh's output folder: s2s-jax fp32 and bf16 against OpenNMT-py's
Transformer, ratios to the peer (OpenNMT-py's figures parsed by ../shared/peers/summarize.py).

  python experiments/2026-12-05_transformer_speed/summarize.py OUT
"""

import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])


def _peer_parsers():
  """../shared/peers/summarize.py's functions, without running its main (which writes RESULTS.md)."""
  path = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "peers" / "summarize.py"
  source = path.read_text().rsplit("\nmain()", 1)[0]
  argv, sys.argv = sys.argv, [str(path), "", ""]
  namespace = {"__name__": "peers_summarize"}
  try:
    exec(compile(source, str(path), "exec"), namespace)
  finally:
    sys.argv = argv
  return namespace


def main():
  peer = _peer_parsers()["onmt"](str(out / "peers" / "onmt_transformer"))
  rows = [("updates/s", "ups"), ("target tokens/s", "toks"), ("beam 5 sentences/s", "beam5"),
          ("greedy sentences/s", "greedy"), ("training peak RSS GiB", "rss"),
          ("BLEU beam 5 (greedy)", "bleu")]
  ours = {}
  for dtype in ("float32", "bfloat16"):
    path = out / f"{dtype}.json"
    if path.exists():
      r = json.loads(path.read_text())
      ours[dtype] = {"ups": 1000 / r["ms_per_update"], "toks": r["train_tokens_per_s"],
                     "beam5": r["decode_beam5_sentences_per_s"],
                     "greedy": r["decode_greedy_sentences_per_s"], "rss": r.get("peak_rss_gib"),
                     "bleu": f'{r["decode_beam5_bleu"]:.2f} ({r["decode_greedy_bleu"]:.2f})'}
  theirs = {"ups": peer["ups"], "toks": peer["toks"], "beam5": peer["dec"][5][0],
            "greedy": peer["dec"][1][0], "rss": peer["rss"],
            "bleu": f'{peer["bleu5"]} ({peer["bleu1"]})'}
  print((out / "machine.txt").read_text())
  print("| | " + " | ".join(f"s2s-jax {d}" for d in ours) + " | OpenNMT-py 3.5.1 (fp32) | "
        + " | ".join(f"{d} ratio" for d in ours) + " |")
  print("|---" * (2 + 2 * len(ours)) + "|")
  for name, key in rows:
    cells = [_fmt(ours[d][key]) for d in ours] + [_fmt(theirs[key])]
    ratios = [_fmt(ours[d][key] / theirs[key]) + "x" if key not in ("bleu", "rss") and theirs[key]
              else "" for d in ours]
    print(f"| {name} | " + " | ".join(cells + ratios) + " |")


def _fmt(v):
  if isinstance(v, float):
    return f"{v:.2f}" if v < 100 else f"{v:.0f}"
  return str(v)


if __name__ == "__main__":
  main()
