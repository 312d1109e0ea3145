"""Request bodies in, response bodies out, for the three content types of spec §3.

  application/json                  {"instances": [{"data": "tok tok", "configuration":
                                     {"attention_matrix": "true"}}]} -> {"predictions":
                                     [{"target": "...", "matrix": [[...]]}]}
                                    beyond SageMaker, "nbest": "3" in "configuration" adds
                                     "nbest": [{"target": "...", "score": s}, ...], best first
  application/jsonlines             {"source": "tok tok"} per line -> {"target": "..."} per line
  application/x-recordio-protobuf   Records with "source" ids -> Records with "target" ids

A model trained with SentencePiece subwords reads raw text in "data" and "source" and answers raw
text; "input_format": "tokens" in an instance's "configuration" sends it pieces instead ("auto",
the default, is raw text for such a model and tokens for a model of words).

Nothing a client sends is evaluated or unpickled: JSON is parsed by `json`, RecordIO by the
framing reader and protobuf.
"""

import json

import numpy as np

from s2s_jax.data import recordio
from s2s_jax.data import vocab as vocab_lib
from s2s_jax.errors import DataError
from s2s_jax.inference import SourceItem as Item

JSON = "application/json"
JSONLINES = "application/jsonlines"
RECORDIO = "application/x-recordio-protobuf"
CONTENT_TYPES = (JSON, JSONLINES, RECORDIO)
INPUT_FORMATS = ("auto", "raw", "tokens")
ALIASES = {"application/jsonl": JSONLINES, "application/x-jsonlines": JSONLINES}


class RequestError(Exception):
  """What the client did wrong, with the HTTP status to answer."""

  def __init__(self, status: int, message: str):
    super().__init__(message)
    self.status = status


def media_type(header: str | None, default: str | None = None) -> str | None:
  """The media type of a Content-Type or Accept header, lower-cased, without parameters."""
  if not header:
    return default
  value = header.split(";")[0].strip().lower()
  return ALIASES.get(value, value)


def response_type(accept: str | None, content_type: str) -> str:
  """The first acceptable of our types; */* or no Accept answers in the request's type."""
  if not accept:
    return content_type
  for part in accept.split(","):
    value = media_type(part)
    if value in ("*/*", "application/*"):
      return content_type
    if value in CONTENT_TYPES:
      return value
  raise RequestError(406, f"Accept '{accept}' names no type this endpoint writes; "
                     f"supported: {', '.join(CONTENT_TYPES)}")


def parse(body: bytes, content_type: str, src_vocab: dict, max_sentences: int,
          beam_size: int = 1, subword_models=None) -> list[Item]:
  """beam_size: the server's; no request may ask for more hypotheses than that. subword_models:
  the model's (source, target) SentencePiece models, or None."""
  if content_type not in CONTENT_TYPES:
    raise RequestError(415, f"unsupported Content-Type '{content_type}'; supported: "
                       f"{', '.join(CONTENT_TYPES)}")
  if not body:
    raise RequestError(400, "the request body is empty")
  if content_type == RECORDIO:
    items = _parse_recordio(body, len(src_vocab))
  else:
    texts = _parse_json(body, beam_size) if content_type == JSON else _parse_jsonlines(body)
    items = []
    for i, (text, attention, nbest, input_format) in enumerate(texts):
      raw = input_format == "raw" or (input_format == "auto" and subword_models is not None)
      if raw and subword_models is None:
        raise RequestError(400, f'instance {i}: "input_format": "raw" needs a model with '
                           "SentencePiece subwords; this one reads space-separated tokens")
      tokens = subword_models[0].encode(text) if raw else text.split()
      items.append(Item(vocab_lib.ids_from_tokens(tokens, src_vocab), attention, nbest, raw))
  if len(items) > max_sentences:
    raise RequestError(413, f"{len(items)} sentences in one request; the maximum is "
                       f"{max_sentences} (--max_request_sentences)")
  return items


def _json(text, where):
  try:
    return json.loads(text)
  except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
    raise RequestError(400, f"{where} is not valid JSON: {e}") from None


def _text(value, where, key):
  if not isinstance(value, str):
    raise RequestError(400, f"{where}: '{key}' must be a string of space-separated tokens, got "
                       f"{type(value).__name__}")
  if not value.strip():
    raise RequestError(400, f"{where}: '{key}' is empty")
  return value


