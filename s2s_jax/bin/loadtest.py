r"""`s2s-loadtest`: load test of a running endpoint, N concurrent clients for T seconds, one
sentence per request.

  s2s-serve --workdir=MODEL --port=8080 &
  s2s-loadtest --url=http://127.0.0.1:8080 --clients=32 --seconds=60 \
      --input=../shared/data/multi30k/test_2016_flickr.en [--workdir=MODEL]

Prints requests/s, sentences/s, p50 / p99 latency and the error count; with --workdir also the
offline decoding rate of the same sentences with that model (its saved beam and batch size, or
the flags: give the server's), for the ratio. A benchmark: it prints figures and never fails on
them.
"""

import http.client
import json
import threading
import time
import urllib.parse

import sys

from s2s_jax import startup

startup.before_imports()  # before anything imports JAX

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

from s2s_jax.bin import options  # noqa: E402

FLAGS = flags.FLAGS


def run(url, sentences, clients=32, seconds=60.0):
  """{"requests", "errors", "seconds", "latencies"} of `clients` threads posting sentences."""
  parsed = urllib.parse.urlparse(url)
  deadline = time.monotonic() + seconds
  latencies, errors, lock = [], [], threading.Lock()

  def client(index):
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=120)
    n = index
    while time.monotonic() < deadline:
      body = json.dumps({"instances": [{"data": sentences[n % len(sentences)]}]})
      n += clients
      start = time.monotonic()
      try:
        conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        ok = response.status == 200
      except (OSError, http.client.HTTPException):
        ok = False
        conn.close()
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=120)
      with lock:
        (latencies if ok else errors).append(time.monotonic() - start)
    conn.close()

  start = time.monotonic()
  threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  return {"requests": len(latencies), "errors": len(errors), "seconds": time.monotonic() - start,
          "latencies": np.array(latencies)}


def main(argv):
  del argv
  f = FLAGS
  with open(f.input, encoding="utf-8") as fh:
    sentences = [line.strip() for line in fh if line.strip()]
  result = run(f.url, sentences, f.clients, f.seconds)
  lat = result["latencies"]
  rate = result["requests"] / result["seconds"]
  print(f"clients={f.clients} seconds={result['seconds']:.1f} requests={result['requests']} "
        f"errors={result['errors']}")
  if len(lat):
    print(f"requests/s={rate:.1f} (= sentences/s) p50={np.percentile(lat, 50) * 1000:.0f} ms "
          f"p99={np.percentile(lat, 99) * 1000:.0f} ms")
  if f.workdir:
    startup.program()
    from s2s_jax.inference import Translator
    translator = Translator.load(f.workdir, options.decode_config(f.workdir))
    tokens = [s.split() for s in sentences]
    translator.translate(tokens)  # compile every shape first
    start = time.monotonic()
    translator.translate(tokens)
    offline = len(tokens) / (time.monotonic() - start)
    print(f"offline sentences/s={offline:.1f}; server/offline={rate / offline:.2f}")


def define_flags():
  flags.DEFINE_string("url", "http://127.0.0.1:8080", "The endpoint.")
  flags.DEFINE_string("input", None, "Tokenized sentences, one per line.", required=True)
  flags.DEFINE_integer("clients", 32, "Concurrent clients.")
  flags.DEFINE_float("seconds", 60.0, "How long to send.")
  options.define_workdir(help_text="Also time offline decoding of this model (the server's).")
  options.define_decode()


def console():
  """The `s2s-loadtest` command."""
  options.run_program(sys.modules[__name__], define_flags, main)


if __name__ == "__main__":
  console()
