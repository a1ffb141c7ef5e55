"""Fixtures: one registry + both pushed images per session, and an isolated podman store.

Everything here is real (docker-registry, debootstrap, podman with runc), so these
tests need root and several minutes on a cold cache; they are marked ``fleet``.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from wheelfleet.lab import POLICIES, PodmanEnv, PushedImage, Registry, build_and_push
from wheelfleet.lab.mounts import remove_tree

TOOLS = ("docker-registry", "podman", "runc", "skopeo", "debootstrap", "unshare")


@pytest.fixture(scope="session")
def fleet_ready() -> None:
    """Skip (not fail) where the real tools cannot run; CI runs as root and has them."""
    if os.geteuid() != 0:
        pytest.skip("the registry tests need root (debootstrap, podman storage)")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing tools: {missing}")


def free_port() -> int:
    """An unused loopback port (there is a small race; the registry start reports it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory, fleet_ready: None) -> Iterator[Registry]:
    state = tmp_path_factory.mktemp("registry")
    reg = Registry.start(state, port=free_port())
    yield reg
    reg.stop()
    # Several hundred MB of blobs; pytest would keep them for three sessions.
    remove_tree(state)


@pytest.fixture(scope="session")
def pushed(registry: Registry) -> dict[str, PushedImage]:
    """Both policies, built (or taken from ~/.cache) and pushed once per session."""
    return {policy: build_and_push(registry, policy, tag="test") for policy in POLICIES}


@pytest.fixture(scope="session")
def pm(registry: Registry, fleet_ready: None) -> Iterator[PodmanEnv]:
    # Short base path on purpose: conmon's attach socket lives under it and unix
    # socket paths are limited to 108 bytes.
    base = Path(tempfile.mkdtemp(prefix="wfpm-", dir="/tmp"))
    env = PodmanEnv(base).setup()  # no insecure entry: tests pass --tls-verify=false
    yield env
    # Not `podman system reset`: that also prunes networks in the machine-wide
    # /etc/containers/networks. Removing our containers and images is enough.
    env.reset()
    remove_tree(base)