def _parse_json(body, beam_size):
  request = _json(body, "the request body")
  if not isinstance(request, dict) or "instances" not in request:
    raise RequestError(400, 'the request body must be a JSON object with "instances": '
                       '[{"data": "..."}, ...]')
  instances = request["instances"]
  if not isinstance(instances, list) or not instances:
    raise RequestError(400, '"instances" must be a non-empty list')
  out = []
  for i, instance in enumerate(instances):
    where = f"instance {i}"
    if not isinstance(instance, dict) or "data" not in instance:
      raise RequestError(400, f'{where} has no "data"')
    config = instance.get("configuration") or {}
    if not isinstance(config, dict):
      raise RequestError(400, f'{where}: "configuration" must be an object')
    attention = str(config.get("attention_matrix", "false")).lower() == "true"
    nbest = _nbest(config.get("nbest", 1), beam_size, where)
    input_format = str(config.get("input_format", "auto")).lower()
    if input_format not in INPUT_FORMATS:
      raise RequestError(400, f'{where}: "input_format" must be one of {", ".join(INPUT_FORMATS)}, '
                         f"got {json.dumps(config['input_format'])}")
    out.append((_text(instance["data"], where, "data"), attention, nbest, input_format))
  return out


def _nbest(value, beam_size, where):
  try:
    nbest = int(str(value))  # "3" as SageMaker's configuration values, or 3; not 2.5 or true
  except ValueError:
    nbest = None
  if nbest is None or not 1 <= nbest <= beam_size:
    raise RequestError(400, f'{where}: "nbest" must be a whole number from 1 to the beam size '
                       f"({beam_size}), got {json.dumps(value)}")
  return nbest


def jsonline_source(line) -> str:
  """The "source" string of one JSON Lines record; ValueError says what is wrong with the line
  (the endpoint and batch transform add where it is)."""
  try:
    record = json.loads(line)
  except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
    raise ValueError(f"is not valid JSON: {e}") from None
  if not isinstance(record, dict) or not isinstance(record.get("source"), str):
    shown = line.strip()[:80] if isinstance(line, str) else line.strip()[:80].decode(errors="replace")
    raise ValueError(f'must be an object with a "source" string, got {shown!r}')
  return record["source"]


def _parse_jsonlines(body):
  out = []
  for i, line in enumerate(body.splitlines()):
    if not line.strip():
      continue
    try:
      source = jsonline_source(line)
    except ValueError as e:
      raise RequestError(400, f"line {i + 1} {e}") from None
    out.append((_text(source, f"line {i + 1}", "source"), False, 1, "auto"))
  if not out:
    raise RequestError(400, "the request body holds no JSON lines")
  return out


def _parse_recordio(body, vocab_size):
  try:
    pairs = recordio.read_pairs(body, vocab_size, None, allow_empty_target=True,
                                name="the request body")
  except DataError as e:
    raise RequestError(400, str(e)) from None
  return [Item(pairs.source(i).tolist()) for i in range(len(pairs))]


def render(results, items, accept: str, trg_words, subword_models=None) -> bytes:
  """results: an inference.Decoded per item, in request order; an item sent as raw text is
  answered with raw text (subword_models' target model)."""
  if accept == RECORDIO:
    return b"".join(recordio.frame(_target_record(d.ids)) for d in results)

  def text(ids, item):
    tokens = vocab_lib.tokens_from_ids(ids, trg_words)
    return subword_models[1].decode(tokens) if item.raw else " ".join(tokens)
  targets = [text(d.ids, item) for d, item in zip(results, items)]
  if accept == JSONLINES:
    return "".join(json.dumps({"target": t}) + "\n" for t in targets).encode()
  predictions = []
  for target, decoded, item in zip(targets, results, items):
    prediction = {"target": target}
    if item.attention:
      prediction["matrix"] = np.asarray(decoded.attention).round(6).tolist()
    if item.nbest > 1:
      prediction["nbest"] = [{"target": text(ids, item), "score": round(score, 6)}
                             for ids, score in decoded.nbest]
    predictions.append(prediction)
  return json.dumps({"predictions": predictions}).encode()


def _target_record(ids) -> bytes:
  record = recordio.record_schema.Record()
  tensor = record.features["target"].int32_tensor
  tensor.SetInParent()
  tensor.values.extend(ids)
  return record.SerializeToString()
