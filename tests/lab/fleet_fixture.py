"""A pytest fixture of real Linux test hosts, and pyinfra run against them.

In a test module::

    from .fleet_fixture import fleet_fixture, run_pyinfra

    linux_fleet = fleet_fixture(3, group_data={"pythons": ["3.12"]})

    @pytest.mark.fleet
    def test_converge(linux_fleet):
        result = run_pyinfra(linux_fleet, "deploys/fleet.py")
        assert result.returncode == 0, result.stdout

The fixture brings the fleet up once per scope (the cached host root is built on first use),
skips when not root, fails with the one-line reason when ``up`` fails, and always takes
the fleet down at the end. Hosts are reached over real SSH with strict host keys.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from wheelfleet.lab import Fleet, LabError, down, up
from wheelfleet.lab.host_root import HostRoot
from wheelfleet.lab.roots import ensure_root


def fleet_fixture(
    count: int = 3,
    *,
    group_data: dict[str, Any] | None = None,
    fleet_dir: Path | None = None,
    port: int = 22,
    first_octet_offset: int = 10,
    scope: Literal["session", "package", "module", "class", "function"] = "session",
) -> Callable[..., Any]:
    """Return a pytest fixture (assign it to a module-level name) yielding a :class:`Fleet`.

    *fleet_dir* defaults to a fresh pytest temp dir. Two fixtures alive at the same time
    need different *first_octet_offset* values (their addresses would collide).
    """

    @pytest.fixture(scope=scope)
    def _fleet(request: Any, tmp_path_factory: Any) -> Iterator[Fleet]:
        if os.geteuid() != 0:
            pytest.skip("the test fleet needs root")
        where = fleet_dir or tmp_path_factory.mktemp("testfleet")
        plugins = request.config.pluginmanager
        reporter = plugins.get_plugin("terminalreporter")
        capture = plugins.get_plugin("capturemanager")

        def say(msg: str) -> None:
            # Shown even under output capture: the lead wants the timings in CI logs.
            if reporter is None:
                return
            if capture is None:
                reporter.write_line(f"testfleet: {msg}")
                return
            with capture.global_and_fixture_disabled():
                reporter.write_line(f"testfleet: {msg}")

        try:
            started = time.monotonic()
            ensure_root(HostRoot(), say=say)
            ready = time.monotonic()
            fleet = up(count, where, group_data=group_data, port=port,
                       first_octet_offset=first_octet_offset)
            say(f"host root ready in {ready - started:.1f}s; {count} host(s) up in "
                f"{time.monotonic() - ready:.1f}s ({where})")
        except LabError as exc:
            pytest.fail(f"testfleet up failed: {exc}", pytrace=False)
        try:
            yield fleet
        finally:
            down(where)

    return _fleet


def run_pyinfra(
    fleet: Fleet | Path, *args: str, timeout: float = 600, limit: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``pyinfra -y INVENTORY ARGS...`` against the fleet; stdout and stderr combined.

    Runs in a subprocess, so the caller's process needs no gevent monkey-patching.
    """
    inventory = fleet.inventory if isinstance(fleet, Fleet) else fleet
    extra = ["--limit", limit] if limit else []
    return subprocess.run(
        [sys.executable, "-m", "pyinfra", "-y", *extra, str(inventory), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL, check=False,
    )
