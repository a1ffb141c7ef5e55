"""A real CPython 2.7.18, wide (UCS-4, cp27mu), built here from the matrix's source tarball.

The source is the exact tarball the matrix pins for the Mac's pyenv build
(``macos.pyenv_ucs4.source_sha256``): Debian's source archive ships CPython's own
``Python-2.7.18.tgz`` as ``python2.7_2.7.18.orig.tar.gz`` in the last suite that carried
Python 2 (bullseye).  It is fetched with ``apt-get source --download-only`` through a private
apt configuration (a temporary sources list naming this machine's own Debian archive; the
system's apt setup is not touched), checked against the sha256 of apt's signed source index
*and* the matrix's, then configured with the matrix's ``configure_opts`` and built into
``~/.cache/wheelfleet/python27-ucs4/<key>`` (about 3 minutes on 2 cores, once; the key is
the source hash and the options), with ``ensurepip``'s bundled pip.

It is a Linux build, not a macOS one: it proves what the canary's C source and the matrix's
2.7 build requirements do on a real 2.7 interpreter, not what pyenv does on a Mac.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from wheelfleet.lab.aptsources import main_archive
from wheelfleet.lab.roots import cache_home
from wheelfleet.matrix import load_matrix

SUITE = "bullseye"  # the last Debian suite with a python2.7 source package
BUILD_TIMEOUT = 1800


class Py27Error(RuntimeError):
    """The 2.7 interpreter could not be had; the message says which step and why."""


def _run(args: list[str], *, timeout: float, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Py27Error(f"{' '.join(args[:3])} timed out after {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise Py27Error(f"{' '.join(args[:3])} failed (exit {done.returncode}): "
                        + " | ".join(tail))
    return done.stdout


def recipe() -> dict[str, object]:
    ucs4 = dict(load_matrix().macos["pyenv_ucs4"])  # type: ignore[call-overload]
    return {"version": str(ucs4["version"]), "sha256": str(ucs4["source_sha256"]),
            "configure_opts": str(ucs4["configure_opts"]),
            "maxunicode": int(ucs4["expected_maxunicode"])}


def source_tarball(directory: Path, sha256: str) -> Path:
    """Debian's orig tarball of python2.7, verified against apt's index and ``sha256``."""
    found = sorted(directory.glob("python2.7_*.orig.tar.*"))
    if found and hashlib.sha256(found[-1].read_bytes()).hexdigest() == sha256:
        return found[-1]
    with tempfile.TemporaryDirectory(prefix="wf-apt-") as tmp:
        apt = Path(tmp)
        (apt / "lists/partial").mkdir(parents=True)
        (apt / "cache/archives/partial").mkdir(parents=True)
        (apt / "sources.list").write_text(
            f"deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
            f"{main_archive()} {SUITE} main\n")
        options = [f"-o=Dir::Etc::sourcelist={apt / 'sources.list'}",
                   "-o=Dir::Etc::sourceparts=-", f"-o=Dir::State::Lists={apt / 'lists'}",
                   f"-o=Dir::Cache={apt / 'cache'}", "-o=APT::Sandbox::User=root"]
        _run(["apt-get", *options, "update", "-q"], timeout=600)
        index = _run(["apt-cache", *options, "showsrc", "python2.7"], timeout=120)
        signed = {words[2]: words[0] for words in (line.split() for line in index.splitlines())
                  if len(words) == 3 and len(words[0]) == 64 and ".orig.tar." in words[2]}
        if sha256 not in signed.values():
            raise Py27Error(f"apt's {SUITE} source index lists no python2.7 orig tarball with "
                            f"the matrix's sha256 {sha256}: {signed or 'none'}")
        directory.mkdir(parents=True, exist_ok=True)
        try:
            _run(["apt-get", *options, "source", "--download-only", "-q", "python2.7"],
                 timeout=900, cwd=directory)
        except Py27Error:
            pass  # the .dsc or diff may fail while the orig tarball, all we need, arrived
    for path in sorted(directory.glob("python2.7_*.orig.tar.*")):
        if hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
            return path
    raise Py27Error(f"no python2.7 orig tarball with sha256 {sha256} in {directory}")


def python27() -> Path:
    """The cached wide 2.7 interpreter (``bin/python2.7``), built on first use."""
    r = recipe()
    key = hashlib.sha256(f"{r['sha256']} {r['configure_opts']}".encode()).hexdigest()[:12]
    prefix = cache_home() / "python27-ucs4" / key
    python = prefix / "bin/python2.7"
    if (prefix / ".complete").is_file() and python.is_file():
        return python
    tarball = source_tarball(cache_home() / "python27-source", str(r["sha256"]))
    shutil.rmtree(prefix, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="wf-py27-") as tmp:
        _run(["tar", "-xzf", str(tarball), "-C", tmp], timeout=300)
        src = next(Path(tmp).glob("Python-*"))
        _run(["./configure", "-q", f"--prefix={prefix}", *str(r["configure_opts"]).split()],
             timeout=BUILD_TIMEOUT, cwd=src)
        _run(["make", "-j2", "-s"], timeout=BUILD_TIMEOUT, cwd=src)
        _run(["make", "install", "-s"], timeout=BUILD_TIMEOUT, cwd=src)
    _run([str(python), "-m", "ensurepip"], timeout=600)  # pip bundled with 2.7.18: offline
    (prefix / ".complete").write_text(str(r["version"]) + "\n")
    return python
