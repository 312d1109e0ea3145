r"""Smoke config for tests and CI: synthetic copy data, hidden 16, a few steps.

  python launch.py --config=configs/tiny.py --workdir=/tmp/tiny
"""

from configs import common


def get_config(arg=None):
  del arg
  c = common.base()
  c.data.synthetic.update(task="copy", num_train=256, num_val=32, max_len=6, num_symbols=8)
  c.data.batch_size = 16
  c.data.bucket_width = 4
  c.model.num_embed_source = c.model.num_embed_target = 8
  c.model.rnn_num_hidden = 16
  c.train.checkpoint_frequency_num_batches = 4
  c.train.max_num_batches = 8
  c.train.bleu_sample_size = 16
  c.train.log_every = 2
  c.train.num_examples = 2
  c.decode.beam_size = 3
  c.decode.batch_size = 8
  return c
