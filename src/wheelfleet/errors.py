"""Errors that reach a user as one line: which file, which key, what was expected."""

from __future__ import annotations


class InputError(Exception):
    """Bad input in a matrix, overlay or inventory file.

    ``str(err)`` is the one line a user sees, e.g.::

        inventory/example.py: linux.pythons[2]: unknown Python '3.99'; expected one of 2.7, 3.3, ...
    """

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        self.message = message
        super().__init__(f"{file}: {key}: {message}")


def one_of(values: object) -> str:
    """Render the allowed values of a key for an error message."""
    items = [str(v) for v in values]  # type: ignore[attr-defined]
    return "one of " + ", ".join(items) if items else "nothing (none defined)"
