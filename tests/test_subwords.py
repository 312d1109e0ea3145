"""SentencePiece subwords (s2s_jax/data/subwords.py): training from a bounded sample, raw text to
pieces and back, sampling, and the bad inputs a user can give."""

import pathlib

import pytest

from s2s_jax.data import subwords
from s2s_jax.data.vocab import SPECIAL_SYMBOLS, UNK_SYMBOL
from s2s_jax.errors import ConfigError, DataError

WORDS = ("a man in a blue shirt is riding a bike down the street while two dogs run beside "
         "him , and a woman with a red umbrella watches from the corner café").split()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
  folder = tmp_path_factory.mktemp("raw")
  lines = [" ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(4 + i % 9)).capitalize()
           + "." for i in range(400)]
  path = folder / "train.en"
  path.write_text("\n".join(lines) + "\n", encoding="utf-8")
  return path, lines


@pytest.fixture(scope="module", params=subwords.MODEL_TYPES)
def model(corpus, tmp_path_factory, request):
  prefix = tmp_path_factory.mktemp(request.param) / "spm"
  return subwords.Subwords(subwords.train([corpus[0]], prefix, vocab_size=80,
                                          model_type=request.param))


def test_raw_text_round_trips_through_pieces_with_no_special_symbol_among_them(model, corpus):
  _, lines = corpus
  for line in lines[:50]:
    pieces = model.encode(line)
    assert len(pieces) > len(line.split())  # subwords, not words, at 80 pieces
    assert model.decode(pieces) == line
  pieces = model.pieces()
  assert len(pieces) == 79 and UNK_SYMBOL not in pieces
  assert not set(SPECIAL_SYMBOLS) & set(pieces)
  assert len(model.checksum) == 64


def test_sampling_varies_the_segmentation_but_not_the_text(model, corpus):
  line = " ".join(corpus[1][:10])  # long enough that 30 draws never all agree
  samples = {tuple(model.encode(line, alpha=0.2)) for _ in range(30)}
  assert len(samples) > 1
  assert {model.decode(s) for s in samples} == {line}
  assert model.encode(line) == model.encode(line)  # alpha 0: deterministic


def test_training_keeps_a_bounded_sample(corpus, tmp_path):
  # 150 sampled lines of 400 still train a model (memory bounded by the sample, not the corpus;
  # SentencePiece wants more than 100).
  path = subwords.train([corpus[0]], tmp_path / "small", vocab_size=40, max_sentences=150)
  assert subwords.Subwords(path).decode(subwords.Subwords(path).encode("a man")) == "a man"


def test_a_missing_or_damaged_model_file_is_named(tmp_path):
  with pytest.raises(DataError, match=r"SentencePiece model .*nope.model does not exist"):
    subwords.Subwords(tmp_path / "nope.model")
  damaged = tmp_path / "damaged.model"
  damaged.write_bytes(b"\x08\x96\x01 not a model")
  with pytest.raises(DataError, match=r"damaged.model is damaged"):
    subwords.Subwords(damaged)


def test_non_utf8_training_text_is_named_with_its_line(tmp_path):
  path = tmp_path / "latin1.de"
  path.write_bytes("gut\nsch\xf6n\n".encode("latin-1"))
  with pytest.raises(DataError, match=r"latin1.de, line 2: not UTF-8 text"):
    subwords.train([path], tmp_path / "m", vocab_size=40)


def test_a_vocabulary_larger_than_the_text_allows_says_so(corpus, tmp_path):
  with pytest.raises(DataError, match=r"SentencePiece could not train on .*train.en: .*"):
    subwords.train([corpus[0]], tmp_path / "big", vocab_size=5000)


