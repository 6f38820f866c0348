"""``python -m descend.cli``: the console script, for when it is not on PATH."""

from descend.cli import entry

entry()
