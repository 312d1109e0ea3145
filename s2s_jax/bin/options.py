"""Flags that several programs share, defined once so that each means one thing everywhere.

  --workdir                 the folder of a model: a training workdir or an exported model
  --beam_size, --batch_size, --length_penalty_alpha, --length_penalty_beta,
  --max_output_length_num_stds
                            decoding; unset, each takes the model's saved setting (decode_config.json)
  --checkpoint              which parameters of a training workdir: best, latest or a kept step

Each define_* function may be called by several programs in one process (launch.py defines the
flags of train, translate and serve); a flag already defined is left as it is.
"""

import logging
import sys

from absl import app, flags

from s2s_jax import config as config_lib

FLAGS = flags.FLAGS
DECODE_FLAGS = {
    "beam_size": (flags.DEFINE_integer, "Beam size (1 = greedy)."),
    "batch_size": (flags.DEFINE_integer, "Sentences decoded together (on the endpoint: across "
                   "requests)."),
    "length_penalty_alpha": (flags.DEFINE_float, "Length penalty alpha (spec §5.10)."),
    "length_penalty_beta": (flags.DEFINE_float, "Length penalty beta."),
    "max_output_length_num_stds": (flags.DEFINE_float, "Output length limit: source length x "
                                   "(mean + this many stds) of the training length ratio."),
}


def _define(define, name, default, help_text, **kwargs):
  if name not in FLAGS:
    define(name, default, help_text, **kwargs)
  flags.declare_key_flag(name)  # key to this module; show_in_help passes them on


def show_in_help(*programs):
  """Lists the programs' own flags and the shared ones under `--help`, which shows the flags of
  the module named by sys.argv[0] (a console command's script, not the program module)."""
  for module in (*programs, sys.modules[__name__]):
    for flag in FLAGS.get_key_flags_for_module(module):
      FLAGS.register_key_flag_for_module(sys.argv[0], flag)


def run_program(program, define_flags, main, flags_parser=None):
  """A console command: defines the program's flags, shows them in --help, runs `main`."""
  define_flags()
  show_in_help(program)
  app.run(main, **({"flags_parser": flags_parser} if flags_parser else {}))


def define_workdir(default=None, help_text="Model folder: a training workdir or an exported model."):
  _define(flags.DEFINE_string, "workdir", default, help_text)


def define_decode():
  for name, (define, help_text) in DECODE_FLAGS.items():
    _define(define, name, None, help_text + " Default: the model's saved setting.")
  _define(flags.DEFINE_string, "checkpoint", "best",
          "Parameters of a training workdir: 'best', 'latest' or the step of a kept checkpoint.")


def setup_logging(level="INFO", stream=None):
  """Our log lines (logger "s2s_jax") at `level`, time-stamped; other libraries' (JAX's backend
  probing, Orbax's restore chatter) only from WARNING."""
  logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                      stream=stream, force=True)
  logging.getLogger("s2s_jax").setLevel(level)


def decode_config(workdir):
  """The model's saved decoding settings with every decoding flag that was given on top."""
  from s2s_jax import checkpoint
  saved = checkpoint.load_decode_config(str(workdir).split(",")[0])
  given = {name: FLAGS[name].value for name in DECODE_FLAGS if FLAGS[name].value is not None}
  return config_lib.with_values(saved, given, "--")
