"""Pinned real wheels from the package index, and the one place that downloads them.

The pinned list itself lives in test_real_wheels.py (REAL_WHEELS); the benchmark imports it
from there. Each entry pins the exact requirement and the exact file pip must pick for the
platform, so a changed index shows up as a failure rather than as a silently different test.

Downloads use the machine's configured pip index (``pip download``) into
``~/.cache/wheelfleet/pypi-wheels``, and are reused from there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

CACHE_DIR = Path(os.environ.get("WHEELFLEET_WHEEL_CACHE", "~/.cache/wheelfleet/pypi-wheels"))


@dataclass(frozen=True)
class RealWheel:
    requirement: str  # pinned, name==version
    platform: str  # pip download --platform
    python: str  # pip download --python-version
    filename: str  # the file pip must pick
    abi: str = ""  # pip download --abi (cp313t, cp27mu, abi3 ...), when pip would not pick it
    implementation: str = ""  # pip download --implementation (pp for PyPy)

    @property
    def is_linux(self) -> bool:
        return "linux" in self.filename

    def __str__(self) -> str:
        return self.filename


class DownloadFailed(Exception):
    """pip could not fetch a pinned wheel; the message carries pip's own output."""


def fetch(wheel: RealWheel, cache_dir: Path = CACHE_DIR) -> Path:
    """The cached wheel file, downloaded with ``pip download`` on first use."""
    cache_dir = cache_dir.expanduser()
    target = cache_dir / wheel.filename
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
        "--only-binary=:all:", "--platform", wheel.platform,
        "--python-version", wheel.python, "-d", str(cache_dir), wheel.requirement,
    ]  # fmt: skip
    if wheel.abi:
        command += ["--abi", wheel.abi]
    if wheel.implementation:
        command += ["--implementation", wheel.implementation]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if not target.is_file():
        raise DownloadFailed(
            f"pip did not produce {wheel.filename} (exit {result.returncode}):\n"
            f"{result.stdout}{result.stderr}"
        )
    return target


def fetch_all(wheels: list[RealWheel]) -> dict[RealWheel, Path]:
    """Every pinned wheel, downloading the missing ones a few at a time."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(wheels, pool.map(fetch, wheels), strict=True))
