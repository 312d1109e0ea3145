"""The endpoint over real HTTP: the three content types (bodies built with the SageMaker SDK where
it has the piece), dynamic batching, and every bad request answered with a 4xx JSON error while
the server keeps serving."""

import concurrent.futures
import http.client
import io
import json
import os
import shutil
import threading
import time

import jax
import numpy as np
import pytest

import subprocesses
from conftest import built_once, tiny_config
from s2s_jax import checkpoint, trainer
from s2s_jax.data import recordio
from s2s_jax.config import DecodeConfig
from s2s_jax.errors import UserError
from s2s_jax.inference import SourceItem, Translator
from s2s_jax.serving import server as server_lib
from s2s_jax.serving.batcher import DynamicBatcher

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")


def _train_a_copy_model(folder):
  """Trains the fixture model into folder/train (checkpoints 150 and 300) and exports it to
  folder/model: a model that has learnt its copy task, so that the tests' sources translate to
  themselves (rows in attention matrices), however the floats round on this CPU. 300 updates
  copy 32 of 52 random sources exactly; 60 at the old learning rate (0.01) copied none, and
  tipped "1 2 3" to an empty target. Sources of at most 16 tokens: one source bucket, so that
  the server compiles its search twice (with and without attention), not 14 times."""
  trainer.train(tiny_config(train__max_num_batches=300, train__checkpoint_frequency_num_batches=150,
                            train__learning_rate=0.03, train__bleu_sample_size=0,
                            data__max_seq_len_source=16, data__max_seq_len_target=16),
                str(folder / "train"), devices=jax.devices()[:1])
  checkpoint.export_model(str(folder / "train"), str(folder / "model"))
  copies = Translator.load(str(folder / "model"), DecodeConfig(beam_size=2)).translate(
      [["1", "2", "3"], ["4", "5", "6"]])
  assert [c.tokens for c in copies] == [["1", "2", "3"], ["4", "5", "6"]], \
      "the fixture model has not learnt to copy"


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
  """(training workdir with checkpoints 150 and 300, exported model), trained once a session."""
  folder = built_once(tmp_path_factory, "serve_model", _train_a_copy_model)
  return folder / "train", folder / "model"


@pytest.fixture(scope="module")
def server(trained):
  _, model = trained
  srv, endpoint = server_lib.make_server(
      str(model), DecodeConfig(beam_size=2, batch_size=8),
      server_lib.ServeOptions(port=0, max_request_sentences=20, max_body_bytes=4096),
      background_load=False)
  def run():
    try:
      srv.run()
    except OSError:  # close() below pulls the socket from under waitress's select loop
      pass
  thread = threading.Thread(target=run, daemon=True)
  thread.start()
  yield srv.effective_port, endpoint
  srv.close()


def _call(port, method, path, body=b"", headers=None):
  conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
  conn.request(method, path, body=body, headers=headers or {})
  response = conn.getresponse()
  data = response.read()
  conn.close()
  return response.status, response.getheader("Content-Type"), data


def _json_request(port, instances, accept=None):
  from sagemaker.serializers import JSONSerializer
  headers = {"Content-Type": "application/json"}
  if accept:
    headers["Accept"] = accept
  return _call(port, "POST", "/invocations", JSONSerializer().serialize({"instances": instances}),
               headers)


def test_ping(server):
  port, _ = server
  assert _call(port, "GET", "/ping")[0] == 200


def test_json_with_attention_matrix(server):
  port, endpoint = server
  status, ctype, body = _json_request(port, [
      {"data": "1 2 3", "configuration": {"attention_matrix": "true"}},
      {"data": "4 5 unknown-word"}])
  assert status == 200 and ctype == "application/json", body
  predictions = json.loads(body)["predictions"]
  assert len(predictions) == 2 and "matrix" not in predictions[1]
  target = predictions[0]["target"].split()
  matrix = np.array(predictions[0]["matrix"])
  assert target and matrix.shape == (len(target), 3)  # target tokens x source tokens
  expected = endpoint.translator.translate([["1", "2", "3"]])[0].tokens
  assert target == expected


