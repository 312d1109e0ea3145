"""Where a compiled step's time goes, by piece of the model, from a jax.profiler trace.

XLA's CPU runtime records one trace event per operation it runs (a "thunk"), named after the HLO
instruction. The compiled HLO's metadata gives every instruction the JAX name stack it came from:
the Flax module path (encoder, decoder, output), our named scopes (attention, loss, optimizer),
and `transpose(...)` around everything the backward pass computes. Summing event durations by the
first piece whose pattern matches that stack gives the table `s2s-bench --profile` prints.

Times are operation times summed over XLA's threads, so they add up to more than the wall time
when two operations run at once; the shares are what to compare. Loops (`while`) and branches
(`conditional`) are containers: the operations inside them are counted, the containers are not.
"""

import collections
import glob
import os
import re

# (piece, pattern on the op's name stack): the first match wins.
PIECES = (
    ("optimizer (Adam, clipping)", r"/optimizer|/cond/branch"),
    ("loss (softmax cross-entropy)", r"[/(]loss\b"),
    ("output layer", r"Seq2Seq\)*/output"),
    ("attention", r"/attention"),
    ("embeddings", r"_embed"),
    ("decoder recurrence", r"/decoder"),
    ("encoder recurrence", r"/encoder"),
    ("gradient norm and the rest", r""),
)
_CONTAINERS = ("while", "conditional", "call")
_INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+) = .*?op_name=\"([^\"]+)\"", re.M)
# name and opcode: the first `word(` after the `=` (shapes, even tuples, contain none)
_OPCODE = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+) = .*?\s([a-z][\w\-]*)\(", re.M)


def op_names(hlo_text: str) -> dict:
  """{HLO instruction name: JAX name stack} of a compiled module's text."""
  return dict(_INSTRUCTION.findall(hlo_text))


def containers(hlo_text: str) -> frozenset:
  """Names of a module's loops, branches and calls, whatever XLA named them (`cond.135` is a
  conditional): their trace events span the operations inside them."""
  return frozenset(name for name, opcode in _OPCODE.findall(hlo_text) if opcode in _CONTAINERS)


def piece_of(name_stack: str) -> tuple[str, bool]:
  """(piece, is backward) of one operation's name stack."""
  piece = next(p for p, pattern in PIECES if re.search(pattern, name_stack))
  return piece, "transpose(" in name_stack


def operation_times(trace_dir: str, module: str, skip=frozenset()) -> collections.Counter:
  """{HLO instruction: summed nanoseconds} of module `module` in the newest trace under
  trace_dir, operations only: neither the instructions in `skip` nor any named like a container."""
  from jax.profiler import ProfileData
  paths = sorted(glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True),
                 key=os.path.getmtime)
  if not paths:
    raise FileNotFoundError(f"no *.xplane.pb trace under {trace_dir}")
  times = collections.Counter()
  for plane in ProfileData.from_file(paths[-1]).planes:
    for line in plane.lines:
      for event in line.events:
        stats = dict(event.stats)
        if stats.get("hlo_module") != module or "hlo_op" not in stats:
          continue
        if event.name.split(".")[0] not in _CONTAINERS and stats["hlo_op"] not in skip:
          times[stats["hlo_op"]] += event.duration_ns
  return times


def pieces(times: collections.Counter, names: dict) -> dict:
  """{piece: [forward ns, backward ns]} in PIECES order (pieces without time left out)."""
  out = {p: [0.0, 0.0] for p, _ in PIECES}
  for op, ns in times.items():
    piece, backward = piece_of(names.get(op, ""))
    out[piece][int(backward)] += ns
  return {p: v for p, v in out.items() if sum(v)}


def markdown(table: dict, steps: int, wall_s: float) -> str:
  """The pieces as a table of milliseconds per step and shares of the operation time."""
  total = sum(sum(v) for v in table.values()) or 1.0
  lines = ["| piece | forward ms | backward ms | share |", "|---|---|---|---|"]
  for piece, (fwd, bwd) in table.items():
    lines.append(f"| {piece} | {fwd / steps / 1e6:.1f} | {bwd / steps / 1e6:.1f} | "
                 f"{100 * (fwd + bwd) / total:.1f}% |")
  lines.append(f"| all operations | | | {total / steps / 1e6:.1f} ms per step |")
  lines.append(f"| wall time | | | {1000 * wall_s / steps:.1f} ms per step |")
  return "\n".join(lines) + "\n"


def profile(compiled, run_step, steps: int, trace_dir: str) -> tuple[dict, float]:
  """Runs `run_step()` (one call of the compiled step, blocking) `steps` times under the profiler;
  returns (pieces, wall seconds). compiled: the step's jax Compiled object (for its HLO)."""
  import time

  import jax
  module = _module_name(compiled.as_text())
  run_step()  # anything lazy happens outside the trace
  jax.profiler.start_trace(trace_dir)
  start = time.time()
  try:
    for _ in range(steps):
      run_step()
    wall = time.time() - start
  finally:
    jax.profiler.stop_trace()
  text = compiled.as_text()
  times = operation_times(trace_dir, module, containers(text))
  return pieces(times, op_names(text)), wall


def _module_name(hlo_text: str) -> str:
  match = re.search(r"^HloModule ([\w.\-]+)", hlo_text, re.M)
  return match.group(1) if match else ""
