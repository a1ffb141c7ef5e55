"""The registry process: loopback only, idempotent start, owned stop, and 'down'."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from wheelfleet.lab import PodmanEnv, Registry
from wheelfleet.lab.registry import http_status

from .conftest import free_port
from .podman_helpers import refused_pull

pytestmark = [pytest.mark.fleet, pytest.mark.slow]


def _listening(port: int) -> list[str]:
    """Local addresses (hex ip:port) listening on ``port`` per /proc/net/tcp{,6}."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                found.append(local)
    return found


def test_registry_answers_on_loopback_only(registry: Registry) -> None:
    assert registry.address.startswith("127.0.0.1:")
    assert http_status(f"{registry.url}/v2/") == 200
    # 0100007F is 127.0.0.1 in /proc/net/tcp's little-endian hex; nothing on 0.0.0.0/::
    assert _listening(registry.port) == [f"0100007F:{registry.port:04X}"]


def test_start_is_idempotent(registry: Registry) -> None:
    again = Registry.start(registry.state_dir, port=registry.port)
    assert again.pid == registry.pid
    assert Registry.find(registry.state_dir) == registry


def test_registry_down_makes_pull_fail_fast(
    tmp_path: Path, pm: PodmanEnv, fleet_ready: None
) -> None:
    # A registry of its own, so stopping it cannot disturb the other tests.
    reg = Registry.start(tmp_path / "reg", port=free_port())
    pid = reg.pid
    reg.stop()
    assert not reg.running()
    assert Registry.find(tmp_path / "reg") is None
    with pytest.raises(OSError):
        http_status(f"{reg.url}/v2/", timeout=2)

    ref = f"{reg.address}/pypa/manylinux_2_36_x86_64@sha256:{'0' * 64}"
    started = time.monotonic()
    said = refused_pull(pm, ref)
    elapsed = time.monotonic() - started
    assert "connection refused" in said, said
    assert elapsed < 60, f"pull against a stopped registry took {elapsed:.1f}s"
    print(f"registry down: pull failed after {elapsed:.1f}s:\n{said}")

    # And it comes back from the same state dir, on a new pid.
    reg2 = Registry.start(tmp_path / "reg", port=reg.port)
    try:
        assert reg2.pid != pid
        assert http_status(f"{reg2.url}/v2/") == 200
    finally:
        reg2.stop()


def test_stop_refuses_foreign_pid(tmp_path: Path, fleet_ready: None) -> None:
    # A handle whose pid is not our registry (here: this pytest process) must not
    # be signalled by stop().
    fake = Registry(state_dir=tmp_path, port=1, pid=os.getpid())
    assert not fake.running()
    fake.stop()  # would kill pytest if it did not check ownership
