"""A real local fleet for the tests: a registry with two manylinux-like images pinned by digest,
and two Debian hosts with their own sshd, reached by pyinfra over SSH with strict host keys."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wheelfleet.lab import (
    Fleet,
    PushedImage,
    Registry,
    down,
    group_data_for,
    start_registry,
    up,
    write_inventory,
)
from wheelfleet.pyinfra_run import RunResult, run_deploy

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ["manylinux_2_36", "manylinux_2_41"]
REGISTRY_PORT = 5056  # apart from the demo's 5055 and the registry tests' own ports
OFFSET = 20  # hosts on 127.0.0.21, 127.0.0.22


@dataclass
class LocalFleet:
    registry: Registry
    images: dict[str, PushedImage]
    overlay: Path
    fleet: Fleet
    work: Path

    @property
    def hosts(self) -> list[str]:
        return [name for name, _ in self.fleet.pyinfra_hosts()]

    def group_data(self, policies: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        return group_data_for(self.registry, self.overlay, policies or POLICIES, self.images,
                              **extra)

    def inventory(self, name: str = "inventory.py", policies: list[str] | None = None,
                  host_data: dict[str, dict[str, Any]] | None = None, **extra: Any) -> Path:
        return write_inventory(self.work / name, self.fleet, self.group_data(policies, **extra),
                               host_data)

    def converge(self, inventory: Path, **kwargs: Any) -> RunResult:
        return run_deploy(inventory, ROOT / "deploys" / "fleet.py", timeout=1800, **kwargs)

    def ssh(self, host: str, command: str, timeout: int = 300) -> subprocess.CompletedProcess:
        data = dict(self.fleet.pyinfra_hosts())[host]
        return subprocess.run(
            ["ssh", "-i", data["ssh_key"], "-p", str(data["ssh_port"]),
             "-o", f"UserKnownHostsFile={data['ssh_known_hosts_file']}",
             "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
             "-F", "/dev/null", f"root@{data['ssh_hostname']}", command],
            capture_output=True, text=True, timeout=timeout)

    def images_on(self, host: str) -> dict[str, str]:
        """Local name -> digest of the managed images on ``host``, read over SSH."""
        out = self.ssh(host, "podman images --format '{{.Repository}}:{{.Tag}} {{.Digest}}'")
        assert out.returncode == 0, out.stderr
        pairs = (line.split() for line in out.stdout.splitlines() if line.strip())
        return {name.removeprefix("localhost/"): digest for name, digest in pairs
                if "wheelfleet/" in name}


@pytest.fixture(scope="session")
def local_fleet():
    if os.geteuid() != 0:
        pytest.skip("the local fleet needs root (chroot hosts, mounts, podman)")
    for tool in ("debootstrap", "podman", "docker-registry", "skopeo", "ssh"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed: run .ci/setup")
    # Short: podman refuses a runroot longer than 50 characters, and pytest's tmp paths are long.
    work = Path(tempfile.mkdtemp(prefix="wf", dir="/tmp"))
    reg = start_registry(work, POLICIES, port=REGISTRY_PORT)
    local: LocalFleet | None = None
    try:
        fleet = up(2, work / "fleet", group_data=group_data_for(
            reg.registry, reg.overlay, POLICIES, reg.images), first_octet_offset=OFFSET)
        local = LocalFleet(reg.registry, reg.images, reg.overlay, fleet, work)
        try:
            yield local
        finally:
            # The session's last step: its hosts' files are deleted in the background.
            down(work / "fleet", wait=False)
    finally:
        # A test may have restarted the registry: stop the one running now.
        (local.registry if local else reg.registry).stop()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def converged(local_fleet: LocalFleet) -> LocalFleet:
    """The fleet after one full converge with both policies selected."""
    result = local_fleet.converge(local_fleet.inventory())
    assert result.returncode == 0 and not result.errors, result.log[-3000:]
    return local_fleet
