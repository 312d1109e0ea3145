"""Pieces shared by every config file: `parse_arg` for `file.py:key=value,...` variants and `base()`.

Every key, its default and what it means are in s2s_jax/config.py (one declaration each). Key
names follow SageMaker's hyperparameters where one exists (spec §1), so that a SageMaker user
recognises them; the defaults are this project's, chosen to learn out of the box (see README).
"""

import ml_collections

from s2s_jax import config as config_lib


def parse_arg(arg, **defaults):
  """Parses 'a=1,b=x' into a ConfigDict typed after `defaults`; an unknown key is an error."""
  result = ml_collections.ConfigDict(defaults)
  for item in filter(None, (arg or "").split(",")):
    key, _, value = item.partition("=")
    if key not in defaults:
      raise ValueError(f"unknown config variant '{key}' in '{arg}'; known: {sorted(defaults)}")
    default = defaults[key]
    if isinstance(default, bool):
      result[key] = value.lower() in ("1", "true", "yes", "")
    else:
      result[key] = type(default)(value)
  return result


def base():
  """Every key the trainer reads, with its default (declared once, in s2s_jax/config.py's
  dataclasses). Config files change values, never add keys."""
  return config_lib.default_configdict()