@pytest.mark.parametrize("joint", [True, False])
def test_the_text_source_segments_raw_text_with_models_kept_in_the_workdir(corpus, tmp_path, joint):
  import dataclasses
  import json

  from s2s_jax.config import DataConfig, SubwordConfig, TextConfig
  from s2s_jax.data import sources

  raw = tmp_path / "raw"
  german = _raw_corpus(raw, corpus[1])
  cfg = dataclasses.replace(
      DataConfig(), source="text", text=TextConfig(dir=str(raw)),
      subwords=SubwordConfig(model_type="bpe", vocab_size=70, joint=joint))
  corpus_ = sources.load_corpus(cfg, str(tmp_path / "run"), 0)
  data = tmp_path / "run" / "data"
  src_model = subwords.Subwords(data / subwords.SRC_MODEL)
  trg_model = subwords.Subwords(data / subwords.TRG_MODEL)
  assert (src_model.checksum == trg_model.checksum) == joint
  assert list(corpus_.src_vocab) == SPECIAL_SYMBOLS + src_model.pieces()
  assert list(corpus_.trg_vocab) == SPECIAL_SYMBOLS + trg_model.pieces()
  assert len(corpus_.train) == 300 and len(corpus_.validation) == 40
  # The first pair's ids are its pieces'.
  words = {i: t for t, i in corpus_.trg_vocab.items()}
  _, trg_ids = next(iter(corpus_.train))
  assert trg_model.decode([words[int(i)] for i in trg_ids]) == german[0]
  stamp = json.loads((data / sources.TEXT_MARKER).read_text())
  assert stamp["subwords"]["model_type"] == "bpe" and stamp["subwords"]["joint"] == joint
  assert not list(data.glob("*.tmp*")) and not list(data.glob("*.vocab"))


@pytest.mark.parametrize("key,value,match", [
    ("model_type", "wordpiece", r"config.data.subwords.model_type='wordpiece' is not allowed; "
                                r"choose one of: , unigram, bpe"),
    ("vocab_size", 4, r"config.data.subwords.vocab_size must be at least 8, got 4"),
    ("max_sentences", 50, r"config.data.subwords.max_sentences must be over 100, got 50"),
    ("character_coverage", 0.5, r"config.data.subwords.character_coverage must be in \[0.9, 1\]"),
])
def test_bad_subword_settings_name_their_key(key, value, match):
  from s2s_jax import config as config_lib
  cd = config_lib.default_configdict()
  cd.data.subwords[key] = value
  with pytest.raises(ConfigError, match=match):
    config_lib.from_configdict(cd)


def _raw_corpus(folder, lines):
  folder.mkdir()
  german = [line.replace("man", "Mann").replace("dog", "Hund") for line in lines]
  for split, (start, stop) in (("train", (0, 300)), ("val", (300, 340))):
    (folder / f"{split}.en").write_text("\n".join(lines[start:stop]) + "\n", encoding="utf-8")
    (folder / f"{split}.de").write_text("\n".join(german[start:stop]) + "\n", encoding="utf-8")
  return german


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
  """A tiny model trained on raw text with BPE pieces (chrF choosing checkpoints), and its export:
  (raw text folder, workdir, exported model)."""
  import jax

  from conftest import tiny_config
  from s2s_jax import checkpoint, trainer
  root = tmp_path_factory.mktemp("subword_run")
  raw, work, model = root / "raw", root / "train", root / "model"
  _raw_corpus(raw, corpus[1])
  trainer.train(tiny_config(data__source="text", data__text__dir=str(raw),
                            data__subwords__model_type="bpe", data__subwords__vocab_size=60,
                            train__optimized_metric="chrf", train__bleu_sample_size=0,
                            train__keep_last_checkpoints=2),
                str(work), devices=jax.devices()[:1])
  checkpoint.export_model(str(work), str(model))
  return raw, work, model


DECODE = dict(beam_size=1, batch_size=8)


