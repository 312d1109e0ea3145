"""Trains the tiny config in a subprocess and interrupts itself, for tests/test_crash_resume.py.

  python tests/interrupted_run.py WORKDIR MAX_BATCHES [term:N | kill:N | kill_in_save:STEP]

term:N sends SIGTERM to this process during its N-th training batch (the loop saves and stops
after it); kill:N sends SIGKILL after N batches were trained, during the next; kill_in_save:STEP
sends SIGKILL as soon as the (asynchronous) save of STEP has started, so it dies mid-write.
"""

import logging
import os
import pathlib
import signal
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from s2s_jax import startup  # noqa: E402

startup.program()  # the test session's compilation cache ($S2S_JAX_CACHE, set by conftest)

from configs import tiny  # noqa: E402
from s2s_jax import checkpoint, config, trainer  # noqa: E402


def main(workdir, max_batches, action=""):
  logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout, force=True)
  what, _, n = action.partition(":")
  if what in ("term", "kill"):
    add, count = trainer.Window.add, [0]

    def counting_add(self, *args):  # called once per training batch
      count[0] += 1
      if what == "kill" and count[0] == int(n) + 1:
        os.kill(os.getpid(), signal.SIGKILL)
      if what == "term" and count[0] == int(n):
        os.kill(os.getpid(), signal.SIGTERM)
      return add(self, *args)
    trainer.Window.add = counting_add
  elif what == "kill_in_save":
    save = checkpoint.Checkpoints.save

    def save_then_die(self, step, *args, **kwargs):
      save(self, step, *args, **kwargs)
      if step == int(n):
        os.kill(os.getpid(), signal.SIGKILL)
    checkpoint.Checkpoints.save = save_then_die
  c = tiny.get_config()
  c.train.max_num_batches = int(max_batches)
  c.train.bleu_sample_size = 0  # no beam search to compile: validation perplexity decides
  summary = trainer.train(config.from_configdict(c), workdir)
  print(f"finished: steps={summary['steps']} stop={summary['stop_reason']}")


if __name__ == "__main__":
  main(*sys.argv[1:])
