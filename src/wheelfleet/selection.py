"""What a host's inventory data selects from the matrix, validated before anything connects.

A fleet inventory is an ordinary pyinfra inventory.  Hosts sit in exactly one *platform group*
(``linux``, ``macos`` or ``windows``) whose data selects Pythons, arches and (Linux) image
policies.  :func:`select_for_host` turns one host's merged data into a :class:`Selection`, or
raises :class:`~wheelfleet.errors.InputError` naming the file, the key and what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wheelfleet.errors import InputError, one_of
from wheelfleet.matrix import Image, Matrix, Python, load_matrix
from wheelfleet.matrix.model import PLATFORMS
from wheelfleet.matrix.reader import Reader, reject_unknown_keys

# Keys wheelfleet reads, per platform.  Connection keys (ssh_*, winrm_*) and pyinfra's own
# ``_*`` arguments pass through; anything else is a typo until proven otherwise.
COMMON_KEYS = ["pythons", "arches", "matrix_overlay", "health_parallel", "health_timeout",
               "work_dir"]
PLATFORM_KEYS = {
    "linux": ["image_policies", "container_engine", "registry_mirrors", "insecure_registries",
              "container_storage_driver", "container_storage_root",
              "container_runtime", "container_cgroup_manager",
              "container_events_logger", "container_default_ulimits", "prune_unselected_images",
              "pull_timeout", "linux_base_packages", "apt_cache_time", "trusted_ca_bundle"],
    "macos": ["openssl_version", "pyenv_root"],
    "windows": ["vs_toolset", "vs_edition", "artifact_mirror"],
}
PASS_THROUGH = re.compile(r"^(ssh_|winrm_|_|pyinfra_)")
ENGINES = ["podman", "docker"]
ULIMIT = re.compile(r"^[a-z]+=-?\d+:-?\d+$")
HOSTPORT = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$")


@dataclass
class Selection:
    """One host's validated choice from the matrix."""

    host: str
    platform: str
    pythons: list[Python]
    arches: list[str]
    matrix: Matrix
    images: list[Image] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def registry_mirrors(self) -> dict[str, str]:
        return dict(self.data.get("registry_mirrors") or {})

    def image_pythons(self, image: Image) -> list[str]:
        """The /opt/python/<tag> interpreters of ``image`` this host's selection asks for."""
        wanted = [t for py in self.pythons if py.linux for t in py.linux.abi_tags]
        return [t for t in wanted if t in image.pythons]


def platform_of(host: str, groups: list[str], file: str) -> str:
    found = [g for g in groups if g in PLATFORMS]
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
    r = Reader(data, file, f"{host}")
    ours = {k: v for k, v in data.items() if not PASS_THROUGH.match(str(k))}
    reject_unknown_keys(r, ours, COMMON_KEYS + PLATFORM_KEYS[platform])

    if matrix is None:
        overlay = data.get("matrix_overlay")
        if overlay is not None and not isinstance(overlay, str):
            raise r.fail("matrix_overlay", f"expected a path string, got {overlay!r}")
        if overlay:
            path = Path(overlay)
            if not path.is_absolute():
                path = Path(file).resolve().parent / path
            if not path.exists():
                raise r.fail("matrix_overlay", f"file {path} does not exist")
            matrix = load_matrix(path)
        else:
            matrix = load_matrix()

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
            if platform == "windows" and py.windows and arch not in py.windows.arches:
                raise r.child("arches").fail(i, f"Python {py.id} has no {arch} "
                                             f"({known_arches[arch]}) interpreter; it has "
                                             f"{', '.join(py.windows.arches)}")
            if platform == "macos" and py.macos:
                ok = arch in py.macos.arches or (arch == "universal2" and py.macos.universal2)
                if not ok:
                    raise r.child("arches").fail(i, f"Python {py.id} has no {arch} build on "
                                                 f"macOS; it has {', '.join(py.macos.arches)}")

    sel = Selection(host=host, platform=platform, pythons=pythons, arches=arches, matrix=matrix,
                    data=dict(data))
    if platform == "linux":
        sel.images = _linux_images(r, sel)
        _check_linux_settings(r)
    return sel


def _linux_images(r: Reader, sel: Selection) -> list[Image]:
    policies = r.str_list("image_policies")
    if not policies:
        raise r.fail("image_policies", f"empty; expected {one_of(sel.matrix.policies)}")
    images = []
    for i, policy in enumerate(policies):
        if policy not in sel.matrix.policies:
            eol = sel.matrix.eol_policies.get(policy)
            why = f" (EOL since {eol}, no image pinned)" if eol else ""
            raise r.child("image_policies").fail(i, f"no pinned image for policy {policy!r}{why}; "
                                                 f"expected {one_of(sel.matrix.policies)}")
        for arch in sel.arches:
            found = sel.matrix.images_for(policy, arch)
            if not found:
                have = [im.arch for im in sel.matrix.images_for(policy)]
                raise r.child("image_policies").fail(
                    i, f"policy {policy} has no pinned {arch} image; pinned arches: "
                       f"{', '.join(have)}")
            images.extend(found)
    for py in sel.pythons:
        assert py.linux is not None
        if not any(t in im.pythons for im in images for t in py.linux.abi_tags):
            raise r.fail("pythons", f"Python {py.id} ({', '.join(py.linux.abi_tags)}) is in none "
                         f"of the selected images ({', '.join(policies)})")
    return images


def _check_linux_settings(r: Reader) -> None:
    engine = r.raw("container_engine", "podman")
    if engine not in ENGINES:
        raise r.fail("container_engine", f"expected {one_of(ENGINES)}, got {engine!r}")
    mirrors = r.str_map("registry_mirrors", optional=True)
    for name, target in mirrors.items():
        if not HOSTPORT.match(target):
            raise r.child("registry_mirrors").fail(name, f"expected host[:port], got {target!r}")
    for i, reg in enumerate(r.str_list("insecure_registries", optional=True)):
        if not HOSTPORT.match(reg):
            raise r.child("insecure_registries").fail(i, f"expected host[:port], got {reg!r}")
    for i, limit in enumerate(r.str_list("container_default_ulimits", optional=True)):
        if not ULIMIT.match(limit):
            raise r.child("container_default_ulimits").fail(
                i, f"expected NAME=SOFT:HARD like 'nofile=1024:1024', got {limit!r}")
    for key in ("pull_timeout", "health_parallel", "health_timeout", "apt_cache_time"):
        value = r.raw(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value <= 0):
            raise r.fail(key, f"expected a positive integer, got {value!r}")
