"""Downloads for macOS hosts: the same ``fetch-verified`` script and URL plan a Mac runs, against
a real HTTP server on loopback serving python.org-style paths.

Level: real artifact (the script, curl and shasum/sha256sum run for real; the bytes served stand
in for an installer — what is proven is that only bytes with the pinned hash ever reach DEST).
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from loopback_mirror import Served, loopback_mirror

from wheelfleet.platforms.macos import pkg_installs
from wheelfleet.selection import select_for_host

SCRIPT = str(resources.files("wheelfleet").joinpath("scripts/fetch-verified.sh"))
PKG_PATH = "/ftp/python/3.12.10/python-3.12.10-macos11.pkg"
PAYLOAD = b"xar!" + bytes(range(256)) * 64  # what the mirror serves as the installer


@pytest.fixture()
def mirror() -> Iterator[Served]:
    with loopback_mirror() as served:
        yield served


def fetch(url: str, sha256: str, dest: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", SCRIPT, url, sha256, str(dest), "30"], capture_output=True,
                          text=True, timeout=60)


def test_the_mirror_rewrite_and_the_hash_come_from_the_matrix(mirror: Served, tmp_path: Path):
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(f"pythons:\n  '3.12':\n    macos: {{sha256: {digest}}}\n")
    sel = select_for_host("m1", ["macos"], {
        "pythons": ["3.12"], "arches": ["universal2"], "matrix_overlay": str(overlay),
        "artifact_mirrors": {"https://www.python.org": mirror.origin}}, str(tmp_path / "i.py"))
    [pkg] = pkg_installs(sel)
    assert pkg.url == mirror.origin + PKG_PATH and pkg.sha256 == digest
    mirror.files[PKG_PATH] = PAYLOAD
    dest = tmp_path / "cache" / pkg.cache_name
    proc = fetch(pkg.url, str(pkg.sha256), dest)
    assert proc.returncode == 0, proc.stderr
    assert dest.read_bytes() == PAYLOAD
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # no temporary left


def test_a_corrupted_download_is_deleted_and_named(mirror: Served, tmp_path: Path):
    want = hashlib.sha256(PAYLOAD).hexdigest()
    corrupt = PAYLOAD[:-1] + b"\x00"
    mirror.files[PKG_PATH] = corrupt
    dest = tmp_path / "cache" / "python-3.12.10-macos11.pkg"
    proc = fetch(mirror.origin + PKG_PATH, want, dest)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    got = hashlib.sha256(corrupt).hexdigest()
    assert f"sha256 mismatch: expected {want}, got {got}" in lines[0]
    assert "nothing was installed" in lines[0]
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_a_good_cached_file_is_never_replaced_by_a_bad_download(mirror: Served, tmp_path: Path):
    want = hashlib.sha256(PAYLOAD).hexdigest()
    dest = tmp_path / "python.pkg"
    dest.write_bytes(PAYLOAD)
    mirror.files[PKG_PATH] = b"something else"
    assert fetch(mirror.origin + PKG_PATH, want, dest).returncode == 1
    assert dest.read_bytes() == PAYLOAD


@pytest.mark.parametrize("sha256,words", [
    ("", "64 lowercase hex"), ("ABC", "64 lowercase hex"), ("0" * 63, "64 hex digits"),
])
def test_a_malformed_pin_is_refused_before_any_request(mirror: Served, tmp_path: Path,
                                                       sha256: str, words: str):
    proc = fetch(mirror.origin + PKG_PATH, sha256, tmp_path / "x.pkg")
    assert proc.returncode == 2 and words in proc.stderr
    assert mirror.requests == []


def test_a_missing_file_fails_with_one_line(mirror: Served, tmp_path: Path):
    proc = fetch(mirror.origin + "/ftp/python/9.9.9/nope.pkg", "0" * 64, tmp_path / "x.pkg")
    assert proc.returncode == 1 and "download failed" in proc.stderr
    assert not (tmp_path / "x.pkg").exists()
