"""Errors that are the user's to fix (a path, a name, a store, a data file, a run's state): the command line
prints their message and exits 2, never a traceback. Anything else is a bug and keeps its traceback."""


class UserError(ValueError):
    """Bad input from the user; the message says what is wrong and what was expected."""
