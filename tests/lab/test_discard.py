"""Deleting a test host's tree without waiting for it (``mounts.discard_tree``).

Proof level: real (real files, a real bind mount, the real ``rm``); the bind mount needs root.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from wheelfleet.lab.mounts import discard_tree, mounts_under


def trash_of(name: str) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"wheelfleet-discarded-*/{name}"))


def wait_until_gone(name: str, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while trash_of(name) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not trash_of(name), f"{name} was never deleted"


def test_the_tree_is_gone_at_once_and_its_files_soon_after(tmp_path):
    """real: the path disappears before the call returns; the moved tree is then deleted."""
    host = tmp_path / f"host-{os.getpid()}-{time.monotonic_ns()}"
    for d in range(20):
        (host / f"d{d}").mkdir(parents=True)
        for f in range(50):
            (host / f"d{d}" / f"f{f}").write_text("x")
    discard_tree(host)
    assert not host.exists()
    wait_until_gone(host.name)


def test_a_mount_below_is_undone_before_anything_is_deleted(tmp_path):
    """real (root): a bind mount left below the tree is unmounted first, so what it showed
    survives; deleting through it would have destroyed the mounted directory's files."""
    if os.geteuid() != 0:
        pytest.skip("bind mounts need root")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("must survive")
    host = tmp_path / f"host-{os.getpid()}-{time.monotonic_ns()}"
    (host / "mnt").mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(outside), str(host / "mnt")], check=True)
    try:
        assert mounts_under(host)
        discard_tree(host)
    finally:
        if mounts_under(host):
            subprocess.run(["umount", str(host / "mnt")], check=False)
    assert not host.exists()
    wait_until_gone(host.name)
    assert (outside / "keep.txt").read_text() == "must survive"
