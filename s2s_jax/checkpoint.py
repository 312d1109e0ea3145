"""Orbax checkpoints in a workdir:

  workdir/model_config.json, vocab.src.json, vocab.trg.json   what inference needs besides parameters
  workdir/checkpoints/<step>/{params,opt_state,meta}          the latest few, for resuming
  workdir/best/<step>/{params,meta}                           the best by the optimized metric

Orbax writes each step into a temporary folder and renames it when complete, so a crash during a
save leaves no step that could be loaded half-written.
"""

import os

import orbax.checkpoint as ocp

from s2s_jax.config import ModelConfig
from s2s_jax.data import vocab as vocab_lib
from s2s_jax.errors import UserError

MODEL_CONFIG = "model_config.json"
VOCAB_SRC = "vocab.src.json"
VOCAB_TRG = "vocab.trg.json"
# For loading: Orbax's read_only=True logs a warning per manager, so loads use a manager that
# creates nothing and never saves.
LOAD_OPTIONS = ocp.CheckpointManagerOptions(create=False)


class Checkpoints:
  def __init__(self, workdir: str, keep: int = 2):
    workdir = os.path.abspath(workdir)
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
    self.latest = ocp.CheckpointManager(os.path.join(workdir, "checkpoints"), options=options,
                                        item_names=("params", "opt_state", "meta"))
    self.best = ocp.CheckpointManager(os.path.join(workdir, "best"),
                                      options=ocp.CheckpointManagerOptions(max_to_keep=1, create=True),
                                      item_names=("params", "meta"))

  def save(self, step: int, params, opt_state, meta: dict, is_best: bool):
    self.latest.save(step, args=ocp.args.Composite(
        params=ocp.args.StandardSave(params), opt_state=ocp.args.StandardSave(opt_state),
        meta=ocp.args.JsonSave(meta)))
    if is_best:
      self.best.save(step, args=ocp.args.Composite(
          params=ocp.args.StandardSave(params), meta=ocp.args.JsonSave(meta)))

  def restore_latest(self, abstract_params, abstract_opt_state):
    """(params, opt_state, meta) of the latest complete checkpoint, or None."""
    step = self.latest.latest_step()
    if step is None:
      return None
    out = self.latest.restore(step, args=ocp.args.Composite(
        params=ocp.args.StandardRestore(abstract_params),
        opt_state=ocp.args.StandardRestore(abstract_opt_state), meta=ocp.args.JsonRestore()))
    return out.params, out.opt_state, out.meta

  def close(self):
    for manager in (self.latest, self.best):
      manager.wait_until_finished()
      manager.close()


def write_model_files(workdir, model_config: ModelConfig, src_vocab, trg_vocab):
  """Writes the model config and vocabularies, refusing a workdir that holds a different model."""
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
  vocab_lib.save_vocab(src_vocab, os.path.join(workdir, VOCAB_SRC))
  vocab_lib.save_vocab(trg_vocab, os.path.join(workdir, VOCAB_TRG))


def load_model(workdir, which: str = "best"):
  """(ModelConfig, params, src_vocab, trg_vocab) from a training workdir, for inference.

  which: 'best' (falls back to the latest when no best exists yet), 'latest', or a step number
  among those kept in workdir/checkpoints.
  """
  path = os.path.join(workdir, MODEL_CONFIG)
  if not os.path.exists(path):
    raise UserError(f"{workdir} is not a model directory: {MODEL_CONFIG} is missing")
  with open(path, encoding="utf-8") as f:
    model_config = ModelConfig.from_json(f.read(), path)
  src_vocab = vocab_lib.load_vocab(os.path.join(workdir, VOCAB_SRC), "source")
  trg_vocab = vocab_lib.load_vocab(os.path.join(workdir, VOCAB_TRG), "target")
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
  return model_config, params, src_vocab, trg_vocab


def _atomic_write(path, text):
  tmp = path + ".tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(text)
  os.replace(tmp, path)
