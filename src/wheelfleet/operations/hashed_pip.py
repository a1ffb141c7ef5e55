"""Install pinned Python packages into a venv only as the exact files ``wheelfleet lock`` hashed."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation

from wheelfleet.facts.once import read_once
from wheelfleet.facts.python import VenvDistributions
from wheelfleet.lock.records import canonical, requirement_lines
from wheelfleet.operations.fleet import refuse

# A refusal fails this host when the operation runs, never the whole fleet's run.
_refuse = refuse._inner


def _installed(packages: dict[str, set[str]] | None) -> dict[str, set[str]]:
    return {canonical(name): set(versions) for name, versions in (packages or {}).items()}


@operation()
def hashed_packages(venv: str, packages: dict[str, list[str]], lock_key: str = "python_locks",
                    create_with: str | None = None):
    """
    The venv at ``venv`` holds every package of ``packages`` at exactly its pinned version,
    installed with ``pip install --require-hashes`` from the locked files' sha256s.

    + venv: the virtual environment
    + packages: ``NAME==VERSION`` -> sha256s of its files: a locked set, dependencies included
      (``wheelfleet.lock.needs.locked``); pip refuses any file whose hash is not listed and
      any dependency not listed
    + lock_key: the matrix key the hashes come from, named when refusing an empty lock
    + create_with: an interpreter that creates the venv (``-m venv``) when it has none yet;
      without it the venv must exist beforehand (e.g. ``pip.venv``)

    Installing builds nothing (binary wheels only); give the operation ``_timeout``.

    **Example:**

    .. code:: python

        hashed_packages(name="Pinned repair tools", venv="/opt/wheelfleet/tools",
                        packages={"auditwheel==6.8.2": ["5d2f…"], "pyelftools==0.33": ["0b1c…"]},
                        lock_key="python_locks.tools/linux", create_with="python3",
                        _timeout=900)
    """
    unlocked = sorted(pin for pin, shas in packages.items() if not shas)
    if not packages or unlocked:
        what = ", ".join(unlocked) or "no packages"
        yield from _refuse(reason=f"{venv}: {lock_key}: no locked sha256 for {what}; "
                           "run `wheelfleet lock`")
        return
    have = _installed(read_once(VenvDistributions, venv=venv))
    missing = []
    for pin in packages:
        name, _, version = pin.partition("==")
        if version not in have.get(canonical(name), set()):
            missing.append(pin)
    if not missing:
        host.noop(f"{venv} holds {', '.join(sorted(packages))}")
        return
    if create_with:
        # Here rather than in an operation of its own: the distributions read already tells
        # whether anything is to do, and a converged host then answers one read, not two.
        python = QuoteString(f"{venv}/bin/python")
        yield StringCommand("test", "-x", python, "||", QuoteString(create_with), "-m", "venv",
                            QuoteString(venv))
    # pip takes hashes only from a requirements file: the lines go in on stdin.  Every locked
    # package is listed, so pip resolves nothing outside the lock.
    lines = requirement_lines(packages)
    yield StringCommand("printf", "'%s\\n'", *(QuoteString(line) for line in lines), "|",
                        QuoteString(f"{venv}/bin/python"), "-m", "pip", "install",
                        "--disable-pip-version-check", "--no-input", "--only-binary=:all:",
                        "--require-hashes", "-r", "/dev/stdin")
