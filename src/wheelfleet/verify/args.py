"""Argument parsing shared by ``verify`` and ``onboard``: usage errors are one line, status 2."""

from __future__ import annotations

import argparse

USAGE_ERROR = 2  # bad command line or bad inventory: nothing was touched
INCOMPLETE = 3  # the run itself could not finish (e.g. report directory not writable)


class UsageError(Exception):
    """A bad command line; str is the one line to print."""


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")