def test_json_nbest(server):
  port, endpoint = server
  status, _, body = _json_request(port, [{"data": "1 2 3", "configuration": {"nbest": "2"}},
                                         {"data": "4 5"}])
  assert status == 200, body
  first, second = json.loads(body)["predictions"]
  assert "nbest" not in second
  expected = endpoint.translator.translate([["1", "2", "3"]], nbest=2)[0].nbest
  assert [(h["target"].split(), h["score"]) for h in first["nbest"]] == [
      (tokens, pytest.approx(score, abs=1e-5)) for tokens, score in expected]
  assert first["target"] == first["nbest"][0]["target"]


def test_jsonlines(server):
  port, _ = server
  body = b'{"source": "1 2 3"}\n{"source": "4"}\n'
  status, ctype, out = _call(port, "POST", "/invocations", body,
                             {"Content-Type": "application/jsonlines"})
  assert status == 200 and ctype == "application/jsonlines"
  lines = [json.loads(line) for line in out.decode().splitlines()]
  assert len(lines) == 2 and all(set(line) == {"target"} for line in lines)


def test_recordio_with_the_sdk(server):
  from sagemaker.amazon import common, record_pb2
  port, endpoint = server
  sources = [[4, 5, 6], [7], [8, 9, 4, 5]]
  buf = io.BytesIO()
  for ids in sources:
    record = record_pb2.Record()
    record.features["source"].int32_tensor.values.extend(ids)
    common._write_recordio(buf, record.SerializeToString())
  status, ctype, out = _call(port, "POST", "/invocations", buf.getvalue(),
                             {"Content-Type": "application/x-recordio-protobuf"})
  assert status == 200 and ctype == "application/x-recordio-protobuf"
  records = common.read_records(io.BytesIO(out))
  got = [list(r.features["target"].int32_tensor.values) for r in records]
  expected = [d.ids for d in endpoint.translator.decoder.decode_items(
      [SourceItem(s) for s in sources])]
  assert got == expected


def test_accept_chooses_the_response_type(server):
  port, _ = server
  status, ctype, out = _json_request(port, [{"data": "1 2"}], accept="application/jsonlines")
  assert status == 200 and ctype == "application/jsonlines"
  assert set(json.loads(out.decode().splitlines()[0])) == {"target"}


BAD = [
    ("invalid JSON", b'{"instances": [', "application/json", None, 400, "not valid JSON"),
    ("no instances", b'{"data": "1 2"}', "application/json", None, 400, '"instances"'),
    ("no data", b'{"instances": [{"text": "1"}]}', "application/json", None, 400,
     'instance 0 has no "data"'),
    ("data not a string", b'{"instances": [{"data": [1, 2]}]}', "application/json", None, 400,
     "'data' must be a string"),
    ("empty data", b'{"instances": [{"data": "  "}]}', "application/json", None, 400,
     "'data' is empty"),
    ("empty body", b"", "application/json", None, 400, "body is empty"),
    ("nbest above the beam", b'{"instances": [{"data": "1", "configuration": {"nbest": "3"}}]}',
     "application/json", None, 400, '"nbest" must be a whole number from 1 to the beam size (2), '
     'got "3"'),
    ("nbest not a number", b'{"instances": [{"data": "1", "configuration": {"nbest": 1.5}}]}',
     "application/json", None, 400, 'got 1.5'),
    ("content type", b"1 2 3", "text/plain", None, 415, "unsupported Content-Type 'text/plain'"),
    ("accept", b'{"instances": [{"data": "1"}]}', "application/json", "text/csv", 406,
     "Accept 'text/csv'"),
    ("truncated RecordIO", recordio.frame(recordio.encode_pair([4, 5], []))[:-3],
     "application/x-recordio-protobuf", None, 400, "truncated record 0"),
    ("ids outside the vocabulary", recordio.frame(recordio.encode_pair([4, 99999], [])),
     "application/x-recordio-protobuf", None, 400, "source token id 99999 is outside"),
    ("too many sentences", json.dumps({"instances": [{"data": "1"}] * 21}).encode(),
     "application/json", None, 413, "21 sentences in one request; the maximum is 20"),
    ("body too large", b"x" * 5000, "application/json", None, 413, "5000 bytes; the maximum is 4096"),
    ("jsonlines without source", b'{"src": "1"}\n', "application/jsonlines", None, 400,
     'line 1 must be an object with a "source" string'),
    ("jsonlines not JSON", b'{"source": "1"}\n{oops\n', "application/jsonlines", None, 400,
     "line 2 is not valid JSON"),
]