def test_a_subword_run_validates_raw_text_and_its_models_go_with_the_model(trained, tmp_path):
  """Validation scores raw text (detokenized BLEU and chrF, signature and model checksums in the
  manifest); the workdir, an export and an average carry the models; chrF for a model of words is
  refused by name."""
  import json

  import jax

  from conftest import tiny_config
  from s2s_jax import checkpoint, trainer
  from s2s_jax.bin import average
  from s2s_jax.errors import UserError
  _, work, model = trained
  lines = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
  assert {"validation:bleu", "validation:chrf"} <= set(lines[-1])
  saved = json.loads((work / "manifest.json").read_text())
  assert saved["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|")
  assert saved["subword_models"]["target"] == {
      "file": subwords.TRG_MODEL, "sha256": subwords.Subwords(work / subwords.TRG_MODEL).checksum}
  for folder in (work, model):
    assert (folder / subwords.SRC_MODEL).read_bytes() == (
        work / "data" / subwords.SRC_MODEL).read_bytes()
  average_dir = tmp_path / "avg"
  config, mean, _, _ = average.average(str(work), [4, 8])
  checkpoint.write_model_dir(str(average_dir), config, mean, *checkpoint.load_model(str(work))[2:],
                             subwords_dir=str(work))
  assert (average_dir / subwords.TRG_MODEL).exists()
  with pytest.raises(UserError, match=r"optimized_metric='chrf' needs SentencePiece subwords"):
    trainer.train(tiny_config(train__optimized_metric="chrf"), str(tmp_path / "words"),
                  devices=jax.devices()[:1])


def test_a_subword_model_translates_raw_text_and_refuses_a_mismatched_model(trained, tmp_path):
  import json
  import shutil

  from s2s_jax.config import DecodeConfig
  from s2s_jax.errors import UserError
  from s2s_jax.inference import Translator
  from s2s_jax.serving import batch_transform, formats
  raw, _, model = trained
  decode = DecodeConfig(**DECODE)
  translator = Translator.load(str(model), decode)
  outputs, text_out = translator.translate_text(["A man.", "Two dogs run."])
  assert text_out[0] == translator.subword_models[1].decode(outputs[0].tokens)
  assert not any("▁" in t for t in text_out)  # raw text, not pieces
  (tmp_path / "in.jsonl").write_text('{"source": "A man."}\n', encoding="utf-8")
  batch_transform.transform(translator, str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl"))
  assert json.loads((tmp_path / "out.jsonl").read_text()) == {"target": text_out[0]}
  words = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, "a": 4}
  with pytest.raises(formats.RequestError, match=r'"input_format": "raw" needs a model with '
                                                r"SentencePiece subwords"):
    formats.parse(json.dumps({"instances": [{"data": "a", "configuration": {
        "input_format": "raw"}}]}).encode(), formats.JSON, words, 10)

  # A target model that is not the vocabulary's.
  broken = tmp_path / "broken"
  shutil.copytree(model, broken)
  subwords.train([raw / "train.de"], tmp_path / "other", vocab_size=50, model_type="unigram")
  shutil.copyfile(tmp_path / "other.model", broken / subwords.TRG_MODEL)
  with pytest.raises(DataError, match=r"subwords.trg.model and the target vocabulary of .*broken "
                                      r"disagree"):
    Translator.load(str(broken), decode)
  (broken / subwords.TRG_MODEL).unlink()
  with pytest.raises(DataError, match=r"broken/subwords.trg.model is missing"):
    Translator.load(str(broken), decode)
  (broken / subwords.SRC_MODEL).unlink()
  with pytest.raises(UserError, match=r"has no SentencePiece models .*give it tokenized text"):
    Translator.load(str(broken), decode).translate_text(["A man."])



@pytest.mark.slow  # three programs' start-up and compiles
def test_the_programs_and_the_endpoint_speak_raw_text(trained, tmp_path):
  """s2s-translate reads and writes raw text and scores detokenized sacreBLEU and chrF,
  s2s-plot-attention labels pieces, and the endpoint answers raw text with raw text."""
  import subprocess
  import sys

  from s2s_jax.config import DecodeConfig
  from s2s_jax.inference import Translator
  from test_train import _launch
  raw, _, model = trained
  out = _launch("--mode=translate", f"--workdir={model}", f"--input={raw / 'val.en'}",
                f"--output={tmp_path / 'hyp.de'}", f"--reference={raw / 'val.de'}")
  assert out.returncode == 0, out.stderr[-2000:]
  hyps = (tmp_path / "hyp.de").read_text(encoding="utf-8").splitlines()
  assert len(hyps) == 40 and not any("▁" in h for h in hyps)
  assert "BLEU = " in out.stderr and "tok:13a" in out.stderr and "chrF = " in out.stderr
  decode = DecodeConfig(**DECODE)
  _, (want,) = Translator.load(str(model), decode).translate_text(["A man."])
  _serve_raw_text(model, decode, want)
  plotted = subprocess.run(
      [sys.executable, "-m", "s2s_jax.bin.plot_attention", f"--workdir={model}",
       "--sentence=A man.", f"--output={tmp_path / 'att.png'}", "--beam_size=1"],
      cwd=pathlib.Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=300)
  assert plotted.returncode == 0, plotted.stderr[-2000:]
  assert plotted.stdout.splitlines()[0] == want and (tmp_path / "att.png").stat().st_size


