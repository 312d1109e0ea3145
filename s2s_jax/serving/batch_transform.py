r"""Batch transform: JSON Lines in, JSON Lines out, in the same order (spec §3.3); the program is
`s2s-batch-transform` (s2s_jax/bin/batch_transform.py).

Each input line is {"source": "tok tok ..."}; each output line {"target": "..."} (raw text both
ways for a model trained with SentencePiece subwords). A folder is
translated file by file into OUT_DIR/<name>.out, as SageMaker's batch transform names its outputs.
Lines are read and written in chunks, so a file far larger than memory streams through; an output
is written under a temporary name and renamed when complete. An empty source gives an empty
target (the endpoint answers 400 instead: there a client can fix one request). A malformed line
stops the job with its file and line number.
"""

import json
import os

import tqdm

from s2s_jax.errors import DataError
from s2s_jax.serving import formats

CHUNK_LINES = 4096  # lines decoded per call: enough to fill batches of every length bucket


def _sources(numbered_lines, path, subword_models=None):
  """Token lists of a chunk of (line number, JSON line), segmented by the source model of
  subword_models when given; DataError names the file and line."""
  out = []
  for n, line in numbered_lines:
    try:
      source = formats.jsonline_source(line)
    except ValueError as e:
      raise DataError(f"{path}: line {n} {e}") from None
    out.append(subword_models[0].encode(source) if subword_models else source.split())
  return out


def transform_file(translator, input_path, output_path, beam=None, chunk_lines=CHUNK_LINES):
  """Translates one JSON Lines file; returns the number of lines written."""
  tmp = output_path + ".tmp"
  written = 0
  try:
    with open(input_path, "rb") as src, open(tmp, "w", encoding="utf-8") as out, tqdm.tqdm(
        total=os.path.getsize(input_path), unit="B", unit_scale=True,
        desc=os.path.basename(input_path), disable=None) as bar:
      chunk = []
      for number, raw in enumerate(src, start=1):
        bar.update(len(raw))
        if raw.strip():  # blank lines carry no record
          chunk.append((number, raw.decode("utf-8", errors="replace")))
        if len(chunk) >= chunk_lines:
          written += _write(translator, chunk, input_path, out, beam)
          chunk = []
      if chunk:
        written += _write(translator, chunk, input_path, out, beam)
    os.replace(tmp, output_path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return written


def _write(translator, lines, path, out, beam):
  models = translator.subword_models
  detokenize = models[1].decode if models else " ".join
  for translation in translator.translate(_sources(lines, path, models), beam):
    out.write(json.dumps({"target": detokenize(translation.tokens)}) + "\n")
  return len(lines)


def transform(translator, input_path, output_path, beam=None):
  """A file to a file, or every regular file of a folder to OUTPUT/<name>.out."""
  if os.path.isdir(input_path):
    names = sorted(n for n in os.listdir(input_path)
                   if not n.startswith(".") and os.path.isfile(os.path.join(input_path, n)))
    if not names:
      raise DataError(f"{input_path} holds no input files")
    os.makedirs(output_path, exist_ok=True)
    return {n: transform_file(translator, os.path.join(input_path, n),
                              os.path.join(output_path, n + ".out"), beam) for n in names}
  if not os.path.isfile(input_path):
    raise DataError(f"{input_path} does not exist")
  return {os.path.basename(input_path): transform_file(translator, input_path, output_path, beam)}