@pytest.mark.parametrize("name, body, ctype, accept, status, message", BAD,
                         ids=[b[0] for b in BAD])
def test_bad_requests_get_a_4xx_and_the_server_keeps_serving(server, name, body, ctype, accept,
                                                              status, message):
  port, _ = server
  headers = {"Content-Type": ctype}
  if accept:
    headers["Accept"] = accept
  got, got_type, out = _call(port, "POST", "/invocations", body, headers)
  assert got == status and got_type == "application/json", (name, out)
  assert message in json.loads(out)["error"], out
  assert _json_request(port, [{"data": "1 2"}])[0] == 200


def test_a_10_megabyte_body_is_refused(server):
  port, _ = server
  status, ctype, out = _call(port, "POST", "/invocations", b"x" * (10 * 1024 * 1024),
                             {"Content-Type": "application/json"})
  assert status == 413 and ctype == "application/json"
  assert "the maximum is 4096" in json.loads(out)["error"]
  assert _call(port, "GET", "/ping")[0] == 200


def test_concurrent_clients_get_their_own_answers(server):
  port, endpoint = server
  sentences = [" ".join(str(1 + (i + j) % 7) for j in range(1 + i % 5)) for i in range(24)]
  expected = [" ".join(t.tokens) for t in endpoint.translator.translate([s.split() for s in sentences])]
  with concurrent.futures.ThreadPoolExecutor(12) as pool:
    replies = list(pool.map(lambda s: _json_request(port, [{"data": s}]), sentences))
  assert [json.loads(body)["predictions"][0]["target"] for _, _, body in replies] == expected


def _recording_decoder(calls, gate=None):
  def decode(items):
    calls.append(len(items))
    if gate is not None:
      gate.wait(5)
    return [(item.ids, 0.0, None) for item in items]
  return decode


def test_the_batcher_groups_waiting_requests():
  calls, gate = [], threading.Event()
  batcher = DynamicBatcher(_recording_decoder(calls, gate), max_batch=4, max_wait_s=0.2)
  first = batcher.submit([SourceItem([99])])  # holds the worker in decode until the gate opens
  while not calls:
    time.sleep(0.001)
  futures = [batcher.submit([SourceItem([i])]) for i in range(6)]  # all queued, none taken
  gate.set()
  assert first.result(5)[0][0] == [99]
  assert [f.result(5)[0][0] for f in futures] == [[i] for i in range(6)]
  assert calls == [1, 4, 2]
  big = batcher.translate([SourceItem([9])] * 7, 5)  # larger than a batch: decoded alone
  assert len(big) == 7 and calls[-1] == 7


# A trickle of requests 0.05 s apart (as clients answered together send their next ones): with a
# 1 s idle wait they form one batch; with 1 ms, and 0.25 s between them, one batch each. The
# margins (20x and 250x) keep a busy machine from changing the grouping.
@pytest.mark.parametrize("idle_wait_s, gap_s, expected", [(1.0, 0.05, [4]),
                                                          (0.001, 0.25, [1, 1, 1, 1])])
def test_the_batcher_collects_while_requests_keep_arriving(idle_wait_s, gap_s, expected):
  calls = []
  batcher = DynamicBatcher(_recording_decoder(calls), max_batch=8, max_wait_s=10.0,
                           idle_wait_s=idle_wait_s)
  futures = []
  for i in range(4):
    futures.append(batcher.submit([SourceItem([i])]))
    time.sleep(gap_s)
  assert [f.result(15)[0][0] for f in futures] == [[i] for i in range(4)]
  assert calls == expected