def _serve_raw_text(model, decode, want):
  """The endpoint answers raw text with raw text, and pieces with pieces."""
  import http.client
  import json
  import threading

  from s2s_jax.inference import Translator
  from s2s_jax.serving import server as server_lib

  translator = Translator.load(str(model), decode)
  pieces = " ".join(translator.subword_models[0].encode("A man."))
  srv, _ = server_lib.make_server(str(model), decode, server_lib.ServeOptions(port=0),
                                  background_load=False)
  threading.Thread(target=srv.run, daemon=True).start()
  try:
    def post(body, content_type="application/json"):
      conn = http.client.HTTPConnection("127.0.0.1", srv.effective_port, timeout=60)
      conn.request("POST", "/invocations", body, {"Content-Type": content_type})
      response = conn.getresponse()
      return response.status, response.read()
    status, body = post(json.dumps({"instances": [
        {"data": "A man."}, {"data": pieces, "configuration": {"input_format": "tokens"}}]}))
    assert status == 200, body
    raw, tokens = json.loads(body)["predictions"]
    assert raw["target"] == want and "▁" not in raw["target"]
    assert translator.subword_models[1].decode(tokens["target"].split()) == want
    status, body = post(b'{"source": "A man."}\n', "application/jsonlines")
    assert status == 200 and json.loads(body) == {"target": want}
    status, body = post(json.dumps({"instances": [
        {"data": "A man.", "configuration": {"input_format": "bytes"}}]}))
    assert status == 400
    assert json.loads(body)["error"] == ('instance 0: "input_format" must be one of auto, raw, '
                                         'tokens, got "bytes"')
  finally:
    srv.close()


def test_s2s_preprocess_writes_sagemaker_channels_with_the_models(corpus, tmp_path, capsys):
  """Raw text through s2s-preprocess --subwords: the four channel files plus the models; the rec
  source reads them, and its vocab channel takes the models along (Corpus.vocab_dir)."""
  import dataclasses

  from s2s_jax.bin import preprocess as program
  from s2s_jax.config import DataConfig, RecConfig
  from s2s_jax.data import sources

  raw, out = tmp_path / "raw", tmp_path / "channels"
  _raw_corpus(raw, corpus[1])
  assert program.main([
      "-ts", str(raw / "train.en"), "-tt", str(raw / "train.de"), "-vs", str(raw / "val.en"),
      "-vt", str(raw / "val.de"), "-o", str(out), "--subwords=unigram",
      "--subword-vocab-size=70", "--subword-separate"]) == 0
  assert (out / subwords.SRC_MODEL).read_bytes() != (out / subwords.TRG_MODEL).read_bytes()
  rec = RecConfig(train=str(out / "train.rec"), validation=str(out / "val.rec"), vocab=str(out))
  corpus_ = sources.load_corpus(dataclasses.replace(DataConfig(), source="rec", rec=rec),
                                str(tmp_path / "run"), 0)
  assert len(corpus_.train) == 300 and corpus_.vocab_dir == str(out)
  assert list(corpus_.trg_vocab) == SPECIAL_SYMBOLS + subwords.Subwords(
      out / subwords.TRG_MODEL).pieces()
  assert program.main(["-ts", str(raw / "train.en"), "-tt", str(raw / "train.de"), "-o",
                       str(tmp_path / "x"), "--subwords=bpe", "--subword-vocab-size=4"]) == 2
  assert "config.data.subwords.vocab_size must be at least 8, got 4" in capsys.readouterr().err
