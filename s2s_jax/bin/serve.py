r"""`s2s-serve`: the inference endpoint, SageMaker's container contract on port 8080.

  s2s-serve --workdir=/opt/ml/model [--port=8080] [--beam_size=5] [--batch_size=64]
  python launch.py --mode=serve --workdir=runs/lstm_attn          # a training workdir's best

GET /ping answers 200 once the model is loaded and compiled; POST /invocations takes
application/json, application/jsonlines or application/x-recordio-protobuf (see
s2s_jax/serving/formats.py). Concurrent requests are decoded together (dynamic batching), up to
--batch_size sentences. Decoding settings are the model's saved ones unless a flag gives them.
"""

import logging
import sys

from s2s_jax import startup

startup.before_imports()  # before anything imports JAX

from absl import flags  # noqa: E402

from s2s_jax.bin import options  # noqa: E402
from s2s_jax.serving.server import ServeOptions  # noqa: E402

FLAGS = flags.FLAGS
_DEFAULTS = ServeOptions()


def define_flags():
  options.define_workdir("/opt/ml/model")
  options.define_decode()
  flags.DEFINE_string("host", "0.0.0.0", "Interface to listen on.")
  flags.DEFINE_integer("port", _DEFAULTS.port, "Port (SageMaker uses 8080).")
  flags.DEFINE_float("max_wait_ms", _DEFAULTS.max_wait_ms,
                     "Longest time a batch collects waiting requests.")
  flags.DEFINE_float("idle_wait_ms", _DEFAULTS.idle_wait_ms,
                     "A batch stops collecting when no request arrived for this long.")
  flags.DEFINE_integer("max_request_sentences", _DEFAULTS.max_request_sentences,
                       "Sentences one request may hold (else 413).")
  flags.DEFINE_integer("max_body_bytes", _DEFAULTS.max_body_bytes, "Largest request body (else 413).")
  flags.DEFINE_integer("threads", _DEFAULTS.threads, "HTTP worker threads (concurrent requests).")
  flags.DEFINE_enum("log_level", "INFO", ["DEBUG", "INFO", "WARNING"],
                    "DEBUG also logs each decoded batch's size.")


def main(argv):
  del argv
  options.setup_logging(FLAGS.log_level)
  log = logging.getLogger("s2s_jax")
  startup.program()
  from s2s_jax.errors import UserError
  from s2s_jax.serving.server import make_server
  try:
    decode = options.decode_config(FLAGS.workdir)
  except UserError as e:
    log.error("cannot serve: %s", e)
    sys.exit(2)
  serve_options = ServeOptions(FLAGS.host, FLAGS.port, FLAGS.max_wait_ms, FLAGS.idle_wait_ms,
                               FLAGS.max_request_sentences, FLAGS.max_body_bytes, FLAGS.threads)
  server, _ = make_server(FLAGS.workdir, decode, serve_options)
  log.info("serving %s on %s:%s (GET /ping, POST /invocations); beam %d, batches of up to %d",
           FLAGS.workdir, FLAGS.host, server.effective_port, decode.beam_size, decode.batch_size)
  server.run()


def console():
  """The `s2s-serve` command."""
  options.run_program(sys.modules[__name__], define_flags, main)


if __name__ == "__main__":
  console()
