"""The endpoint as a WSGI app: GET /ping, POST /invocations (SageMaker's inference contract).

/ping answers 200 once the model is loaded and its first decode compiled, 503 before. Client
mistakes get a 4xx with {"error": "..."}; the app keeps serving whatever a request holds.
"""

import json
import logging
import threading
import time

from s2s_jax.serving import formats
from s2s_jax.serving.batcher import DynamicBatcher

log = logging.getLogger("s2s_jax")


class Endpoint:
  def __init__(self, max_body_bytes: int = 6 * 1024 * 1024, max_request_sentences: int = 1000,
               timeout_s: float = 60.0):
    """max_body_bytes: SageMaker's own limit for a real-time invocation is 6 MB."""
    self.max_body_bytes = max_body_bytes
    self.max_request_sentences = max_request_sentences
    self.timeout_s = timeout_s
    self.ready = threading.Event()
    self.translator = None
    self.batcher = None

  def load(self, translator, max_batch: int, max_wait_s: float, idle_wait_s: float):
    """Serves `translator` (an inference.Translator) from now on, once its search is compiled for
    every source bucket, with and without attention, so that no request waits for a compile
    (n-best requests, which search exhaustively, compile on first use)."""
    start = time.monotonic()
    for with_attention in (False, True):
      translator.decoder.warm_up(with_attention=with_attention)
    log.info("compiled the search for every source length in %.0f s", time.monotonic() - start)
    self.translator = translator
    self.batcher = DynamicBatcher(translator.decoder.decode_items, max_batch, max_wait_s,
                                  idle_wait_s)
    self.ready.set()

  def __call__(self, environ, start_response):
    method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
    try:
      if path == "/ping" and method == "GET":
        if not self.ready.is_set():
          return _reply(start_response, 503, {"status": "loading"})
        return _reply(start_response, 200, {"status": "ok"})
      if path == "/invocations":
        if method != "POST":
          raise formats.RequestError(405, "/invocations takes POST")
        return self._invoke(environ, start_response)
      raise formats.RequestError(404, f"no route {method} {path}; routes: GET /ping, "
                                 "POST /invocations")
    except formats.RequestError as e:
      return _reply(start_response, e.status, {"error": str(e)})
    except Exception:  # noqa: BLE001 - a bug must not take the server down
      log.exception("request %s %s failed", method, path)
      return _reply(start_response, 500, {"error": "internal error; see the server log"})

  def _invoke(self, environ, start_response):
    if not self.ready.is_set():
      raise formats.RequestError(503, "the model is still loading; retry after GET /ping is 200")
    content_type = formats.media_type(environ.get("CONTENT_TYPE"), formats.JSON)
    accept = formats.response_type(environ.get("HTTP_ACCEPT"), content_type)
    body = _read_body(environ, self.max_body_bytes)
    t = self.translator
    items = formats.parse(body, content_type, t.src_vocab, self.max_request_sentences,
                          t.decoder.decode_config.beam_size, t.subword_models)
    results = self.batcher.translate(items, self.timeout_s)
    payload = formats.render(results, items, accept, t.trg_words, t.subword_models)
    start_response("200 OK", [("Content-Type", accept), ("Content-Length", str(len(payload)))])
    return [payload]


def _read_body(environ, limit):
  try:
    length = int(environ.get("CONTENT_LENGTH") or 0)
  except ValueError:
    raise formats.RequestError(400, "Content-Length is not a number") from None
  if length > limit:
    raise formats.RequestError(413, f"the request body has {length} bytes; the maximum is "
                               f"{limit} (--max_body_bytes)")
  return environ["wsgi.input"].read(length) if length > 0 else b""


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            406: "Not Acceptable", 413: "Payload Too Large", 415: "Unsupported Media Type",
            500: "Internal Server Error", 503: "Service Unavailable"}


def _reply(start_response, status, obj):
  payload = json.dumps(obj).encode()
  start_response(f"{status} {_REASONS[status]}", [("Content-Type", formats.JSON),
                                                  ("Content-Length", str(len(payload)))])
  return [payload]
