"""Sweeps: definitions checked before any trial, the runner's resume / failure / pruning / sharing,
SageMaker tuning ranges, and the results it writes."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import optuna
import pytest
from optuna.trial import TrialState

import subprocesses
from conftest import ONE_DEVICE_XLA_FLAGS
from configs import tiny
from s2s_jax import hyper
from s2s_jax.errors import ConfigError
from s2s_jax.sweeps import definition, runner, sagemaker_ranges, study as study_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The runners and their trials train on one device each (sharding is tested elsewhere).
ENV = {**os.environ, "XLA_FLAGS": ONE_DEVICE_XLA_FLAGS}


def _check(spec, base=None):
  return definition.check(base or tiny.get_config(), "configs/tiny.py", [], spec, "test_sweep")


def _sweep_file(tmp_path, body, name="sweep.py"):
  path = tmp_path / name
  path.write_text("from s2s_jax import hyper\n\n" + textwrap.dedent(body))
  return str(path)


def _cli(*args, timeout=600):
  return subprocesses.python("-m", "s2s_jax.bin.sweep", *args, timeout=timeout, env=ENV)


def _manifest_sessions(folder):
  with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as f:
    return json.load(f)["sessions"]


def _csv_rows(workdir):
  with open(os.path.join(workdir, "results.csv"), encoding="utf-8") as f:
    return list(csv.DictReader(f))


def test_grid_helpers_build_products_and_zips():
  grid = hyper.product([hyper.sweep("model.rnn_cell_type", ["lstm", "gru"]),
                        hyper.zipit([hyper.sweep("model.num_embed_source", [8, 16]),
                                     hyper.sweep("model.num_embed_target", [8, 16])])])
  assert grid == [
      {"model.rnn_cell_type": "lstm", "model.num_embed_source": 8, "model.num_embed_target": 8},
      {"model.rnn_cell_type": "lstm", "model.num_embed_source": 16, "model.num_embed_target": 16},
      {"model.rnn_cell_type": "gru", "model.num_embed_source": 8, "model.num_embed_target": 8},
      {"model.rnn_cell_type": "gru", "model.num_embed_source": 16, "model.num_embed_target": 16}]
  sweep = _check(grid)
  assert sweep.keys() == ["model.rnn_cell_type", "model.num_embed_source", "model.num_embed_target"]
  with pytest.raises(ValueError, match="one length"):
    hyper.zipit([hyper.sweep("a", [1, 2]), hyper.sweep("b", [1])])


def test_trial_names_are_readable_unique_and_short():
  assert definition.trial_name({"model.rnn_cell_type": "gru", "seed": 2}) == "rnn_cell_type=gru+seed=2"
  # Two keys that end alike keep their full names; no comma (it separates ensemble members).
  name = definition.trial_name({"data.batch_size": 8, "decode.batch_size": 4})
  assert name == "data.batch_size=8+decode.batch_size=4"
  long = definition.trial_name({f"model.k{i}": "x" * 20 for i in range(10)})
  assert len(long) <= definition.MAX_NAME and "~" in long
  assert long != definition.trial_name({f"model.k{i}": "y" * 20 for i in range(10)})


@pytest.mark.parametrize("spec, message", [
    ([{"model.no_such_key": 1}], "trial 0 .*unknown config key 'model.no_such_key'"),
    ([{"model.rnn_cell_type": "rnn"}], "rnn_cell_type='rnn' is not allowed; choose one of"),
    ([{"train.learning_rate": "fast"}], "learning_rate"),
    ([], "the sweep is empty"),
    ([{"seed": 1}, {"seed": 1}], "trials 0 and 1 are the same"),
    ([{"train.optimized_metric": "bleu"}], "optimized_metric is the sweep's objective"),
    ("lstm", "must return a list of override dicts or a hyper.search"),
    (hyper.search({}), "the sweep is empty"),
    (hyper.search({"train.learning_rate": hyper.loguniform(1e-4, 1e-2)}, sampler="cma"),
     "sampler 'cma'"),
    (hyper.search({"model.rnn_cell_type": hyper.choice(["lstm", "rnn"])}),
     "rnn_cell_type='rnn' is not allowed"),
    (hyper.search({"train.learning_rate": hyper.loguniform(1e-4, 1e-2)}, sampler="grid"),
     "sampler 'grid' needs categorical or integer keys"),
    (hyper.search({"train.learning_rate": hyper.loguniform(1e-4, 1e-2)},
                  first=[{"train.learning_rate": 0.5}]), "outside its distribution"),
])
def test_bad_sweeps_are_refused_with_the_trial_and_key(spec, message):
  with pytest.raises(ConfigError, match=message):
    _check(spec)


def test_sweep_files_that_do_not_load_are_named(tmp_path):
  base = tiny.get_config()
  broken = _sweep_file(tmp_path, "def get_sweep(:\n", "broken.py")
  with pytest.raises(ConfigError, match=r"broken.py does not import.*SyntaxError"):
    definition.load(base, "configs/tiny.py", [], broken)
  missing = _sweep_file(tmp_path, "GRID = []\n", "nofunc.py")
  with pytest.raises(ConfigError, match="has no get_sweep"):
    definition.load(base, "configs/tiny.py", [], missing)
  raising = _sweep_file(tmp_path, "def get_sweep():\n  return 1 / 0\n", "raises.py")
  with pytest.raises(ConfigError, match="get_sweep.. raised ZeroDivisionError"):
    definition.load(base, "configs/tiny.py", [], raising)
  with pytest.raises(ConfigError, match="does not exist"):
    definition.load(base, "configs/tiny.py", [], str(tmp_path / "absent.py"))


def test_the_command_line_reports_a_bad_sweep_in_one_line_before_any_trial(tmp_path):
  bad = _sweep_file(tmp_path, """
      def get_sweep():
        return hyper.sweep("model.rnn_cell_type", ["lstm", "transformer"])
      """)
  out = _cli("--config=configs/tiny.py", f"--sweep={bad}", f"--workdir={tmp_path / 'w'}")
  assert out.returncode == 2
  assert out.stderr.strip().splitlines()[-1].startswith("error: ")
  assert "trial 1 (rnn_cell_type=transformer): config.model.rnn_cell_type='transformer'" in out.stderr
  assert "Traceback" not in out.stderr
  assert not (tmp_path / "w" / "trials").exists()


@pytest.mark.parametrize("flags, message", [
    (["--workers=0"], "--workers must be at least 1"),
    (["--workers=999"], "--workers=999 but this process may use"),
    (["--max_trials=0"], "--max_trials must be positive"),
    (["--test=only_one_file"], "--test=only_one_file: give SOURCE,REFERENCE"),
    (["--test=/no/such.src,/no/such.ref"], "--test: /no/such.src does not exist"),
    (["--model=/tmp"], "one of --config=FILE"),
])
def test_bad_runner_flags_are_one_line_errors(tmp_path, flags, message):
  out = _cli("--config=configs/tiny.py", "--sweep=configs/tiny_sweep.py",
             f"--workdir={tmp_path / 'w'}", *flags)
  assert out.returncode == 2 and message in out.stderr, out.stderr
  assert "Traceback" not in out.stderr and not (tmp_path / "w" / "trials").exists()


def test_a_sweep_folder_refuses_a_changed_sweep(tmp_path):
  storage = study_lib.open_storage(None, str(tmp_path))
  study_lib.Study(storage, "s", _check(hyper.sweep("seed", [1, 2])))
  study_lib.Study(storage, "s", _check(hyper.sweep("seed", [1, 2])))  # the same: fine
  with pytest.raises(ConfigError, match="made by another sweep: points changed"):
    study_lib.Study(storage, "s", _check(hyper.sweep("seed", [1, 3])))
  other_base = tiny.get_config()
  other_base.train.learning_rate = 0.5
  with pytest.raises(ConfigError, match=r"base changed \(train.learning_rate: 0.001 -> 0.5\)"):
    study_lib.Study(storage, "s", _check(hyper.sweep("seed", [1, 2]), other_base))


def test_the_table_lists_trials_not_started_yet_with_their_overrides(tmp_path):
  from s2s_jax.sweeps import results
  sweep = _check(hyper.product([hyper.sweep("seed", [1, 2]),
                                [{}, {"model.rnn_cell_type": "gru"}]]))
  study = study_lib.Study(study_lib.open_storage(None, str(tmp_path)), "s", sweep)
  rows = results.rows(str(tmp_path), sweep, study.study)
  assert [(r["trial"], r["status"]) for r in rows] == [
      ("seed=1", "waiting"), ("seed=1+rnn_cell_type=gru", "waiting"),
      ("seed=2", "waiting"), ("seed=2+rnn_cell_type=gru", "waiting")]
  cells = results.cell_table(str(tmp_path), rows, sweep.keys(), sweep)
  assert "| baseline | 0/2 |" in cells and "| rnn_cell_type=gru | 0/2 |" in cells


def test_published_figures_stand_beside_their_configurations_and_bad_files_are_named(tmp_path):
  from s2s_jax.sweeps import results
  sweep = _check(hyper.product([hyper.sweep("seed", [1, 2]),
                                [{}, {"model.rnn_cell_type": "gru"}]]))
  study = study_lib.Study(study_lib.open_storage(None, str(tmp_path)), "s", sweep)
  rows = results.rows(str(tmp_path), sweep, study.study)
  paper = tmp_path / "paper.csv"
  paper.write_text("configuration,paper cell,paper BLEU\nrnn_cell_type=gru,LSTM -> GRU,21.78\n")
  cells = results.cell_table(str(tmp_path), rows, sweep.keys(), sweep,
                             published=results.read_published(str(paper)))
  assert "| paper cell | paper BLEU |" in cells.splitlines()[4]
  assert "| rnn_cell_type=gru | 0/2 |" in cells and cells.count("| LSTM -> GRU | 21.78 |") == 1
  assert [line for line in cells.splitlines() if line.startswith("| baseline |")][0].endswith("|  |  |")
  for text, message in [
      ("configuration,paper\nrnn_cell_type=lstm,1\n",
       "configuration rnn_cell_type=lstm is not in this sweep; its configurations are: baseline, "
       "rnn_cell_type=gru"),
      ("cell,paper\nbaseline,1\n", "the first line must be the header"),
      ("configuration,paper\nbaseline,1,2\n", "line 2: 3 fields, the header has 2"),
      ("configuration,paper\nbaseline,1\nbaseline,2\n", "line 3: configuration baseline appears twice")]:
    paper.write_text(text)
    with pytest.raises(ConfigError, match=f"--published={paper}.*{message}"):
      results.cell_table(str(tmp_path), rows, sweep.keys(), sweep,
                         published=results.read_published(str(paper)))
  with pytest.raises(ConfigError, match="--published=.*missing.csv: No such file"):
    results.read_published(str(tmp_path / "missing.csv"))


def test_an_rdb_storage_url_holds_the_study_and_a_bad_one_is_named(tmp_path):
  url = f"sqlite:///{tmp_path / 'study.db'}"  # the RDB path PostgreSQL and MySQL take too
  sweep = _check(hyper.sweep("seed", [1, 2]))
  first = study_lib.Study(study_lib.open_storage(url, str(tmp_path)), "s", sweep)
  second = study_lib.Study(study_lib.open_storage(url, str(tmp_path)), "s", sweep)
  claimed = [first.claim(True), second.claim(True), first.claim(True)]
  assert [t.user_attrs["folder"] for t in claimed[:2]] == ["seed=1", "seed=2"]
  assert claimed[2] is None  # the grid is spent: nothing is run twice
  with pytest.raises(ConfigError, match=r"--storage=sqlite:////nonexistent/dir/x.db: cannot open"):
    study_lib.open_storage("sqlite:////nonexistent/dir/x.db", str(tmp_path))


def test_a_trial_whose_runner_died_is_queued_again_once(tmp_path):
  storage = study_lib.open_storage(None, str(tmp_path))
  sweep = _check(hyper.sweep("seed", [1, 2]))
  first = study_lib.Study(storage, "s", sweep)
  trial = first.claim(allow_new=True)
  dead = subprocesses.start([sys.executable, "-c", "pass"])
  subprocesses.finish(dead, timeout=60)
  trial.set_user_attr("runner", f"{first.runner.rpartition(':')[0]}:{dead.pid}")
  second, third = study_lib.Study(storage, "s", sweep), study_lib.Study(storage, "s", sweep)
  assert second.recover_stale() == [trial.number]
  assert third.recover_stale() == []  # already requeued by the second
  waiting = first.study.get_trials(states=(TrialState.WAITING,))
  resumed = [t for t in waiting if "resumes" in t.user_attrs]
  assert len(resumed) == 1 and resumed[0].user_attrs["folder"] == "seed=1"
  assert second.claim(allow_new=True).user_attrs["folder"] == "seed=1"  # resumes come first


def test_sagemaker_parameter_ranges_become_a_search():
  job = {"HyperParameterTuningJobConfig": {
      "Strategy": "Random",
      "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:perplexity"},
      "ResourceLimits": {"MaxNumberOfTrainingJobs": 7},
      "TrainingJobEarlyStoppingType": "Auto",
      "ParameterRanges": {
          "ContinuousParameterRanges": [
              {"Name": "learning_rate", "MinValue": "0.00005", "MaxValue": "0.2",
               "ScalingType": "Logarithmic"},
              {"Name": "embed_dropout_source", "MinValue": "0.0", "MaxValue": "0.5"},
              {"Name": "plateau_reduce_lr_factor", "MinValue": "0.1", "MaxValue": "0.5",
               "ScalingType": "ReverseLogarithmic"}],
          "IntegerParameterRanges": [
              {"Name": "num_layers_encoder", "MinValue": "1", "MaxValue": "4",
               "ScalingType": "Linear"}],
          "CategoricalParameterRanges": [
              {"Name": "batch_size", "Values": ["16", "32"]},
              {"Name": "rnn_cell_type", "Values": ["lstm", "gru"]}]}}}
  s = sagemaker_ranges.from_json(job)
  assert (s.sampler, s.pruner, s.num_trials) == ("random", "median", 7)
  assert s.space["train.learning_rate"] == hyper.loguniform(0.00005, 0.2)
  assert s.space["model.embed_dropout_source"] == hyper.uniform(0.0, 0.5)  # Auto: one decade
  assert s.space["model.num_layers_encoder"] == hyper.integer(1, 4)
  assert s.space["data.batch_size"] == hyper.choice([16, 32])
  assert s.space["model.rnn_cell_type"] == hyper.choice(["lstm", "gru"])
  # ReverseLogarithmic: 1 - value is log-uniform, so values crowd towards the top of the range.
  assert s.space["train.plateau_reduce_lr_factor"] == hyper.loguniform(0.5, 0.9)
  assert s.transforms["train.plateau_reduce_lr_factor"](0.5) == 0.5
  sweep = _check(s)  # tiny optimizes perplexity, as the job: accepted
  assert sweep.direction == "minimize"
  job["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] = {
      "Type": "Maximize", "MetricName": "validation:bleu"}
  with pytest.raises(ConfigError, match="objective is validation:bleu .* config optimizes "
                     "validation:perplexity"):
    _check(sagemaker_ranges.from_json(job))


def test_a_sagemaker_grid_job_turns_into_the_expected_trials():
  ranges = {"Strategy": "Grid", "ParameterRanges": {
      "CategoricalParameterRanges": [{"Name": "rnn_cell_type", "Values": ["lstm", "gru"]}],
      "IntegerParameterRanges": [{"Name": "num_layers_decoder", "MinValue": "1",
                                  "MaxValue": "2"}]}}
  sweep = _check(sagemaker_ranges.from_json(ranges))
  assert sweep.points == [
      {"model.rnn_cell_type": "lstm", "model.num_layers_decoder": 1},
      {"model.rnn_cell_type": "lstm", "model.num_layers_decoder": 2},
      {"model.rnn_cell_type": "gru", "model.num_layers_decoder": 1},
      {"model.rnn_cell_type": "gru", "model.num_layers_decoder": 2}]


@pytest.mark.parametrize("ranges, message", [
    ({"ContinuousParameterRanges": [{"Name": "learning_rat", "MinValue": "0.1", "MaxValue": "1"}]},
     "unknown hyperparameter 'learning_rat'"),
    ({"ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "0.1"}]},
     "MaxValue is missing"),
    ({"ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "1", "MaxValue": "0.1"}]},
     "MinValue 1.0 is above MaxValue 0.1"),
    ({"ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "0", "MaxValue": "1",
                                     "ScalingType": "Logarithmic"}]}, "needs MinValue > 0"),
    ({"ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "0.1", "MaxValue": "1",
                                     "ScalingType": "Cubic"}]}, "ScalingType 'Cubic'"),
    ({"CategoricalParameterRanges": [{"Name": "rnn_cell_type", "Values": ["lstm", "rnn"]}]},
     r"rnn_cell_type.*choose one of"),
    ({"Strategy": "Annealing", "ParameterRanges": {"CategoricalParameterRanges": [
        {"Name": "rnn_cell_type", "Values": ["lstm"]}]}}, "Strategy 'Annealing'"),
    ({"HyperParameterTuningJobName": "x"}, "no ParameterRanges found"),
])
def test_bad_sagemaker_ranges_are_named(ranges, message):
  with pytest.raises(ConfigError, match=message):
    sagemaker_ranges.from_json(ranges)


# Long enough that a trial is still running after its first checkpoint (step 50) when a test
# interrupts it, or when the pruner (which reads reports every --poll_s, 2 s) stops it: 200 more
# updates take 4-5 s.
STEPS = 250
TRIAL_STEPS = (f"--config.train.max_num_batches={STEPS}",
               "--config.train.checkpoint_frequency_num_batches=50", "--config.train.log_every=50")


# slow: a story of 9 programs (Ctrl-C, resume, report, decoding sweep, retest), 65 s in the suite.
@pytest.mark.slow
def test_a_tiny_sweep_runs_is_killed_resumes_and_records_a_failing_trial(tmp_path):
  sweep = _sweep_file(tmp_path, """
      def get_sweep():
        return [{"model.rnn_cell_type": "lstm", "seed": 1},
                {"model.rnn_cell_type": "gru", "seed": 1},
                {"model.rnn_cell_type": "lstm", "seed": 2},
                # passes the config checks, fails in the trial: its data folder is missing
                {"data.source": "text", "data.text.dir": "/nonexistent/corpus"}]
      """)
  workdir = str(tmp_path / "sweep")
  args = ["--config=configs/tiny.py", *TRIAL_STEPS, f"--sweep={sweep}", f"--workdir={workdir}",
          "--workers=2", "--test=none"]
  proc = subprocesses.start([sys.executable, "-m", "s2s_jax.bin.sweep", *args], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  first = os.path.join(workdir, "trials", "rnn_cell_type=lstm+seed=1")
  deadline = time.time() + 300
  while not _has_checkpoint(first) and time.time() < deadline and proc.poll() is None:
    time.sleep(0.5)
  proc.send_signal(signal.SIGINT)  # Ctrl-C
  out, _ = subprocesses.finish(proc, timeout=300)
  assert proc.returncode == 130, out
  assert "rerun the same command to resume" in out
  assert _manifest_sessions(first)[-1]["status"] == "interrupted"
  interrupted_at = _manifest_sessions(first)[-1]["steps"]
  assert 0 < interrupted_at < STEPS

  out = _cli(*args)
  assert out.returncode == 0, out.stdout + out.stderr
  sessions = _manifest_sessions(first)
  assert [s["status"] for s in sessions] == ["interrupted", "finished"] and sessions[1]["resumed"]
  rows = {r["trial"]: r for r in _csv_rows(workdir)}
  assert len(rows) == 4
  failed = rows["source=text+dir=_nonexistent_corpus"]
  assert failed["status"] == "failed" and "/nonexistent/corpus" in failed["error"]
  for name in ("rnn_cell_type=lstm+seed=1", "rnn_cell_type=gru+seed=1", "rnn_cell_type=lstm+seed=2"):
    assert rows[name]["status"] == "finished"
    assert float(rows[name]["validation:perplexity"]) > 1.0 and rows[name]["params"]
  assert "3 finished" in out.stdout and "1 failed" in out.stdout
  with open(os.path.join(workdir, "curves.png"), "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  md = open(os.path.join(workdir, "results.md"), encoding="utf-8").read()
  assert "| rnn_cell_type=lstm+seed=2 |" in md.replace("**", "") and "/nonexistent/corpus" in md
  assert any(n.startswith("events.out.tfevents") for n in os.listdir(workdir))  # HParams
  # A finished sweep run again has nothing left to do.
  again = _cli(*args)
  assert again.returncode == 0 and "starts on" not in again.stdout
  # The report re-creates the tables from the folder alone.
  os.remove(os.path.join(workdir, "results.md"))
  report = subprocesses.python("-m", "s2s_jax.bin.report", f"--workdir={workdir}",
                               "--baseline=rnn_cell_type=gru", timeout=300)
  assert report.returncode == 0, report.stderr
  assert "Baseline: `rnn_cell_type=gru`" in report.stdout
  assert os.path.exists(os.path.join(workdir, "results.md"))
  _decoding_sweep_on(first, tmp_path)
  _retest(args, workdir, first, tmp_path)


def _retest(args, workdir, trained, tmp_path):
  """--retest scores every finished trial on a (new) test set and rewrites the table."""
  with open(os.path.join(trained, "vocab.src.json"), encoding="utf-8") as f:
    symbols = [t for t in json.load(f) if not t.startswith("<")][:4]
  test = tmp_path / "retest.txt"
  test.write_text(" ".join(symbols) + "\n" + " ".join(reversed(symbols)) + "\n")
  args = [a for a in args if not a.startswith("--test=")] + [f"--test={test},{test}", "--retest"]
  out = _cli(*args)
  assert out.returncode == 0 and "re-tested 3 finished trials" in out.stdout, out.stdout + out.stderr
  rows = {r["trial"]: r for r in _csv_rows(workdir)}
  assert all(rows[n]["test_bleu"] != "" for n in rows if rows[n]["status"] == "finished")
  saved = json.loads(open(os.path.join(trained, "test.json"), encoding="utf-8").read())
  assert saved["reference"] == str(test) and saved["sentences"] == 2


def _decoding_sweep_on(model, tmp_path):
  """Beam sizes on one trained model: each trial translates the test set; objective its BLEU."""
  with open(os.path.join(model, "vocab.src.json"), encoding="utf-8") as f:
    symbols = [t for t in json.load(f) if not t.startswith("<")]
  lines = [" ".join(symbols[(i + j) % len(symbols)] for j in range(2 + i % 4)) for i in range(12)]
  test = tmp_path / "test.txt"
  test.write_text("\n".join(lines) + "\n")  # the copy task: its own reference
  sweep = _sweep_file(tmp_path, """
      def get_sweep():
        return hyper.sweep("decode.beam_size", [1, 2])
      """, "decoding.py")
  workdir = str(tmp_path / "decoding")
  out = _cli(f"--model={model}", f"--sweep={sweep}", f"--workdir={workdir}",
             f"--test={test},{test}")
  assert out.returncode == 0, out.stdout + out.stderr
  rows = {r["trial"]: r for r in _csv_rows(workdir)}
  assert set(rows) == {"beam_size=1", "beam_size=2"}
  for row in rows.values():
    assert row["status"] == "finished" and float(row["test:bleu"]) == float(row["test_bleu"])
  assert os.path.getsize(os.path.join(workdir, "decoding.png")) > 0
  training_key = _sweep_file(tmp_path, """
      def get_sweep():
        return hyper.sweep("train.learning_rate", [0.1])
      """, "not_decoding.py")
  out = _cli(f"--model={model}", f"--sweep={training_key}", f"--workdir={workdir}2",
             f"--test={test},{test}")
  assert out.returncode == 2 and "varies decode.* keys only, not train.learning_rate" in out.stderr


def test_a_trial_that_fails_before_its_session_starts_is_failed_not_resumed_again(tmp_path):
  """A resumed trial whose training refuses to start (here: its folder holds another model)
  leaves the previous session's 'interrupted' in its manifest; it must fail with the reason,
  not be queued again forever."""
  sweep = _sweep_file(tmp_path, """
      def get_sweep():
        return [{"seed": 1}]
      """)
  workdir = tmp_path / "sweep"
  folder = workdir / "trials" / "seed=1"
  (folder / "checkpoints" / "50").mkdir(parents=True)
  other = tiny.get_config().to_dict()
  other["model"]["rnn_cell_type"] = "gru"
  (folder / "manifest.json").write_text(json.dumps(
      {"config": other, "sessions": [{"status": "interrupted", "pid": 1, "steps": 50}]}))
  out = _cli("--config=configs/tiny.py", f"--sweep={sweep}", f"--workdir={workdir}", "--workers=1",
             "--test=none", timeout=300)
  assert out.stdout.count("starts on") == 1, out.stdout
  rows = _csv_rows(str(workdir))
  assert rows[0]["status"] == "failed", rows
  assert "holds a model with a different config (model.rnn_cell_type: 'gru' -> 'lstm')" in \
      rows[0]["error"]


# slow: two runners and their trials, 21 s in the suite.
@pytest.mark.slow
def test_a_killed_runner_stops_its_trials_and_the_next_runner_resumes_them(tmp_path):
  sweep = _sweep_file(tmp_path, """
      def get_sweep():
        return hyper.sweep("seed", [1])
      """)
  workdir = str(tmp_path / "sweep")
  args = ["--config=configs/tiny.py", *TRIAL_STEPS, f"--sweep={sweep}", f"--workdir={workdir}",
          "--test=none"]
  proc = subprocesses.start([sys.executable, "-m", "s2s_jax.bin.sweep", *args], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  trial = os.path.join(workdir, "trials", "seed=1")
  deadline = time.time() + 300
  while not _has_checkpoint(trial) and time.time() < deadline:
    time.sleep(0.5)
  proc.kill()  # SIGKILL to the runner alone: no chance to stop its trial itself
  proc.wait(timeout=60)
  deadline = time.time() + 120
  while _manifest_sessions(trial)[-1]["status"] == "running" and time.time() < deadline:
    time.sleep(0.5)
  assert _manifest_sessions(trial)[-1]["status"] == "interrupted"  # SIGTERM from the kernel
  out = _cli(*args)
  assert out.returncode == 0, out.stdout + out.stderr
  assert "had lost its runner: queued again" in out.stdout
  assert [s["status"] for s in _manifest_sessions(trial)] == ["interrupted", "finished"]


def _sdk_request():
  """A CreateHyperParameterTuningJob request as SageMaker's Python SDK (HyperparameterTuner)
  builds it for the built-in seq2seq: ranges of each kind, and static hyperparameters."""
  return {
      "HyperParameterTuningJobName": "seq2seq-tune",
      "HyperParameterTuningJobConfig": {
          "Strategy": "Bayesian",
          "HyperParameterTuningJobObjective": {"Type": "Minimize",
                                               "MetricName": "validation:perplexity"},
          "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
          "TrainingJobEarlyStoppingType": "Off",
          "ParameterRanges": {
              "ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "0.0001",
                                             "MaxValue": "0.01", "ScalingType": "Logarithmic"}],
              "IntegerParameterRanges": [{"Name": "num_layers_encoder", "MinValue": "1",
                                          "MaxValue": "2", "ScalingType": "Auto"}],
              "CategoricalParameterRanges": [{"Name": "rnn_cell_type",
                                              "Values": ["lstm", "gru"]}]}},
      "TrainingJobDefinition": {
          "StaticHyperParameters": {"max_num_batches": "80", "rnn_num_hidden": "32",
                                    "batch_size": "16",
                                    "_tuning_objective_metric": "validation:perplexity"},
          "AlgorithmSpecification": {"TrainingImage": "seq2seq:1", "TrainingInputMode": "File"},
          "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
          "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
              "S3DataType": "S3Prefix", "S3Uri": "s3://bucket/train"}}}],
          "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
          "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.p3.2xlarge",
                             "VolumeSizeInGB": 30},
          "StoppingCondition": {"MaxRuntimeInSeconds": 86400}}}


def test_a_sagemaker_requests_static_hyperparameters_reach_every_trial(tmp_path, caplog):
  s = sagemaker_ranges.from_json(_sdk_request())
  static = {"train.max_num_batches": 80, "model.rnn_num_hidden": 32, "data.batch_size": 16}
  assert s.fixed == static
  sweep = _check(s)
  study = study_lib.Study(study_lib.open_storage(None, str(tmp_path)), "s", sweep)
  r = runner.Runner(sweep, study, str(tmp_path))
  for _ in range(2):
    trial = study.claim(allow_new=True)
    overrides = r._overrides(trial)
    assert {k: overrides[k] for k in static} == static and "train.learning_rate" in overrides
    command = r.train_command(overrides, str(tmp_path))
    assert {"--config.train.max_num_batches=80", "--config.model.rnn_num_hidden=32",
            "--config.data.batch_size=16"} <= set(command)
  warned = caplog.text
  for part in ("MaxParallelTrainingJobs is not honoured by s2s-sweep: --workers",
               "InputDataConfig is not honoured", "ResourceConfig is not honoured",
               "StoppingCondition is not honoured", "AlgorithmSpecification is not honoured",
               "RoleArn is not honoured", "OutputDataConfig is not honoured",
               "HyperParameterTuningJobName is not honoured"):
    assert part in warned, part
  assert "_tuning_objective_metric" not in warned  # SageMaker's own, and it is the objective


def _request_with(change):
  request = _sdk_request()
  change(request)
  return request


def _static(request):
  return request["TrainingJobDefinition"]["StaticHyperParameters"]


@pytest.mark.parametrize("change, message", [
    (lambda r: _static(r).update(max_num_batchez="80"), "unknown hyperparameter 'max_num_batchez'"),
    (lambda r: _static(r).update(batch_size="sixteen"), "batch_size='sixteen': must be an integer"),
    (lambda r: _static(r).update(rnn_cell_type="gru"), "rnn_cell_type is also tuned"),
    (lambda r: _static(r).update(_tuning_objective_metric="validation:bleu"),
     "_tuning_objective_metric=validation:bleu is not the job's objective"),
    (lambda r: _static(r).update(optimized_metric="bleu"), "train.optimized_metric is the sweep's "
     "objective"),
    (lambda r: r.update(WarmStartConfig={"WarmStartType": "TransferLearning"}),
     "WarmStartConfig: s2s-sweep does not support warm start"),
    (lambda r: r.update(TrainingJobDefinitions=[]), "several training job definitions"),
    (lambda r: r["HyperParameterTuningJobConfig"]["ParameterRanges"].update(AutoParameters=[]),
     "ParameterRanges.AutoParameters: s2s-sweep does not support"),
])
def test_what_a_sagemaker_request_asks_and_s2s_sweep_cannot_do_is_an_error(change, message):
  with pytest.raises(ConfigError, match=message):
    _check(sagemaker_ranges.from_json(_request_with(change)))


# A trial that prints the SIGTERM it gets, then exits (the trainer checkpoints there); the log
# also holds its command, so the tests look for whole lines.
_TRIAL = """
import signal, sys, time
def stop(*_):
  print("SIGTERM", flush=True)
  sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("started", flush=True)
