"""Errors that are the user's to fix: launch.py prints them as one line, without a traceback."""


class UserError(Exception):
  """Base class: the message names the file, record, key or request and what is wrong."""


class DataError(UserError):
  """A data file (RecordIO, vocabulary, text) is missing, empty or malformed."""


class ConfigError(UserError):
  """A configuration key or value is unknown or invalid."""
