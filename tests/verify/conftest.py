"""One real local fleet for the verify/onboard acceptance tests (session scope, root only).

* a registry on 127.0.0.1:5057 with one manylinux-like image pinned by digest, plus a variant of
  it with gcc removed (a broken toolchain that is pulled and pinned like any other image);
* six Debian hosts with their own sshd on 127.0.0.31-36 (offset 30, apart from the lead's
  fleet at 20 and the demo at 10): tf1 healthy, tf2 pinned to the gcc-less image by its own
  matrix overlay, tf3 left bare for onboarding, tf4 and tf5 converged for host-level faults
  (test_verify_faults.py), tf6 never converged;
* tf9 at 127.0.0.39, where nothing listens: the host that is down.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lab.faults import push_variant

from wheelfleet.lab import Fleet, Registry, down, group_data_for, overlay_text, start_registry, up
from wheelfleet.pyinfra_run import run_deploy

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ["manylinux_2_36"]  # one image keeps the health run short (2 checks per host)
REGISTRY_PORT = 5057
OFFSET = 30
DOWN_ADDRESS = "127.0.0.39"
NO_GCC = "rm -f /usr/bin/gcc* /usr/bin/x86_64-linux-gnu-gcc* /usr/bin/cc"


@dataclass
class VerifyFleet:
    registry: Registry
    fleet: Fleet
    work: Path
    group_data: dict[str, Any]
    broken_overlay: Path

    def host(self, name: str) -> dict[str, Any]:
        return dict(self.fleet.pyinfra_hosts())[name]

    def down_host(self) -> dict[str, Any]:
        """tf9: tf1's connection data, pointed at an address where nothing listens."""
        return {**self.host("tf1"), "ssh_hostname": DOWN_ADDRESS}

    def inventory(self, name: str, groups: dict[str, tuple[list[tuple[str, dict[str, Any]]],
                                                            dict[str, Any]]]) -> Path:
        """An inventory file with the given platform groups (``name = (hosts, data)``)."""
        body = "".join(f"{group} = ({hosts!r}, {data!r})\n" for group, (hosts, data)
                       in groups.items())
        path = self.work / name
        path.write_text(f'"""Written by tests/verify."""\n\n{body}')
        return path

    def ssh(self, host: str, command: str, timeout: int = 120) -> subprocess.CompletedProcess:
        data = self.host(host)
        return subprocess.run(
            ["ssh", "-i", data["ssh_key"], "-p", str(data["ssh_port"]),
             "-o", f"UserKnownHostsFile={data['ssh_known_hosts_file']}",
             "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-F", "/dev/null",
             f"root@{data['ssh_hostname']}", command],
            capture_output=True, text=True, timeout=timeout)

    def wheelfleet(self, *args: str, timeout: int = 1200) -> subprocess.CompletedProcess:
        """``wheelfleet verify|onboard ...`` as a user runs it, in a subprocess."""
        cmd = [str(Path(sys.executable).parent / "wheelfleet"), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                              stdin=subprocess.DEVNULL)


def _nothing_listens(address: str, port: int = 22) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((address, port)) != 0


@pytest.fixture(scope="session")
def verify_fleet():
    if os.geteuid() != 0:
        pytest.skip("the verify fleet needs root (chroot hosts, mounts, podman)")
    for tool in ("debootstrap", "podman", "docker-registry", "skopeo", "ssh"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed: run .ci/setup")
    assert _nothing_listens(DOWN_ADDRESS), f"{DOWN_ADDRESS}:22 must be free for the down host"
    # Short: podman refuses a runroot longer than 50 characters.
    work = Path(tempfile.mkdtemp(prefix="wf", dir="/tmp"))
    reg = start_registry(work, POLICIES, port=REGISTRY_PORT)
    try:
        broken = push_variant(reg.registry, reg.images["manylinux_2_36"], "wheelfleet-nogcc",
                              NO_GCC)
        broken_overlay = work / "no-gcc.yaml"
        broken_overlay.write_text(overlay_text([broken]))
        group_data = group_data_for(reg.registry, reg.overlay, POLICIES, reg.images)
        fleet = up(6, work / "fleet", group_data=group_data, first_octet_offset=OFFSET)
        try:
            yield VerifyFleet(reg.registry, fleet, work, group_data, broken_overlay)
        finally:
            # The session's last step: its hosts' files are deleted in the background.
            down(work / "fleet", wait=False)
    finally:
        reg.registry.stop()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def three_host_inventory(verify_fleet: VerifyFleet) -> Path:
    """tf1 healthy and tf2 broken (both converged), tf9 down."""
    vf = verify_fleet
    inventory = vf.inventory("fleet3.py", {"linux": ([
        ("tf1", vf.host("tf1")),
        ("tf2", {**vf.host("tf2"), "matrix_overlay": str(vf.broken_overlay)}),
        ("tf9", vf.down_host()),
    ], vf.group_data)})
    result = run_deploy(inventory, ROOT / "deploys" / "fleet.py", limit=["tf1", "tf2"],
                        timeout=1800)
    assert result.returncode == 0 and not result.errors, result.log[-3000:]
    return inventory
