"""The one error model of every ``wheelfleet`` command: error class -> one line + exit status.

Exit statuses (the same for every command)::

    0   OK             the command did what was asked (fleet verified, every wheel ok, ...)
    1   FAILED         it ran and the answer is "no" (a check failed, a lab step failed)
    2   USAGE          bad command line or bad input file; nothing was touched
    3   COULD_NOT_RUN  verify/onboard itself could not finish (e.g. report dir not writable)
    130 INTERRUPTED    Ctrl-C

The pattern of a command (``wheelfleet NAME``), in its own module::

    def configure(parser: argparse.ArgumentParser) -> None:
        '''Add the arguments; may set parser.description / parser.formatter_class.'''

    def execute(args: argparse.Namespace) -> int:
        '''Do it; return OK or FAILED.  Errors are raised, never printed here.'''

plus one row in ``wheelfleet.cli.COMMANDS`` (name, one-line help, module, how its usage errors
look).  ``wheelfleet.cli.main`` is the one wrapper: it imports and configures only the chosen
command, lets its parser parse the command's arguments, runs ``execute`` and turns an error into
one line on stderr and the status :func:`error_status` gives.  A command module that is also
run with ``python -m`` (and tests that call it) has ``main(argv=None)``, which is
``wheelfleet.cli.run_as("NAME", argv)``.

Errors, so that no command catches and prints by itself:

* raise a :class:`WheelfleetError` subclass whose ``str`` is one line; the user reads
  ``wheelfleet: <that line>`` and the class attribute ``status`` is the exit status:
  :class:`InputError` (a bad file) and :class:`UsageError` (a bad command line) are 2; a
  package's own error type derives from :class:`WheelfleetError` (1, e.g. ``lab.LabError``);
* exceptions of code that does not raise these (``OSError`` in verify, a probe that could not
  reach the host) are mapped, per command, in :data:`FOREIGN`; they print as
  ``wheelfleet: COMMAND: message``;
* anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import ClassVar

OK = 0
FAILED = 1
USAGE = 2
COULD_NOT_RUN = 3
INTERRUPTED = 130


class WheelfleetError(Exception):
    """An error a user sees as one line (``str(err)``), never as a traceback."""

    status: ClassVar[int] = FAILED


class InputError(WheelfleetError):
    """Bad input in a matrix, overlay or inventory file.

    ``str(err)`` is the one line a user sees, e.g.::

        inventory/example.py: linux.pythons[2]: unknown Python '3.99'; expected one of 2.7, 3.3, ...
    """

    status = USAGE

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        self.message = message
        super().__init__(f"{file}: {key}: {message}")


class UsageError(WheelfleetError):
    """A bad command line, or an argument that names nothing usable; nothing was touched.

    ``prog`` is the parser that refused (``wheelfleet matrix show``); None for the running
    command.  ``usage`` is that parser's usage block, for commands that show it with the error.
    """

    status = USAGE

    def __init__(self, message: str, *, prog: str | None = None,
                 usage: str | None = None) -> None:
        self.message = message
        self.prog = prog
        self.usage = usage
        super().__init__(message)


# Exceptions of code that does not raise the classes above, per command, by qualified class
# name (subclasses match too; nothing is imported for it).
FOREIGN: dict[str, dict[str, int]] = {
    # Report directory not writable, a record the schema rejects: the run could not finish,
    # a status of its own so that a scheduler can tell "fleet failed" from "run failed".
    "verify": {"OSError": COULD_NOT_RUN, "ValueError": COULD_NOT_RUN},
    "onboard": {"OSError": COULD_NOT_RUN, "ValueError": COULD_NOT_RUN,
                # the host could not be asked what it runs (unreachable): it failed
                "wheelfleet.verify.probe.ProbeError": FAILED},
}


def _foreign_status(err: BaseException, command: str) -> int | None:
    table = FOREIGN.get(command, {})
    for cls in type(err).__mro__:
        name = cls.__qualname__ if cls.__module__ == "builtins" else \
            f"{cls.__module__}.{cls.__qualname__}"
        if name in table:
            return table[name]
    return None


def error_status(err: BaseException, command: str) -> int | None:
    """The exit status for ``err`` raised by ``command``; None when it is a bug (traceback)."""
    if isinstance(err, KeyboardInterrupt):
        return INTERRUPTED
    if isinstance(err, WheelfleetError):
        return err.status
    return _foreign_status(err, command)


def error_line(err: BaseException, command: str, prog: str, usage_style: str) -> str:
    """What to print on stderr for an error that :func:`error_status` maps ("" for Ctrl-C).

    A usage error is formatted by ``usage_style`` (``{usage}``, ``{prog}``, ``{message}``),
    naming ``prog`` unless the error names its parser.
    """
    if isinstance(err, KeyboardInterrupt):
        return ""
    if isinstance(err, UsageError):
        return usage_style.format(usage=err.usage or "", prog=err.prog or prog,
                                  message=err.message)
    if isinstance(err, WheelfleetError):
        return f"wheelfleet: {err}"
    return f"wheelfleet: {command}: {err}"


def one_of(values: object) -> str:
    """Render the allowed values of a key for an error message."""
    items = [str(v) for v in values]  # type: ignore[attr-defined]
    return "one of " + ", ".join(items) if items else "nothing (none defined)"
