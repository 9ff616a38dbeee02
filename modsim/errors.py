"""Errors that are the user's to fix (a path, a name, a store, a data file, a run's state): the command line
prints their message and exits 2, never a traceback. Anything else is a bug and keeps its traceback."""


class UserError(ValueError):
    """Bad input from the user; the message says what is wrong and what was expected."""


class StoreCorrupt(UserError):
    """A file of a store cannot be read back as modsim wrote it (unreadable or truncated JSON, attributes of
    the wrong type, a missing or corrupt chunk); the message names the run and the array or file."""