def test_long_sources_are_split_into_chunks(server):
  _, endpoint = server
  decoder = endpoint.translator.decoder
  limit = decoder.config.max_seq_len_source
  long = [4 + i % 5 for i in range(limit * 2 + 3)]
  out, = decoder.decode_items([SourceItem(long, attention=True)])
  ids, att = out.ids, out.attention
  parts = decoder.decode_items([SourceItem(long[i:i + limit]) for i in range(0, len(long), limit)])
  assert ids == [t for p in parts for t in p.ids]
  assert att.shape == (len(ids), len(long))
  first = len(parts[0].ids)
  assert not att[:first, limit:].any() and not att[first:, :limit].any()  # block-diagonal


def test_batch_transform_keeps_the_order_across_chunks(server, tmp_path):
  from s2s_jax.serving import batch_transform
  _, endpoint = server
  sources = [" ".join(str(1 + (i * 3 + j) % 7) for j in range(i % 6)) for i in range(11)]
  folder = tmp_path / "in"
  folder.mkdir()
  (folder / "a.jsonl").write_text("".join(json.dumps({"source": s}) + "\n" + ("\n" if i == 4 else "")
                                          for i, s in enumerate(sources)))
  (folder / "b.jsonl").write_text(json.dumps({"source": "1 2"}) + "\n")
  expected = [" ".join(t.tokens) for t in endpoint.translator.translate([s.split() for s in sources])]
  n = batch_transform.transform_file(endpoint.translator, str(folder / "a.jsonl"),
                                     str(tmp_path / "a.out"), chunk_lines=3)
  got = [json.loads(line)["target"] for line in (tmp_path / "a.out").read_text().splitlines()]
  assert n == 11 and got == expected and got[0] == ""  # the empty source: an empty target
  counts = batch_transform.transform(endpoint.translator, str(folder), str(tmp_path / "out"))
  assert counts == {"a.jsonl": 11, "b.jsonl": 1}
  assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jsonl.out", "b.jsonl.out"]


def test_batch_transform_names_a_bad_line(server, tmp_path):
  from s2s_jax.serving import batch_transform
  from s2s_jax.errors import DataError
  _, endpoint = server
  path = tmp_path / "bad.jsonl"
  path.write_text('{"source": "1 2"}\n\n{"src": "3"}\n')
  with pytest.raises(DataError, match=r"bad.jsonl: line 3 must be an object with a \"source\""):
    batch_transform.transform_file(endpoint.translator, str(path), str(tmp_path / "bad.out"))
  assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]  # no output, no leftovers


def test_attention_plot_writes_a_png(tmp_path):
  from s2s_jax.bin import plot_attention
  path = tmp_path / "att.png"
  plot_attention.plot(np.eye(3)[:, ::-1], ["a", "b", "c"], ["x", "y", "z"], str(path), title="t")
  data = path.read_bytes()
  assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_checkpoint_averaging(trained, tmp_path):
  from s2s_jax.bin import average
  work, _ = trained
  assert average.kept_steps(str(work)) == [150, 300]
  config, mean, _, _ = average.average(str(work), [150, 300])
  a, b = (checkpoint.load_model(str(work), step)[1] for step in ("150", "300"))
  for m, x, y in zip(*(jax.tree_util.tree_leaves(t) for t in (mean, a, b))):
    np.testing.assert_allclose(m, (np.asarray(x) + np.asarray(y)) / 2, rtol=1e-6)
  checkpoint.write_model_dir(str(tmp_path / "avg"), config, mean, *checkpoint.load_model(
      str(work))[2:])
  out = Translator.load(str(tmp_path / "avg"), DecodeConfig(beam_size=2)).translate([["1", "2"]])
  assert len(out) == 1


def test_an_ensemble_of_one_model_twice_decodes_as_the_model(trained):
  work, model = trained
  decode = DecodeConfig(beam_size=3, batch_size=8)
  single = Translator.load(str(model), decode)
  double = Translator.load(f"{model},{work}", decode)  # the same best parameters, twice
  sentences = [["1", "2", "3"], ["4", "4", "5", "6"], []]
  a = single.translate(sentences, with_attention=True)
  b = double.translate(sentences, with_attention=True)
  assert [t.tokens for t in a] == [t.tokens for t in b]
  np.testing.assert_allclose(a[0].attention, b[0].attention, atol=1e-5)
  np.testing.assert_allclose([t.score for t in a], [t.score for t in b], atol=1e-4)


