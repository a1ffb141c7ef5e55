"""The embedded default fleet: real local Debian hosts, a real registry, images pinned by digest.

This is what ``wheelfleet demo`` and the fleet tests run against.  It brings up:

* a registry (Debian's ``docker-registry``) on 127.0.0.1, holding manylinux-like images built
  from Debian roots and pushed there (:mod:`wheelfleet.testregistry`);
* a matrix overlay pinning those images by the digests the registry reported;
* N test hosts (:mod:`wheelfleet.testfleet`) whose group data selects the images and points the
  fleet's ``quay.io`` mirror at the local registry — the same mechanism a real fleet uses for
  its own mirror.

Host settings that this kind of machine needs for podman are host data, not code:
``container_runtime: runc`` (crun fails on hybrid cgroup v1), ``container_cgroup_manager:
cgroupfs`` and ``container_events_logger: file`` (no systemd as PID 1 in the hosts), and
``container_default_ulimits`` lowered (root here lacks CAP_SYS_RESOURCE, so podman's default
rlimits fail with "error setting rlimit type 7").
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wheelfleet.matrix import load_matrix
from wheelfleet.testfleet import Fleet
from wheelfleet.testfleet import up as fleet_up
from wheelfleet.testregistry import PushedImage, Registry, build_and_push

REGISTRY_PORT = 5055
UPSTREAM = "quay.io"
TAG = "wheelfleet-test-1"

PODMAN_HOST_DATA: dict[str, Any] = {
    "container_engine": "podman",
    "container_runtime": "runc",
    "container_cgroup_manager": "cgroupfs",
    "container_events_logger": "file",
    "container_default_ulimits": ["nofile=1024:1024", "nproc=4096:4096"],
}


@dataclass
class LocalFleet:
    registry: Registry
    images: dict[str, PushedImage]
    overlay: Path
    fleet: Fleet | None = None
    group_data: dict[str, Any] = field(default_factory=dict)


def overlay_text(images: list[PushedImage]) -> str:
    """A matrix overlay pinning ``images`` (as pushed) under the upstream registry's name."""
    entries = []
    for image in images:
        entries.append({
            "policy": image.policy, "arch": image.arch,
            "repository": f"{UPSTREAM}/{image.repository}", "digest": image.digest,
            "tag": image.tag, "state": "test", "pythons": list(image.pythons),
            "base": "Debian (built locally by wheelfleet.testregistry)",
            "note": "exists only in the local test registry",
        })
    return "# Written by wheelfleet.localfleet: test images pinned by their pushed digests.\n" \
        + yaml.safe_dump({"schema": 1, "images": entries}, sort_keys=False)


def group_data_for(registry: Registry, overlay: Path, policies: list[str],
                   images: dict[str, PushedImage], **extra: Any) -> dict[str, Any]:
    # Which matrix Python an image's /opt/python/<tag> is: the matrix says, nobody else.
    tags = {t for p in policies for t in images[p].pythons}
    pythons = sorted(py.id for py in load_matrix().pythons.values()
                     if py.linux and tags & set(py.linux.abi_tags))
    data: dict[str, Any] = {
        "pythons": pythons, "arches": ["x86_64"], "image_policies": list(policies),
        "matrix_overlay": str(overlay),
        "registry_mirrors": {UPSTREAM: registry.address},
        "insecure_registries": [registry.address],
        # The hosts trust what this machine trusts: its pip and apt may sit behind a
        # TLS-inspecting proxy whose CA only the machine's own bundle carries.
        "trusted_ca_bundle": ssl.get_default_verify_paths().cafile
        or "/etc/ssl/certs/ca-certificates.crt",
        "pull_timeout": 300, "health_parallel": 2, "health_timeout": 600,
        **PODMAN_HOST_DATA,
    }
    data.update(extra)
    return data


def start_registry(state_dir: Path, policies: list[str], port: int = REGISTRY_PORT,
                   tag: str = TAG) -> LocalFleet:
    """Start the registry and push one image per policy (roots cached under ~/.cache)."""
    registry = Registry.start(state_dir / "registry", port=port)
    images = {p: build_and_push(registry, p, tag) for p in policies}
    overlay = state_dir / "overlay.yaml"
    overlay.write_text(overlay_text(list(images.values())))
    return LocalFleet(registry=registry, images=images, overlay=overlay)


def bring_up(state_dir: Path, hosts: int = 1, policies: list[str] | None = None,
             first_octet_offset: int = 10, port: int = REGISTRY_PORT,
             **extra: Any) -> LocalFleet:
    """Registry + images + ``hosts`` test hosts whose inventory selects the images."""
    policies = policies or ["manylinux_2_36"]
    local = start_registry(state_dir, policies, port=port)
    local.group_data = group_data_for(local.registry, local.overlay, policies, local.images,
                                      **extra)
    local.fleet = fleet_up(hosts, state_dir / "fleet", group_data=local.group_data,
                           first_octet_offset=first_octet_offset)
    return local


def write_inventory(path: Path, fleet: Fleet, group_data: dict[str, Any],
                    host_data: dict[str, dict[str, Any]] | None = None) -> Path:
    """An inventory for ``fleet`` with the given group data and per-host extra data."""
    hosts = []
    for name, data in fleet.pyinfra_hosts():
        hosts.append((name, {**data, **(host_data or {}).get(name, {})}))
    path.write_text(f'"""Generated by wheelfleet.localfleet."""\n\nlinux = ({hosts!r}, '
                    f'{group_data!r})\n')
    return path