time.sleep(120)
"""


def test_a_trial_starts_in_a_session_of_its_own_with_no_python_between_fork_and_exec(
    tmp_path, monkeypatch):
  """preexec_fn runs Python in the forked child, which is unsafe once the runner has threads."""
  popen, calls = subprocess.Popen, []
  monkeypatch.setattr(runner.subprocess, "Popen",
                      lambda *a, **kw: calls.append(kw) or popen(*a, **kw))
  leads_its_session = "import os; print(os.getsid(0) == os.getpid())"
  proc = runner.Runner._spawn([sys.executable, "-c", leads_its_session], str(tmp_path),
                              runner.Slot("test", {}))
  assert proc.wait(timeout=60) == 0
  assert "preexec_fn" not in calls[0] and calls[0]["start_new_session"]
  assert (tmp_path / "train.log").read_text().splitlines()[-1] == "True"


def test_a_trial_gets_sigterm_when_its_runner_is_killed(tmp_path):
  """The runner's end, cheaply: a stand-in runner starts a trial the runner's way and is
  SIGKILLed; the kernel sends its trial SIGTERM (a real trial then checkpoints and exits)."""
  stand_in = ("import sys, time\n"
              "from s2s_jax.sweeps import runner\n"
              f"runner.Runner._spawn([sys.executable, '-c', {_TRIAL!r}], {str(tmp_path)!r}, "
              "runner.Slot('test', {}))\n"
              "time.sleep(120)\n")
  proc = subprocesses.start([sys.executable, "-c", stand_in])
  log = tmp_path / "train.log"
  _wait_for(lambda: log.exists() and "started" in log.read_text().splitlines())
  proc.kill()  # SIGKILL to the runner alone: its trial is in a session of its own
  proc.wait(timeout=60)
  _wait_for(lambda: "SIGTERM" in log.read_text().splitlines())
  assert log.read_text().splitlines()[-1] == "SIGTERM"


def test_the_runner_takes_up_a_trials_end_without_waiting_out_its_poll():
  """Between two polls (--poll_s, for pruning reports and heartbeats) a slot whose trial has
  ended starts the next one at once; a sleep of the whole poll idled it up to 2 s a trial."""
  quick = subprocesses.start([sys.executable, "-c", "pass"])
  slow = subprocesses.start([sys.executable, "-c", "import time; time.sleep(60)"])
  start = time.monotonic()
  runner.wait_for_an_exit([slow, quick], 60)
  assert quick.poll() == 0 and slow.poll() is None
  assert time.monotonic() - start < 30
  start = time.monotonic()
  runner.wait_for_an_exit([slow], 0.2)  # none ends: the whole wait
  assert 0.2 <= time.monotonic() - start < 30


def _wait_for(condition, timeout=60):
  deadline = time.time() + timeout
  while not condition() and time.time() < deadline:
    time.sleep(0.05)


def _has_checkpoint(folder):
  root = os.path.join(folder, "checkpoints")
  return os.path.isdir(root) and any(n.isdigit() for n in os.listdir(root))


# slow: a runner with 4 trials, long enough for the pruner to see them fall behind (34 s).
@pytest.mark.slow
def test_the_median_pruner_stops_a_trial_that_falls_behind(tmp_path):
  sweep = _sweep_file(tmp_path, """
      def get_sweep():
        lr = "train.learning_rate"
        return hyper.search({lr: hyper.choice([0.02, 1e-7])}, sampler="random", num_trials=3,
                            pruner="median", first=[{lr: 0.02}, {lr: 0.02}, {lr: 1e-7}])
      """)
  workdir = str(tmp_path / "sweep")
  out = _cli("--config=configs/tiny.py", *TRIAL_STEPS, f"--sweep={sweep}", f"--workdir={workdir}",
             "--test=none")
  assert out.returncode == 0, out.stdout + out.stderr
  trials = optuna.load_study(study_name="sweep",
                             storage=study_lib.open_storage(None, workdir)).get_trials()
  assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.COMPLETE,
                                       TrialState.PRUNED], out.stdout
  folder = os.path.join(workdir, "trials", trials[2].user_attrs["folder"])
  assert _manifest_sessions(folder)[-1]["status"] == "interrupted"  # it saved a checkpoint
  assert _has_checkpoint(folder) and _manifest_sessions(folder)[-1]["steps"] < STEPS
  assert "pruned at step 50" in out.stdout


# slow: two runners side by side with their trials, 24 s in the suite.
@pytest.mark.slow
def test_two_runners_on_one_study_never_run_a_trial_twice(tmp_path):
  workdir = str(tmp_path / "sweep")
  args = ["--config=configs/tiny.py", "--sweep=configs/tiny_sweep.py", f"--workdir={workdir}",
          "--workers=1", "--test=none"]
  procs = [subprocesses.start([sys.executable, "-m", "s2s_jax.bin.sweep", *args], env=ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
           for _ in range(2)]
  outs = [subprocesses.finish(p, timeout=600)[0] for p in procs]
  assert all(p.returncode == 0 for p in procs), outs
  started = [line for out in outs for line in out.splitlines() if " starts on " in line]
  assert len(started) == 4 and all(" starts on " in o for o in outs), outs  # both worked
  storage = study_lib.open_storage(None, workdir)
  trials = optuna.load_study(study_name="sweep", storage=storage).get_trials()
  assert sorted(t.user_attrs["folder"] for t in trials) == sorted(
      definition.trial_name(p) for p in hyper.product([
          hyper.sweep("model.rnn_cell_type", ["lstm", "gru"]), hyper.sweep("seed", [1, 2])]))
  assert all(t.state == TrialState.COMPLETE for t in trials)
  for t in trials:
    assert len(_manifest_sessions(os.path.join(workdir, "trials", t.user_attrs["folder"]))) == 1


def test_search_plots_show_importance_and_parallel_coordinates(tmp_path):
  spec = hyper.search({"train.learning_rate": hyper.loguniform(1e-4, 1e-1),
                       "model.rnn_cell_type": hyper.choice(["lstm", "gru"])}, num_trials=8)
  sweep = _check(spec)
  study = optuna.create_study(direction="minimize")
  for i in range(8):
    lr, cell = 10 ** (-4 + 3 * i / 7), ["lstm", "gru"][i % 2]
    study.add_trial(optuna.trial.create_trial(
        params={"train.learning_rate": lr, "model.rnn_cell_type": cell},
        distributions=spec.space, value=abs(lr - 0.003) * 100 + (i % 2),
        user_attrs={"folder": f"{i:03d}", "overrides": {}, "status": "finished"}))
  from s2s_jax.sweeps import results
  results.write(str(tmp_path), sweep, study)
  for name in ("curves.png", "importance.png", "parallel.png", "results.md", "results.csv"):
    assert os.path.getsize(tmp_path / name) > 0, name


def test_the_ready_sagemaker_sweep_and_its_tuning_job_json_are_one_search():
  from configs import sagemaker, sagemaker_tuning
  base = sagemaker.get_config()
  base.train.optimized_metric = "bleu"
  from_file = _check(sagemaker_tuning.get_sweep(), base)
  from_json = _check(sagemaker_ranges.from_file(os.path.join(ROOT, "configs",
                                                              "sagemaker_tuning_job.json")), base)
  assert from_file.search.space == from_json.search.space
  assert (from_json.search.sampler, from_json.search.pruner) == ("tpe", "median")
  assert from_file.objective == from_json.objective == "validation:bleu"
  with pytest.raises(ConfigError, match="config optimizes validation:perplexity"):
    _check(sagemaker_tuning.get_sweep(), sagemaker.get_config())  # SageMaker's default metric


def test_hyperband_prunes_through_the_same_claim_and_report_path(tmp_path):
  spec = hyper.search({"train.learning_rate": hyper.loguniform(1e-4, 1e-1)}, sampler="tpe",
                      num_trials=12, pruner="hyperband")
  study = study_lib.Study(study_lib.open_storage(None, str(tmp_path)), "hb", _check(spec))
  assert isinstance(study.study.pruner, optuna.pruners.HyperbandPruner)
  pruned = 0
  for i in range(12):  # trials that report perplexities, later ones worse: some are stopped
    trial = study.claim(allow_new=True)
    trial.suggest_float("train.learning_rate", 1e-4, 1e-1, log=True)
    for step in range(1, 28):
      trial.report(10.0 + i - step * 0.1, step)
      if trial.should_prune():
        study.study.tell(trial, state=TrialState.PRUNED)
        pruned += 1
        break
    else:
      study.study.tell(trial, 10.0 + i - 2.7)
  assert pruned > 0


def test_curves_share_a_colour_per_configuration_and_a_line_style_per_seed():
  from s2s_jax.sweeps import plots
  assert plots._cell_and_seed("seed=2+rnn_cell_type=gru") == ("rnn_cell_type=gru", "seed=2")
  assert plots._cell_and_seed("seed=1") == ("baseline", "seed=1")
  assert plots._cell_and_seed("lr=0.001+dropout=0.1") == ("lr=0.001+dropout=0.1", "")
