"""Keep a node-local wheelhouse of pinned build requirements, for offline builds."""

from __future__ import annotations

import re

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation

from wheelfleet.facts.health import WheelhouseFiles
from wheelfleet.facts.once import read_once
from wheelfleet.lock.records import canonical_pin, requirement_lines
from wheelfleet.matrix.query import build_requirements_for, parse_build_requirements
from wheelfleet.operations.fleet import refuse

# A refusal fails this host when the operation runs, never the whole fleet's run.
_refuse = refuse._inner


def missing_per_python(wanted: dict[str | None, list[str]], files: list[str]
                       ) -> dict[str | None, list[str]]:
    """Per target Python, the pins the wheelhouse's *files* lack, each to be fetched once."""
    downloads: dict[str | None, list[str]] = {}
    planned: set[str] = set()
    for version, pins in wanted.items():
        missing = [pin for pin in pins if not holds_wheel(files, pin) and pin not in planned]
        planned.update(missing)
        if missing:
            downloads[version] = missing
    return downloads


def locked_pins(downloads: dict[str | None, list[str]], hashes: dict[str, list[str]]
                ) -> tuple[dict[str, list[str]], list[str]]:
    """The lock's sha256s by canonical pin, and the pins to download that it has none for."""
    locked = {canonical_pin(pin): shas for pin, shas in hashes.items() if shas}
    return locked, [pin for pins in downloads.values() for pin in pins
                    if canonical_pin(pin) not in locked]


def holds_wheel(files: list[str], requirement: str) -> bool:
    name, _, version = requirement.partition("==")
    # Wheel file names normalise the project name (PEP 427): '-' and '.' become '_'.
    prefix = re.sub(r"[-_.]+", "_", name).lower() + "-" + version + "-"
    return any(f.lower().startswith(prefix) for f in files)


def pins_per_python(requirements: list[str], python_versions: list[str] | None
                    ) -> dict[str | None, list[str]]:
    """Target Python (``"2.7"``; ``None``: the downloading interpreter) -> its pins.

    ``requirements`` is ``canary.build_requirements``' form: pins, some with a
    ``python_version`` marker.  Without target Pythons only the unmarked pins count (the
    matrix's default, for the newest Pythons), as pip would not know which marked one to take.
    """
    if python_versions is None:
        return {None: [pin for _, pin, marker in parse_build_requirements(requirements)
                       if marker is None]}
    return {version: build_requirements_for(requirements, version)
            for version in dict.fromkeys(python_versions)}


@operation()
def wheelhouse(path: str, requirements: list[str], python: str = "python3",
               download_timeout: int | None = 600, python_versions: list[str] | None = None,
               hashes: dict[str, list[str]] | None = None):
    """
    Ensure ``path`` holds a wheel for every pinned requirement each target Python needs,
    downloaded once by the node's pip from its configured index.

    + path: the wheelhouse directory on the node
    + requirements: pinned ``NAME==VERSION`` strings, optionally with a ``python_version``
      marker (the matrix's ``canary.build_requirements``: per project the first matching entry
      wins, the unmarked one serves every other Python)
    + python: interpreter whose pip downloads
    + download_timeout: seconds before the download is abandoned (GNU ``timeout``); ``None`` on
      a host without it (macOS): give the operation ``_timeout`` instead
    + python_versions: the Pythons (``"2.7"``, ``"3.12"``) the wheelhouse serves; each one's
      pins are downloaded with ``--python-version``, so pip checks the wheel's tags and
      Requires-Python against that Python, not the downloading one.  ``None``: the unmarked
      pins, for the downloading interpreter
    + hashes: ``NAME==VERSION`` -> the sha256s ``wheelfleet lock`` recorded for its files
      (``wheelfleet.lock.needs.locked``); pip downloads with ``--require-hashes``, and a pin
      without hashes is refused, this host only, before anything is fetched

    **Example:**

    .. code:: python

        wheelhouse(path="/Library/Caches/wheelfleet/wheelhouse",
                   requirements=["setuptools==44.1.1; python_version < '3'",
                                 "setuptools==80.9.0", "wheel==0.45.1"],
                   python_versions=["2.7", "3.12"],
                   hashes={"setuptools==44.1.1": ["e6a2…"], "setuptools==80.9.0": ["062d…"],
                           "wheel==0.45.1": ["708e…"]})
    """
    wanted = pins_per_python(requirements, python_versions)
    files = read_once(WheelhouseFiles, path=path)
    downloads = missing_per_python(wanted, files)
    if not downloads:
        every = list(dict.fromkeys(pin for pins in wanted.values() for pin in pins))
        serves = ("" if python_versions is None
                  else f" for Python {', '.join(v for v in wanted if v is not None)}")
        host.noop(f"wheelhouse {path} holds {', '.join(every)}{serves}")
        return
    locked, unlocked = locked_pins(downloads, hashes or {})
    if unlocked:
        yield from _refuse(reason=f"wheelhouse {path}: no locked sha256 for "
                           f"{', '.join(unlocked)} (matrix python_locks); run `wheelfleet lock`")
        return
    yield StringCommand("mkdir", "-p", QuoteString(path))
    bounded = ["timeout", str(download_timeout)] if download_timeout is not None else []
    for version, missing in downloads.items():
        target = ["--python-version", QuoteString(version)] if version is not None else []
        # pip takes hashes only from a requirements file: the lines go in on stdin.
        lines = requirement_lines({pin: locked[canonical_pin(pin)] for pin in missing})
        yield StringCommand("printf", "'%s\\n'", *(QuoteString(line) for line in lines), "|",
                            *bounded, python, "-m", "pip", "download",
                            "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
                            "--require-hashes", *target, "-d", QuoteString(path),
                            "-r", "/dev/stdin")
