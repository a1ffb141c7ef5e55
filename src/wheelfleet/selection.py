"""What a host's inventory data selects from the matrix, validated before anything connects.

A fleet inventory is an ordinary pyinfra inventory.  Hosts sit in exactly one *platform group*
(``linux``, ``macos`` or ``windows``) whose data selects Pythons, arches and (Linux) image
policies.  :func:`select_for_host` turns one host's merged data into a :class:`Selection`, or
raises :class:`~wheelfleet.errors.InputError` naming the file, the key and what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from wheelfleet import platforms
from wheelfleet.errors import InputError, one_of
from wheelfleet.matrix import Image, Matrix, Python
from wheelfleet.matrix.load import matrix_for_selection
from wheelfleet.matrix.model import PLATFORMS
from wheelfleet.matrix.reader import Reader, reject_unknown_keys
from wheelfleet.settings import HostSettings, control_free, shown

# Keys that select from the matrix; each platform adds its own (Linux: image_policies) and
# its settings' fields.  Connection keys (ssh_*, winrm_*) and pyinfra's own ``_*`` arguments
# pass through; anything else is a typo until proven otherwise.
SELECTION_KEYS = ["pythons", "arches", "matrix_overlay"]
PASS_THROUGH = re.compile(r"^(ssh_|winrm_|_|pyinfra_)")


@cache
def connector_keys() -> frozenset[str]:
    """Host-data keys pyinfra's connectors read (``fake_responses``, ``docker_*`` …): theirs."""
    from pyinfra.api.connectors import get_all_connectors

    keys: set[str] = set()
    for connector in get_all_connectors().values():
        keys.update(getattr(connector, "data_meta", {}) or {})
    return frozenset(keys)


@dataclass
class Selection:
    """One host's validated choice from the matrix."""

    host: str
    platform: str
    pythons: list[Python]
    arches: list[str]
    matrix: Matrix
    settings: HostSettings = field(default_factory=HostSettings)
    images: list[Image] = field(default_factory=list)

    @property
    def registry_mirrors(self) -> dict[str, str]:
        return dict(getattr(self.settings, "registry_mirrors", None) or {})

    def image_pythons(self, image: Image) -> list[str]:
        """The /opt/python/<tag> interpreters of ``image`` this host's selection asks for."""
        wanted = [t for py in self.pythons if py.linux for t in py.linux.abi_tags]
        return [t for t in wanted if t in image.pythons]


def platform_of(host: str, groups: list[str], file: str) -> str:
    # A connector may list a group twice (pyinfra's @fake does): count each name once.
    found = sorted({g for g in groups if g in PLATFORMS})
    if len(found) != 1:
        what = "no platform group" if not found else f"several platform groups ({', '.join(found)})"
        raise InputError(file, host, f"host is in {what}; expected exactly one of "
                         f"{', '.join(PLATFORMS)}")
    return found[0]


def select_for_host(host: str, groups: list[str], data: dict[str, Any], file: str,
                    matrix: Matrix | None = None) -> Selection:
    """Validate one host's data against the matrix.

    >>> s = select_for_host("b1", ["linux"], {"pythons": ["3.12"], "arches": ["x86_64"],
    ...                     "image_policies": ["manylinux_2_28"]}, "inv.py")
    >>> [i.policy for i in s.images]
    ['manylinux_2_28']
    """
    platform = platform_of(host, groups, file)
    plat = platforms.platform(platform)
    r = Reader(data, file, f"{host}")
    ours = {k: v for k, v in data.items()
            if not PASS_THROUGH.match(str(k)) and k not in connector_keys()}
    reject_unknown_keys(r, ours, SELECTION_KEYS + list(plat.selection_keys)
                        + plat.settings_type.keys())

    if matrix is None:
        overlay = data.get("matrix_overlay")
        if overlay is not None and not isinstance(overlay, str):
            raise r.fail("matrix_overlay", f"expected a path string, got {shown(overlay)}")
        if overlay:
            control_free(r, "matrix_overlay", overlay)
            path = Path(overlay)
            if not path.is_absolute():
                path = Path(file).resolve().parent / path
            if not path.exists():
                raise r.fail("matrix_overlay", f"file {path} does not exist")
            matrix = matrix_for_selection(path)
        else:
            matrix = matrix_for_selection()

    py_ids = r.str_list("pythons")
    if not py_ids:
        raise r.fail("pythons", "empty; expected at least one Python from the matrix")
    pythons = []
    for i, pid in enumerate(py_ids):
        if pid not in matrix.pythons:
            raise r.child("pythons").fail(i, f"unknown Python {pid!r}; expected "
                                          f"{one_of(matrix.pythons)}")
        py = matrix.pythons[pid]
        if getattr(py, platform) is None:
            raise r.child("pythons").fail(i, f"Python {pid} has no {platform} build in the matrix")
        pythons.append(py)

    known_arches = matrix.platform_arches[platform]
    arches = r.str_list("arches")
    if not arches:
        raise r.fail("arches", f"empty; expected {one_of(known_arches)}")
    for i, arch in enumerate(arches):
        if arch not in known_arches:
            raise r.child("arches").fail(i, f"{platform} has no arch {arch!r}; expected "
                                         f"{one_of(known_arches)}")
        for py in pythons:
            plat.check_arch(r, i, arch, py, known_arches[arch])

    sel = Selection(host=host, platform=platform, pythons=pythons, arches=arches, matrix=matrix,
                    settings=plat.settings_type.from_data(r))
    plat.complete(r, sel)
    return sel
