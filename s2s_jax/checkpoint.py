"""Orbax checkpoints in a workdir:

  workdir/model_config.json, vocab.src.json, vocab.trg.json   what inference needs besides parameters
  workdir/decode_config.json                                  the decoding settings, as defaults
  workdir/checkpoints/<step>/{params,opt_state,meta}          the latest few, for resuming
  workdir/best/<step>/{params,meta}                           the best by the optimized metric

An exported model directory (`export_model`) holds model_config.json, decode_config.json, the two
vocabularies and params/ (what inference needs), and the run's manifest.json when there is one.

Orbax writes each step into a temporary folder and renames it when complete, so a crash during a
save leaves no step that could be loaded half-written (the temporary folder is removed on restart).
The best checkpoint of a step is complete before the latest checkpoint of that step is started, and
a resumed run drops best checkpoints newer than the step it resumes from, so `best` never holds a
step that the resumed run will not reach again.
"""

import os
import shutil

import orbax.checkpoint as ocp

from s2s_jax import manifest
from s2s_jax.config import DecodeConfig, ModelConfig
from s2s_jax.data import subwords
from s2s_jax.data import vocab as vocab_lib
from s2s_jax.errors import UserError

MODEL_CONFIG = "model_config.json"
DECODE_CONFIG = "decode_config.json"
VOCAB_SRC = "vocab.src.json"
VOCAB_TRG = "vocab.trg.json"
PARAMS = "params"
# For loading: Orbax's read_only=True logs a warning per manager, so loads use a manager that
# creates nothing and never saves.
LOAD_OPTIONS = ocp.CheckpointManagerOptions(create=False)


class Checkpoints:
  def __init__(self, workdir: str, keep: int = 2):
    workdir = os.path.abspath(workdir)
    def options(keep):
      return ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                          cleanup_tmp_directories=True)
    self.latest = ocp.CheckpointManager(os.path.join(workdir, "checkpoints"), options=options(keep),
                                        item_names=("params", "opt_state", "meta"))
    # Two bests: after a crash right after a new best, the resumed run drops it and the previous
    # one is still there.
    self.best = ocp.CheckpointManager(os.path.join(workdir, "best"), options=options(2),
                                      item_names=("params", "meta"))

  def save(self, step: int, params, opt_state, meta: dict, is_best: bool):
    """Saves asynchronously (training goes on while the files are written)."""
    if is_best:
      self.best.save(step, args=ocp.args.Composite(
          params=ocp.args.StandardSave(params), meta=ocp.args.JsonSave(meta)))
      self.best.wait_until_finished()
    self.latest.save(step, args=ocp.args.Composite(
        params=ocp.args.StandardSave(params), opt_state=ocp.args.StandardSave(opt_state),
        meta=ocp.args.JsonSave(meta)))

  def restore_latest(self, abstract_params, abstract_opt_state):
    """(params, opt_state, meta) of the latest complete checkpoint, or None."""
    step = self.latest.latest_step()
    if step is None:
      return None
    try:
      out = self.latest.restore(step, args=ocp.args.Composite(
          params=ocp.args.StandardRestore(abstract_params),
          opt_state=ocp.args.StandardRestore(abstract_opt_state), meta=ocp.args.JsonRestore()))
    except (ValueError, KeyError) as e:  # another optimizer or model layout
      raise UserError(f"{self.latest.directory}/{step} does not match this config's model and "
                      f"optimizer ({type(e).__name__}: {str(e)[:300]}); use another --workdir or "
                      "delete it to start afresh") from None
    for newer in [s for s in self.best.all_steps() if s > step]:
      self.best.delete(newer)  # saved just before a crash; this run reaches that step again
    return out.params, out.opt_state, out.meta

  def close(self):
    for manager in (self.latest, self.best):
      manager.wait_until_finished()
      manager.close()


def has_checkpoint(workdir) -> bool:
  """Whether workdir holds a complete latest checkpoint (one a run would resume from)."""
  folder = os.path.join(workdir, "checkpoints")
  return os.path.isdir(folder) and any(name.isdigit() for name in os.listdir(folder))


def write_model_files(workdir, model_config: ModelConfig, decode: DecodeConfig, src_vocab,
                      trg_vocab, vocab_dir=None):
  """Writes the model and decoding configs and the vocabularies (with the SentencePiece models
  kept beside them in vocab_dir, if any), refusing a workdir that holds a different model."""
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, MODEL_CONFIG)
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      saved = ModelConfig.from_json(f.read(), path)
    if saved != model_config:
      diff = [f"{k}: {v} -> {getattr(model_config, k)}" for k, v in vars(saved).items()
              if getattr(model_config, k) != v]
      raise UserError(f"workdir {workdir} holds a model with a different config ({'; '.join(diff)}); "
                      "use another --workdir or delete it to start afresh")
  _atomic_write(path, model_config.to_json())
  _atomic_write(os.path.join(workdir, DECODE_CONFIG), decode.to_json())
  vocab_lib.save_vocab(src_vocab, os.path.join(workdir, VOCAB_SRC))
  vocab_lib.save_vocab(trg_vocab, os.path.join(workdir, VOCAB_TRG))
  if vocab_dir is not None:
    subwords.copy_models(vocab_dir, workdir)


