"""The inference endpoint's HTTP server: SageMaker's container contract (see s2s_jax/bin/serve.py).

GET /ping answers 200 once the model is loaded and compiled; POST /invocations takes
application/json, application/jsonlines or application/x-recordio-protobuf (formats.py).
Concurrent requests are decoded together (dynamic batching, batcher.py).
"""

import dataclasses
import logging
import os
import threading

from s2s_jax.config import DecodeConfig
from s2s_jax.errors import UserError

log = logging.getLogger("s2s_jax")


@dataclasses.dataclass(frozen=True)
class ServeOptions:
  """How the endpoint batches and what it accepts (decoding itself is a DecodeConfig)."""
  host: str = "127.0.0.1"
  port: int = 8080
  max_wait_ms: float = 50.0  # longest time a batch collects waiting requests
  idle_wait_ms: float = 5.0  # a batch stops collecting when no request arrived for this long
  max_request_sentences: int = 1000
  max_body_bytes: int = 6 * 1024 * 1024
  threads: int = 32


def make_server(model_dir, decode: DecodeConfig, options: ServeOptions = ServeOptions(),
                background_load=True):
  """A waitress server (not yet running) whose /ping turns 200 once the model is ready; its
  batches hold up to decode.batch_size sentences."""
  import waitress

  from s2s_jax.inference import Translator
  from s2s_jax.serving.app import Endpoint
  endpoint = Endpoint(options.max_body_bytes, options.max_request_sentences)

  def load():
    translator = Translator.load(model_dir, decode)
    endpoint.load(translator, decode.batch_size, options.max_wait_ms / 1000.0,
                  options.idle_wait_ms / 1000.0)
    log.info("model %s loaded; serving", model_dir)

  def load_or_exit():
    """A model that cannot load ends the process (as a failed container start), not a server
    whose /ping stays 503."""
    try:
      load()
    except UserError as e:
      log.error("cannot serve: %s", e)
      os._exit(2)
    except BaseException:  # noqa: BLE001
      log.exception("loading the model failed")
      os._exit(1)
  if background_load:
    threading.Thread(target=load_or_exit, name="load-model", daemon=True).start()
  else:
    load()
  # waitress's own limit is above ours, so a body up to 16 MiB (spooled to disk past 512 KiB)
  # gets our JSON 413; waitress cuts larger ones off with its plain-text 413 before reading them.
  server = waitress.create_server(endpoint, host=options.host, port=options.port,
                                  threads=options.threads,
                                  max_request_body_size=max(2 * options.max_body_bytes, 16 << 20),
                                  ident="s2s-jax")
  return server, endpoint
