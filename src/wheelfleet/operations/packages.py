"""Debian packages decided from one read of the package database per host and run."""

from __future__ import annotations

import posixpath

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.facts.deb import DebPackages

from wheelfleet.facts.once import read_once

# Written after a successful refresh, so the next converge can tell how old the lists are.
UPDATE_STAMP = "/var/lib/apt/periodic/update-success-stamp"


@operation()
def debian_packages(packages: list[str], update: bool = True, cache_time: int | None = None):
    """
    Install the *packages* that are missing (no recommends, keeping changed config files),
    refreshing the package lists first only when something is missing: an unconditional
    periodic refresh would show as drift on every nightly dry run.

    + packages: Debian package names
    + update: refresh the lists before installing missing packages
    + cache_time: skip that refresh when the last one is younger than this many seconds

    **Example:**

    .. code:: python

        debian_packages(name="Install build essentials", packages=["gcc", "make"],
                        cache_time=3600, _timeout=1800)
    """
    installed = read_once(DebPackages) or {}
    missing = [p for p in packages if p not in installed]
    if not missing:
        host.noop(f"installed: {', '.join(packages)}")
        return
    if update:
        refresh = (f"apt-get update -q && mkdir -p {posixpath.dirname(UPDATE_STAMP)} "
                   f"&& touch {UPDATE_STAMP}")
        if cache_time:
            # Decided on the host when the operation runs: no second read of its clock.
            minutes = max(1, cache_time // 60)
            refresh = (f'if [ -z "$(find {UPDATE_STAMP} -mmin -{minutes} 2>/dev/null)" ]; '
                       f"then {refresh}; fi")
        yield StringCommand("sh", "-c", QuoteString(refresh))
    yield StringCommand("DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q",
                        "--no-install-recommends", "-o", "Dpkg::Options::=--force-confdef",
                        "-o", "Dpkg::Options::=--force-confold",
                        *(QuoteString(p) for p in missing))
