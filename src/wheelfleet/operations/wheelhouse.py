"""Keep a node-local wheelhouse of pinned build requirements, for offline builds."""

from __future__ import annotations

import re

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation

from wheelfleet.facts.health import WheelhouseFiles


def _has(files: list[str], requirement: str) -> bool:
    name, _, version = requirement.partition("==")
    # Wheel file names normalise the project name (PEP 427): '-' and '.' become '_'.
    prefix = re.sub(r"[-_.]+", "_", name).lower() + "-" + version + "-"
    return any(f.lower().startswith(prefix) for f in files)


@operation()
def wheelhouse(path: str, requirements: list[str], python: str = "python3",
               download_timeout: int | None = 600):
    """
    Ensure ``path`` holds a wheel for every pinned requirement, downloaded once by the node's
    pip from its configured index.

    + path: the wheelhouse directory on the node
    + requirements: pinned ``NAME==VERSION`` strings
    + python: interpreter whose pip downloads
    + download_timeout: seconds before the download is abandoned (GNU ``timeout``); ``None`` on
      a host without it (macOS): give the operation ``_timeout`` instead

    **Example:**

    .. code:: python

        wheelhouse(path="/var/cache/wheelfleet/wheelhouse",
                   requirements=["setuptools==80.9.0", "wheel==0.45.1"])
    """
    files = host.get_fact(WheelhouseFiles, path=path)
    missing = [r for r in requirements if not _has(files, r)]
    if not missing:
        host.noop(f"wheelhouse {path} holds {', '.join(requirements)}")
        return
    yield StringCommand("mkdir", "-p", QuoteString(path))
    bounded = ["timeout", str(download_timeout)] if download_timeout is not None else []
    yield StringCommand(*bounded, python, "-m", "pip", "download",
                        "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
                        "-d", QuoteString(path), *(QuoteString(r) for r in missing))