def load_decode_config(model_dir) -> DecodeConfig:
  """The model's saved decoding settings (DecodeConfig's defaults for a model saved without)."""
  if not os.path.exists(os.path.join(model_dir, MODEL_CONFIG)):
    raise UserError(f"{model_dir} is not a model directory: {MODEL_CONFIG} is missing")
  path = os.path.join(model_dir, DECODE_CONFIG)
  if not os.path.exists(path):
    return DecodeConfig()
  with open(path, encoding="utf-8") as f:
    return DecodeConfig.from_json(f.read(), path)


def export_model(workdir, model_dir, which: str = "best") -> int | None:
  """Writes what inference needs (model config, vocabularies, one set of parameters) from a
  training workdir into model_dir; returns the step exported. Parameters are written to a
  temporary folder and renamed, so model_dir never holds half of them."""
  model_config, params, src_vocab, trg_vocab, step = _load(workdir, which)
  write_model_dir(model_dir, model_config, params, src_vocab, trg_vocab,
                  load_decode_config(workdir), manifest.read(workdir), subwords_dir=workdir)
  return step


def write_model_dir(model_dir, model_config: ModelConfig, params, src_vocab, trg_vocab,
                    decode: DecodeConfig | None = None, run_manifest: dict | None = None,
                    subwords_dir=None):
  """An exported model: model_config.json, decode_config.json, the vocabularies, params/ (written
  to a temporary folder and renamed), given one, the manifest of the run it came from, and the
  SentencePiece models of subwords_dir (a model directory), if it has them."""
  os.makedirs(model_dir, exist_ok=True)
  target = os.path.join(os.path.abspath(model_dir), PARAMS)
  tmp = target + ".tmp"
  for old in (tmp, target + ".old"):
    if os.path.exists(old):
      shutil.rmtree(old)
  with ocp.StandardCheckpointer() as checkpointer:
    checkpointer.save(tmp, params)
  if os.path.exists(target):
    os.replace(target, target + ".old")
  os.replace(tmp, target)
  shutil.rmtree(target + ".old", ignore_errors=True)
  _atomic_write(os.path.join(model_dir, MODEL_CONFIG), model_config.to_json())
  _atomic_write(os.path.join(model_dir, DECODE_CONFIG), (decode or DecodeConfig()).to_json())
  vocab_lib.save_vocab(src_vocab, os.path.join(model_dir, VOCAB_SRC))
  vocab_lib.save_vocab(trg_vocab, os.path.join(model_dir, VOCAB_TRG))
  if run_manifest is not None:
    manifest.write(model_dir, run_manifest)
  if subwords_dir is not None:
    subwords.copy_models(subwords_dir, model_dir)


def load_model(workdir, which: str = "best"):
  """(ModelConfig, params, src_vocab, trg_vocab) from a training workdir or an exported model.

  which: 'best' (falls back to the latest when no best exists yet), 'latest', or a step number
  among those kept in workdir/checkpoints. An exported model holds one set of parameters.
  """
  return _load(workdir, which)[:4]


def _load(workdir, which):
  path = os.path.join(workdir, MODEL_CONFIG)
  if not os.path.exists(path):
    raise UserError(f"{workdir} is not a model directory: {MODEL_CONFIG} is missing")
  with open(path, encoding="utf-8") as f:
    model_config = ModelConfig.from_json(f.read(), path)
  src_vocab = vocab_lib.load_vocab(os.path.join(workdir, VOCAB_SRC), "source")
  trg_vocab = vocab_lib.load_vocab(os.path.join(workdir, VOCAB_TRG), "target")
  if os.path.isdir(os.path.join(workdir, PARAMS)):  # an exported model
    if which not in ("best", "latest"):
      raise UserError(f"{workdir} is an exported model with one set of parameters; it has no "
                      f"checkpoint '{which}'")
    with ocp.StandardCheckpointer() as checkpointer:
      params = checkpointer.restore(os.path.join(os.path.abspath(workdir), PARAMS))
    return model_config, params, src_vocab, trg_vocab, None
  params = None
  for sub in (("best", "checkpoints") if which == "best" else ("checkpoints",)):
    folder = os.path.join(os.path.abspath(workdir), sub)
    if not os.path.isdir(folder):
      continue
    with ocp.CheckpointManager(folder, options=LOAD_OPTIONS,
                               item_names=("params",)) as manager:
      step = manager.latest_step()
      if which not in ("best", "latest"):
        if not which.isdigit() or int(which) not in manager.all_steps():
          raise UserError(f"{folder} has no checkpoint '{which}'; kept steps: "
                          f"{sorted(manager.all_steps())}")
        step = int(which)
      if step is not None:
        params = manager.restore(step, args=ocp.args.Composite(
            params=ocp.args.StandardRestore())).params
        break
  if params is None:
    raise UserError(f"{workdir} holds no complete checkpoint")
  return model_config, params, src_vocab, trg_vocab, step


def _atomic_write(path, text):
  tmp = f"{path}.{os.getpid()}.tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(text)
  os.replace(tmp, path)
