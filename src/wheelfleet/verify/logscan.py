"""Read what pyinfra printed (its stderr) for one host: connection errors and failures.

pyinfra prefixes every per-host line with ``[name] ``; a host it could not connect to gets one
line such as ``[tf3] Could not connect ([Errno None] Unable to connect to port 22 on
127.0.0.33)``.  The report needs that line, cleaned, as the host's one-line ``error``.
"""

from __future__ import annotations

import re

from wheelfleet.report.text import one_line

__all__ = ["connection_errors", "host_errors", "host_lines", "last_line", "one_line",
           "progress_lines", "timeouts"]

# The messages pyinfra's connectors raise through ``raise_connect_error`` (ssh, winrm, local).
CONNECT_ERRORS = (
    "Could not connect",
    "Could not resolve hostname",
    "Authentication error",
    "SSH error",
    "SSH host key error",
    "EOF error",
    "Connection error",
)
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_PREFIX = re.compile(r"^\s*\[(?P<host>[^\]]+)\]\s+(?P<text>.*)$")
_ERROR = re.compile(r"\berror\b|\bfailed\b|could not|timed out", re.IGNORECASE)
# pyinfra: "Command timed out after 20s", then "Error: could not load fact: NAME ARGS";
# wheelfleet's host deadline (verify.deadline): "wheelfleet: timed out after 120 s at STEP".
_STEP_TIMEOUT = re.compile(r"^Command timed out after (?P<seconds>\d+)s")
_FACT_FAILED = re.compile(r"could not load fact: (?P<fact>.+)$")
_DEADLINE = re.compile(r"^wheelfleet: (?P<text>timed out after \d+ s at .+)$")


def host_lines(log: str) -> list[tuple[str, str]]:
    """``(host, text)`` for every per-host line of a pyinfra log, colour codes removed."""
    found = []
    for raw in log.splitlines():
        match = _PREFIX.match(_ANSI.sub("", raw))
        if match:
            found.append((match["host"], match["text"].strip()))
    return found


def connection_errors(log: str) -> dict[str, str]:
    """Host -> its first connection error line, e.g. ``Could not connect (... 127.0.0.33)``."""
    errors: dict[str, str] = {}
    for host, text in host_lines(log):
        if host not in errors and text.startswith(CONNECT_ERRORS):
            errors[host] = one_line(text)
    return errors


def host_errors(log: str, host: str) -> list[str]:
    """Lines of ``host`` that report an error (ignored errors excluded), one line each."""
    return [one_line(text) for name, text in host_lines(log)
            if name == host and _ERROR.search(text) and "(ignored" not in text]


def timeouts(log: str) -> dict[str, str]:
    """Host -> its first timeout, ``timed out after N s at STEP``: a remote step that passed
    its ``_timeout`` (the step named by the fact pyinfra then says it could not load), or the
    host's deadline (``verify.deadline``).  The first one is the cause; later ones follow it."""
    found: dict[str, str] = {}
    pending: dict[str, str] = {}  # host -> seconds of a step timeout whose step is not named yet
    for host, text in host_lines(log):
        if host in found:
            continue
        step = _STEP_TIMEOUT.match(text)
        if step and host not in pending:
            pending[host] = step["seconds"]
            continue
        fact = _FACT_FAILED.search(text)
        if host in pending and fact:
            found[host] = one_line(f"timed out after {pending.pop(host)} s at fact "
                                   f"{fact['fact'].strip()}")
            continue
        deadline = _DEADLINE.match(text)
        if deadline:
            found[host] = one_line(deadline["text"]) if host not in pending else one_line(
                f"timed out after {pending.pop(host)} s at a remote command")
    for host, seconds in pending.items():
        found.setdefault(host, f"timed out after {seconds} s at a remote command")
    return found


def last_line(log: str) -> str:
    """The last non-empty line of a log (what a crashed run said last), or a placeholder."""
    lines = [line for line in log.splitlines() if line.strip()]
    return one_line(lines[-1]) if lines else "no output"


def progress_lines(log: str) -> list[str]:
    """The lines worth echoing after a run: connections, errors and wheelfleet's own notes."""
    keep = []
    for raw in log.splitlines():
        line = _ANSI.sub("", raw).rstrip()
        text = line.strip()
        if not text:
            continue
        match = _PREFIX.match(line)
        if match and (match["text"].startswith(("Connected", *CONNECT_ERRORS))
                      or _ERROR.search(match["text"])):
            keep.append(text)
        elif "wheelfleet:" in text or text.startswith("--> pyinfra error"):
            keep.append(text)
    return keep
