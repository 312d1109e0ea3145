"""TensorBoard's HParams dashboard for a sweep folder: `tensorboard --logdir=runs/NAME`.

The experiment (which hyperparameters, which metrics) is written once at the sweep folder's root;
each trial's hyperparameters go into its own TensorBoard run (trials/<name>/tensorboard), beside
the scalars its training writes, which the dashboard reads as the metrics. Written with
TensorBoard's own event writer, so the runner never imports TensorFlow.
"""

import os
import socket
import time

from tensorboard.compat.proto import event_pb2
from tensorboard.plugins.hparams import summary_v2 as hp  # api.py would import Keras
# RecordWriter over a plain file: EventFileWriter would open it through TensorFlow's gfile.
from tensorboard.summary.writer.record_writer import RecordWriter

MARK = "hparams.written"


def write(workdir, sweep, table):
  keys = sweep.keys()
  root_mark = os.path.join(workdir, MARK)
  if not os.path.exists(root_mark):
    metric_tags = [sweep.objective.replace(":", "/"), "validation/perplexity",
                   "validation/accuracy", "train/tokens_per_sec"]
    config = hp.hparams_config_pb(hparams=[hp.HParam(k) for k in keys],
                                  metrics=[hp.Metric(tag) for tag in dict.fromkeys(metric_tags)])
    _write_summary(workdir, config)
    open(root_mark, "w").close()
  for row in table:
    run = os.path.join(workdir, "trials", row["trial"], "tensorboard")
    mark = os.path.join(run, MARK)
    if os.path.exists(mark) or not os.path.isdir(os.path.dirname(run)):
      continue
    values = {k: _value(row["overrides"].get(k)) for k in keys if k in row["overrides"]}
    _write_summary(run, hp.hparams_pb(values, trial_id=row["trial"]))
    open(mark, "w").close()


def _write_summary(folder, summary):
  os.makedirs(folder, exist_ok=True)
  now = time.time()
  name = f"events.out.tfevents.{int(now)}.{socket.gethostname()}.{os.getpid()}.hparams"
  with open(os.path.join(folder, name), "wb") as f:
    writer = RecordWriter(f)
    writer.write(event_pb2.Event(wall_time=now, file_version="brain.Event:2").SerializeToString())
    writer.write(event_pb2.Event(summary=summary, wall_time=now, step=0).SerializeToString())


def _value(v):
  return v if isinstance(v, (bool, int, float, str)) else str(v)
