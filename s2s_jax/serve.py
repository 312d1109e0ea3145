r"""The inference endpoint: SageMaker's container contract on port 8080.

  python -m s2s_jax.serve --model_dir=/opt/ml/model [--port=8080] [--beam_size=5]
  python launch.py --mode=serve --workdir=runs/lstm_attn          # a training workdir's best

GET /ping answers 200 once the model is loaded and compiled; POST /invocations takes
application/json, application/jsonlines or application/x-recordio-protobuf (see
s2s_jax/serving/formats.py). Concurrent requests are decoded together (dynamic batching).
"""

import logging
import os
import threading

from absl import app, flags

from s2s_jax import xla_setup
from s2s_jax.errors import UserError

FLAGS = flags.FLAGS


def _define_flags():
  """Only when run as a program: launch.py imports make_server beside its own flags."""
  flags.DEFINE_string("model_dir", "/opt/ml/model", "Exported model or training workdir.")
  flags.DEFINE_string("host", "0.0.0.0", "Interface to listen on.")
  flags.DEFINE_integer("port", 8080, "Port (SageMaker uses 8080).")
  flags.DEFINE_integer("beam_size", 5, "Beam size (1 = greedy).")
  flags.DEFINE_integer("max_batch", 64, "Sentences decoded together, across requests.")
  flags.DEFINE_float("max_wait_ms", 50.0, "Longest time a batch collects waiting requests.")
  flags.DEFINE_float("idle_wait_ms", 5.0, "A batch stops collecting when no request arrived for "
                     "this long.")
  flags.DEFINE_integer("max_request_sentences", 1000, "Sentences one request may hold (else 413).")
  flags.DEFINE_integer("max_body_bytes", 6 * 1024 * 1024, "Largest request body (else 413).")
  flags.DEFINE_integer("threads", 32, "HTTP worker threads (concurrent requests in flight).")
  flags.DEFINE_enum("log_level", "INFO", ["DEBUG", "INFO", "WARNING"],
                    "DEBUG also logs each decoded batch's size.")


def make_server(model_dir, host="127.0.0.1", port=8080, beam_size=5, max_batch=64,
                max_wait_ms=50.0, max_request_sentences=1000, max_body_bytes=6 * 1024 * 1024,
                threads=32, background_load=True, idle_wait_ms=5.0):
  """A waitress server (not yet running) whose /ping turns 200 once the model is ready."""
  import waitress

  from s2s_jax.config import DecodeConfig
  from s2s_jax.inference import Translator
  from s2s_jax.serving.app import Endpoint
  endpoint = Endpoint(max_body_bytes, max_request_sentences)

  def load():
    translator = Translator.load(model_dir, DecodeConfig(beam_size=beam_size, batch_size=max_batch))
    endpoint.load(translator, max_batch, max_wait_ms / 1000.0, idle_wait_ms / 1000.0)
    logging.getLogger("s2s_jax").info("model %s loaded; serving", model_dir)

  def load_or_exit():
    """A model that cannot load ends the process (as a failed container start), not a server
    whose /ping stays 503."""
    try:
      load()
    except UserError as e:
      logging.getLogger("s2s_jax").error("cannot serve: %s", e)
      os._exit(2)
    except BaseException:  # noqa: BLE001
      logging.getLogger("s2s_jax").exception("loading the model failed")
      os._exit(1)
  if background_load:
    threading.Thread(target=load_or_exit, name="load-model", daemon=True).start()
  else:
    load()
  # waitress's own limit is above ours, so a body up to 16 MiB (spooled to disk past 512 KiB)
  # gets our JSON 413; waitress cuts larger ones off with its plain-text 413 before reading them.
  server = waitress.create_server(endpoint, host=host, port=port, threads=threads,
                                  max_request_body_size=max(2 * max_body_bytes, 16 << 20),
                                  ident="s2s-jax")
  return server, endpoint


def main(argv):
  del argv
  # Our lines at --log_level; other libraries' (Orbax's restore chatter) only from WARNING.
  logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                      force=True)
  logging.getLogger("s2s_jax").setLevel(FLAGS.log_level)
  server, _ = make_server(FLAGS.model_dir, FLAGS.host, FLAGS.port, FLAGS.beam_size, FLAGS.max_batch,
                          FLAGS.max_wait_ms, FLAGS.max_request_sentences, FLAGS.max_body_bytes,
                          FLAGS.threads, idle_wait_ms=FLAGS.idle_wait_ms)
  logging.getLogger("s2s_jax").info("listening on %s:%s", FLAGS.host, server.effective_port)
  server.run()


if __name__ == "__main__":
  _define_flags()
  xla_setup.command_line()
  app.run(main)
