"""Several facts read in one round trip, each still parsed by its own ``process``.

A converged host answers every read of a no-op converge with "nothing to do"; what the run
costs is then the round trips themselves (an SSH channel, a shell and a log line per read, on
the host and on the controller), so ``wheelfleet.facts.once`` reads what a host's roles will ask
for in one go.  Each part runs in its own subshell, its output framed by marker lines that
carry its exit status; a part that failed, or whose command is missing, is left unanswered so
that the caller reads it again on its own and pyinfra handles the failure as it always does.
"""

from __future__ import annotations

import secrets
import shlex
from typing import Any

from pyinfra.api import FactBase, StringCommand

# pyinfra's own "command not found" sentinel is private; this one is ours.
_NO_COMMAND = "##wheelfleet-no-command"


def _text(command: str | StringCommand | None) -> str | None:
    if command is None or isinstance(command, str):
        return command
    return str(command.get_raw_value())


class Together(FactBase):
    """
    The answers of ``parts`` (``(fact class, its keyword arguments)``), in order: each is
    ``{"data": <the fact's value>}`` or ``None`` when that part must be read on its own (it
    exited non-zero or its ``requires_command`` is missing).

    .. code:: python

        host.get_fact(Together, parts=[(DebPackages, {}),
                                       (WheelhouseFiles, {"path": "/var/cache/wheelhouse"})])
        [{"data": {"gcc": ["4:12.2.0-3"], …}}, {"data": ["wheel-0.45.1-py3-none-any.whl"]}]
    """

    default = list

    def command(self, parts: list[tuple[type[FactBase], dict[str, Any]]]) -> str:
        self._facts = [(fact(), kwargs) for fact, kwargs in parts]
        # A fresh token per read: a part's own output cannot end its frame by accident.
        self._mark = f"##wheelfleet-part-{secrets.token_hex(6)}"
        pieces = []
        for index, (fact, kwargs) in enumerate(self._facts):
            command = _text(fact.command(**kwargs))
            needs = _text(fact.requires_command(**kwargs))
            if needs:
                command = (f"if command -v {shlex.quote(needs)} >/dev/null 2>&1; "
                           f"then {command}; else echo '{_NO_COMMAND}'; fi")
            # The end marker's newline comes first, so it starts a line of its own even after
            # output without a final newline; process() takes that newline back off.
            pieces.append(f"echo '{self._mark} {index}'; ( {command}\n); "
                          f"printf '\\n{self._mark} end %s\\n' \"$?\"")
        return "\n".join(pieces) + "\ntrue"

    def process(self, output: list[str]) -> list[dict[str, Any] | None]:
        answers: list[dict[str, Any] | None] = [None] * len(self._facts)
        lines: list[str] | None = None
        index = -1
        for line in output:
            if line.startswith(self._mark + " "):
                word, _, value = line[len(self._mark) + 1:].partition(" ")
                if word == "end" and lines is not None:
                    if lines and lines[-1] == "":
                        lines.pop()
                    if value == "0" and 0 <= index < len(answers):
                        answers[index] = self._answer(index, lines)
                    lines = None
                elif word.isdigit():
                    index, lines = int(word), []
                continue
            if lines is not None:
                lines.append(line)
        return answers

    def _answer(self, index: int, lines: list[str]) -> dict[str, Any] | None:
        fact, _ = self._facts[index]
        if lines == [_NO_COMMAND]:
            return None
        # As pyinfra does: no output at all is the fact's default, not process([]).
        return {"data": fact.process(lines) if lines else fact.default()}
