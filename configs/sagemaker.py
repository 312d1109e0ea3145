r"""SageMaker's built-in seq2seq, default for default (spec §1): every one of its hyperparameters
at its documented value, RecordIO channels as data, no global-norm clipping (SageMaker has only
the element-wise `clip_gradient`).

Inside a SageMaker training container (reads /opt/ml, see README "SageMaker training"):

  python launch.py --sagemaker

Outside it, the same defaults with your own channels:

  python launch.py --config=configs/sagemaker.py --config.data.rec.train=train.rec \
      --config.data.rec.validation=val.rec --config.data.rec.vocab=vocab_dir

Note: SageMaker's default initialisation (xavier, factor 'in', scale 2.34) can keep an RNN model
from learning (shared/notes/XAVIER_SATURATION.md); --config.model.weight_init_type=uniform
--config.model.weight_init_scale=0.1 is what the other configs use.
"""

from s2s_jax.sagemaker import hyperparameters


def get_config(arg=None):
  del arg
  return hyperparameters.base_config()
