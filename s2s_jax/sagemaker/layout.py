"""The SageMaker container's folders (/opt/ml), each relocatable for tests and local runs.

The root comes from --sagemaker_root or S2S_SAGEMAKER_ROOT (default /opt/ml); single folders from
the variables SageMaker's own training toolkit sets (SM_CHANNEL_TRAIN, SM_MODEL_DIR, ...).
"""

import dataclasses
import os

DEFAULT_ROOT = "/opt/ml"
CHANNELS = ("train", "validation", "vocab")


@dataclasses.dataclass(frozen=True)
class Layout:
  hyperparameters: str  # input/config/hyperparameters.json
  channels: dict  # name -> input/data/<name>
  model: str  # what SageMaker packs into model.tar.gz
  failure: str  # output/failure: the reason SageMaker shows for a failed job
  checkpoints: str  # SageMaker's checkpoint_local_path: synced to S3 when the job configures it

  @classmethod
  def from_env(cls, root: str | None = None, env=None):
    env = os.environ if env is None else env
    root = root or env.get("S2S_SAGEMAKER_ROOT") or DEFAULT_ROOT
    config_dir = env.get("SM_INPUT_CONFIG_DIR", os.path.join(root, "input", "config"))
    return cls(
        hyperparameters=os.path.join(config_dir, "hyperparameters.json"),
        channels={c: env.get(f"SM_CHANNEL_{c.upper()}", os.path.join(root, "input", "data", c))
                  for c in CHANNELS},
        model=env.get("SM_MODEL_DIR", os.path.join(root, "model")),
        failure=os.path.join(env.get("SM_OUTPUT_DIR", os.path.join(root, "output")), "failure"),
        checkpoints=os.path.join(root, "checkpoints"))

  def write_failure(self, message: str):
    """SageMaker shows the first 1024 characters of this file as the job's failure reason."""
    os.makedirs(os.path.dirname(self.failure), exist_ok=True)
    with open(self.failure, "w", encoding="utf-8") as f:
      f.write(message + "\n")
