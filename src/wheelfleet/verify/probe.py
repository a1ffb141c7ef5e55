"""Ask a host what it really is before onboarding touches it: one read-only pyinfra fact run.

``pyinfra --json INVENTORY --limit HOST fact server.Kernel`` runs ``uname -s`` on the host and
prints ``{"server.Kernel": {"HOST": "Linux"}}``; nothing on the host is changed.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from wheelfleet.platforms import platform_of_kernel as platform_of
from wheelfleet.pyinfra_run import pyinfra_executable
from wheelfleet.verify.logscan import connection_errors, host_errors, last_line

KERNEL_FACT = "server.Kernel"  # uname -s


class ProbeError(Exception):
    """The host could not be asked (unreachable, or the fact failed); str is one line."""


@dataclass
class Probe:
    host: str
    kernel: str | None  # uname -s as the host answered it, None when it could not run
    platform: str | None  # linux / macos / windows, None when unknown


def parse_probe(host: str, stdout: str, stderr: str, returncode: int,
                fact: str = KERNEL_FACT) -> Probe:
    """Read the fact run's JSON and log; raise ProbeError (one line) if the host did not answer."""
    connect = connection_errors(stderr).get(host)
    if connect:
        raise ProbeError(f"{host} is unreachable: {connect}")
    try:
        facts = json.loads(stdout) if stdout.strip() else {}
    except json.JSONDecodeError:
        facts = {}
    answers = facts.get(fact) or {}
    if host not in answers:
        said = host_errors(stderr, host)
        raise ProbeError(f"{host}: fact run failed (exit {returncode}): "
                         f"{said[0] if said else last_line(stderr)}")
    kernel = answers[host]
    kernel = kernel.strip() if isinstance(kernel, str) else None
    return Probe(host=host, kernel=kernel, platform=platform_of(kernel))


def probe_host(inventory: str | Path, host: str, timeout: int = 180,
               fact: str = KERNEL_FACT) -> Probe:
    """The host's real platform, read over its inventory connection (changes nothing).
    ``fact`` is what the host answers in ``uname -s``'s place (Windows has no uname)."""
    cmd = [pyinfra_executable(), "--json", "--limit", host, str(inventory), "fact", fact]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ProbeError(f"{host}: no answer to 'uname -s' within {timeout}s") from None
    return parse_probe(host, proc.stdout, proc.stderr, proc.returncode, fact)
