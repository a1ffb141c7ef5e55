"""Pinned real wheels from the package index, and the one place that downloads them.

The pinned lists live in test_real_wheels.py (REAL_WHEELS) and the benchmark
(benchmarks/bench_wheelcheck.py, which adds its own corpus). Each entry pins the exact
requirement and the exact file pip must pick for the platform; the file's sha256 is locked in
``real_wheels.sha256`` (``sha256sum`` format, one line per file), so a changed index or a
damaged cache shows up as a failure rather than as a silently different test.

Downloads use the machine's configured pip index (``pip download`` in hash-checking mode, so
pip itself refuses other bytes) into ``~/.cache/wheelfleet/pypi-wheels``; a cached file is
used only after its sha256 is checked again.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

CACHE_DIR = Path(os.environ.get("WHEELFLEET_WHEEL_CACHE", "~/.cache/wheelfleet/pypi-wheels"))
LOCK_FILE = Path(__file__).with_name("real_wheels.sha256")
DOWNLOAD_TIMEOUT = 600  # seconds per wheel; the largest pinned ones are ~30 MB


class DownloadFailed(Exception):
    """A pinned wheel could not be had with its locked sha256; the message says why."""


@functools.cache
def locked_hashes(lock_file: Path = LOCK_FILE) -> dict[str, str]:
    """filename -> sha256 from the lock file."""
    hashes: dict[str, str] = {}
    for number, line in enumerate(lock_file.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, _, filename = line.partition("  ")
        if len(digest) != 64 or not filename:
            raise DownloadFailed(f"{lock_file.name}:{number}: expected '<sha256>  <filename>'")
        hashes[filename] = digest
    return hashes


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

    @property
    def sha256(self) -> str:
        try:
            return locked_hashes()[self.filename]
        except KeyError:
            raise DownloadFailed(
                f"{LOCK_FILE.name}: no sha256 locked for {self.filename}; expected a line "
                "'<sha256>  <filename>'") from None

    def __str__(self) -> str:
        return self.filename


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(wheel: RealWheel, cache_dir: Path = CACHE_DIR) -> Path:
    """The cached wheel file, downloaded with ``pip download`` on first use; its sha256 is
    checked every time (a cached file with other bytes is deleted and fetched again)."""
    expected = wheel.sha256
    cache_dir = cache_dir.expanduser()
    target = cache_dir / wheel.filename
    if target.is_file():
        if sha256_of(target) == expected:
            return target
        target.unlink()  # damaged or replaced: never used
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        # A --hash line puts pip in hash-checking mode: it refuses any file with other bytes.
        requirements.write_text(f"{wheel.requirement} --hash=sha256:{expected}\n")
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--only-binary=:all:", "--platform", wheel.platform,
            "--python-version", wheel.python, "-d", tmp, "-r", str(requirements),
        ]  # fmt: skip
        if wheel.abi:
            command += ["--abi", wheel.abi]
        if wheel.implementation:
            command += ["--implementation", wheel.implementation]
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=False,
                                    timeout=DOWNLOAD_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise DownloadFailed(f"pip download of {wheel.filename} did not finish within "
                                 f"{DOWNLOAD_TIMEOUT} s") from None
        downloaded = Path(tmp) / wheel.filename
        if not downloaded.is_file():
            raise DownloadFailed(
                f"pip did not produce {wheel.filename} (exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
        actual = sha256_of(downloaded)
        if actual != expected:
            raise DownloadFailed(f"{wheel.filename}: sha256 {actual}, locked {expected}")
        downloaded.replace(target)
    return target


def fetch_all(wheels: list[RealWheel]) -> dict[RealWheel, Path]:
    """Every pinned wheel, downloading the missing ones a few at a time."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(wheels, pool.map(fetch, wheels), strict=True))