def test_an_ensemble_decodes_with_the_mean_of_its_members_probabilities(trained, tmp_path):
  """Two different models (the checkpoints of steps 150 and 300): greedy decoding of the ensemble
  is the step-by-step argmax of the mean of the members' probabilities, so members whose
  parameters, states or memories were swapped or shared would decode otherwise."""
  import jax.numpy as jnp
  from s2s_jax.data import vocab as vocab_lib
  from s2s_jax.models.seq2seq import Seq2Seq
  work, _ = trained
  dirs = [str(tmp_path / step) for step in ("150", "300")]
  for step, folder in zip(("150", "300"), dirs):
    checkpoint.export_model(str(work), folder, step)
  members = [checkpoint.load_model(d) for d in dirs]
  assert any(not np.allclose(a, b) for a, b in zip(
      jax.tree_util.tree_leaves(members[0][1]), jax.tree_util.tree_leaves(members[1][1])))
  ensemble = Translator.load(",".join(dirs), DecodeConfig(beam_size=1, batch_size=8))
  src_vocab, trg_words = members[0][2], vocab_lib.inverse(members[0][3])
  for sentence in (["1", "2", "3", "4"], ["5", "5", "6"]):
    ids = jnp.array([vocab_lib.ids_from_tokens(sentence, src_vocab)])
    states, max_len = [], ensemble.decoder.max_output_length(len(sentence))
    for config, params, _, _ in members:
      model, variables = Seq2Seq(config, hoist=False), {"params": params}
      enc = model.apply(variables, ids, method=Seq2Seq.encode)
      states.append([model, variables,
                     *model.apply(variables, enc, max_len, method=Seq2Seq.init_state)])
    def mean_probs(prev):
      probs = []
      for state in states:
        model, variables, carry, memory = state
        logits, state[2], _ = model.apply(variables, carry, memory, prev,
                                          method=Seq2Seq.decode_step)
        probs.append(jax.nn.softmax(logits[0]))
      return jnp.mean(jnp.stack(probs), axis=0)
    prev, expected, nll = jnp.array([vocab_lib.BOS_ID]), [], 0.0
    for _ in range(max_len):  # the limit counts </s>
      probs = mean_probs(prev)
      # The last step may only end the sentence: the search forces </s> at the limit.
      token = int(jnp.argmax(probs)) if len(expected) + 1 < max_len else vocab_lib.EOS_ID
      nll -= float(jnp.log(probs[token]))
      if token == vocab_lib.EOS_ID:
        break
      expected.append(token)
      prev = jnp.array([token])
    out = ensemble.translate([sentence])[0]
    assert out.tokens == [trg_words[t] for t in expected if t != vocab_lib.PAD_ID]
    assert out.score == pytest.approx(nll / (len(expected) + 1), abs=1e-4)


def test_an_ensemble_needs_one_vocabulary(trained, tmp_path):
  work, model = trained
  other = tmp_path / "other"
  shutil.copytree(model, other)
  (other / "vocab.trg.json").write_text(json.dumps(
      {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, "zz": 4}))
  with pytest.raises(UserError, match="other vocabularies"):
    Translator.load(f"{model},{other}", DecodeConfig())


def test_the_load_test_counts_requests_and_errors(server):
  from s2s_jax.bin import loadtest
  port, _ = server
  result = loadtest.run(f"http://127.0.0.1:{port}", ["1 2 3", "4 5"], clients=3, seconds=1.0)
  assert result["requests"] > 0 and result["errors"] == 0
  assert len(result["latencies"]) == result["requests"]


def test_a_model_that_cannot_load_ends_the_server_with_a_message(tmp_path):
  out = subprocesses.python("-m", "s2s_jax.bin.serve", f"--workdir={tmp_path}", "--port=0",
                            timeout=120)
  assert out.returncode == 2, out.stderr[-2000:]
  assert f"cannot serve: {tmp_path} is not a model directory" in out.stderr
  assert "Traceback" not in out.stderr
