"""Run the macOS OpenSSL recipe here, for real: Debian's OpenSSL source, ``zig cc`` for both
Mac arches, ``llvm-lipo-14`` and ``llvm-ar-14`` in place of Apple's tools.

* :func:`openssl_source` fetches the upstream tarball Debian ships as
  ``openssl_<version>.orig.tar.gz`` with ``apt-get source --download-only`` into
  ``~/.cache/wheelfleet/openssl-source``; the sha256 it must have comes from apt's signed
  source index (``apt-cache showsrc``), never from hashing the file we got.
* :func:`universal_openssl` runs ``src/wheelfleet/macos/openssl_universal.sh`` — the very file
  the macos_openssl role uploads — with ``CC_X86_64``/``CC_ARM64`` set to ``zig cc -target
  <arch>-macos.<floor>``.  Its root and staged per-arch builds live under
  ``~/.cache/wheelfleet/macos-openssl``; the script's build key (source sha256, flags, the
  script's and verifier's sha256, the compilers) decides whether the installed build is reused
  (re-verified) or rebuilt, so a repeat run compiles nothing; an empty cache builds from
  scratch.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wheelfleet.lab.roots import cache_home
from wheelfleet.macos import MANIFEST_NAME, OPENSSL_SCRIPT
from wheelfleet.matrix import load_matrix

# The flags the macos_openssl role builds with: the matrix's (pyca's static-build flags as
# OpenSSL 3.0 accepts them), so the tests build exactly what a Mac would.
OPENSSL30_FLAGS = " ".join(load_matrix().macos["openssl"]["configure_flags"])  # type: ignore[index]
# The tests' fast mode (the benchmark does the full build): libcrypto.a only, without the
# algorithms the canary never touches, at -O0.  What verification looks at — each object's
# arch and minimum macOS — does not depend on any of these.  no-makedepend: no dependency
# files (every build here starts from a fresh tree).
FAST_EXTRA_FLAGS = (
    "no-makedepend no-legacy no-engine no-deprecated no-des no-md4 no-mdc2 no-rc2 no-rc4 "
    "no-idea no-seed no-camellia no-aria no-sm2 no-sm3 no-sm4 no-whirlpool no-bf no-cast no-cms "
    "no-ts no-ocsp no-srp no-ct no-dsa no-siphash no-blake2 no-scrypt no-cmp no-dtls no-psk "
    "no-srtp no-ocb no-siv no-rfc3779 no-poly1305 no-chacha no-gost no-ui-console no-err "
    "no-filenames no-ec2m no-rmd160 no-multiblock -O0")
# pyca/infra's deployment targets (and the matrix's macos.openssl.min_macos).
FLOORS = {"x86_64": "10.12", "arm64": "11.0"}
ZIG_ARCH = {"x86_64": "x86_64", "arm64": "aarch64"}
X86_64_CFLAGS = "-march=core2"
LIPO = "llvm-lipo-14"
APT_TIMEOUT = 600
SOURCE_DIR = "openssl-source"
BUILD_TIMEOUT = 1800  # the whole script, cold, in fast mode on 2 busy cores (measured ~5 min)


class BuildError(AssertionError):
    """A build step of the test harness failed; the message says which and why."""


def run(args: list[str], *, timeout: float, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command in its own session; on timeout the whole process group is killed.
    zig keeps its compilation cache with ours (see :func:`zig_cache`)."""
    if env is None:
        env = {**os.environ, "ZIG_GLOBAL_CACHE_DIR": str(zig_cache()),
               "ZIG_LOCAL_CACHE_DIR": str(zig_cache())}
    with subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise BuildError(f"{args[0]} timed out after {timeout} s: {err[-500:]}") from None
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- the source ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpenSSLSource:
    path: Path
    sha256: str
    version: str  # upstream version, e.g. 3.0.22
    debian_version: str


def _upstream_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version.split("-")[0]))


def debian_orig_tarballs() -> list[OpenSSLSource]:
    """Every openssl source version apt's (signed) source index knows, newest first, with the
    sha256 the index gives for its upstream tarball."""
    listing = run(["apt-cache", "showsrc", "openssl"], timeout=120)
    found = []
    for stanza in listing.stdout.split("\n\n"):
        version = re.search(r"^Version: (\S+)", stanza, re.M)
        checksums = re.search(r"^Checksums-Sha256:\n((?: .*\n?)+)", stanza, re.M)
        if not (version and checksums):
            continue
        for line in checksums.group(1).splitlines():
            words = line.split()
            if len(words) == 3 and words[2].endswith(".orig.tar.gz"):
                upstream = words[2].removeprefix("openssl_").removesuffix(".orig.tar.gz")
                found.append(OpenSSLSource(cache_home() / SOURCE_DIR / words[2], words[0],
                                           upstream, version.group(1)))
    return sorted(found, key=lambda s: _upstream_key(s.version), reverse=True)


def openssl_source() -> OpenSSLSource:
    """The newest OpenSSL upstream tarball of Debian's source archive, cached and verified."""
    directory = cache_home() / SOURCE_DIR
    directory.mkdir(parents=True, exist_ok=True)
    pin = directory / "source.json"
    candidates = debian_orig_tarballs()
    if not candidates and pin.is_file():
        # No source index right now (apt lists cleaned): the tarball pinned when it was fetched.
        recorded = json.loads(pin.read_text())
        cached = OpenSSLSource(directory / recorded["file"], recorded["sha256"],
                               recorded["version"], recorded["debian_version"])
        if cached.path.is_file() and sha256_file(cached.path) == cached.sha256:
            return cached
    if not candidates:
        raise BuildError("apt knows no openssl source package: add a deb-src entry for "
                         "bookworm (bash .ci/setup does) and run apt-get update")
    problems = []
    for candidate in candidates:
        if not (candidate.path.is_file() and sha256_file(candidate.path) == candidate.sha256):
            fetched = run(["apt-get", "source", "--download-only", "-q",
                           f"openssl={candidate.debian_version}"],
                          cwd=directory, timeout=APT_TIMEOUT)
            # apt-get may fail on the .dsc or the Debian diff while the upstream tarball, the
            # only file used here, arrived whole: its hash below decides.
            if not candidate.path.is_file():
                problems.append(f"{candidate.debian_version}: {fetched.stderr.strip()[-300:]}")
                continue
        got = sha256_file(candidate.path)
        if got != candidate.sha256:
            candidate.path.unlink()
            problems.append(f"{candidate.path.name}: sha256 {got}, the index says "
                            f"{candidate.sha256}")
            continue
        pin.write_text(json.dumps({"file": candidate.path.name, "sha256": candidate.sha256,
                                   "version": candidate.version,
                                   "debian_version": candidate.debian_version}) + "\n")
        return candidate
    raise BuildError("no openssl upstream tarball could be fetched from Debian's source "
                     "archive: " + "; ".join(problems))


# --- the toolchain ------------------------------------------------------------------------------

@functools.cache
def zig_binary() -> Path:
    """The ziglang wheel's ``zig``, named by a path that holds its version but not the venv's
    (``~/.cache/wheelfleet/bin/zig-0.17.1``): the compiler is part of the script's build key,
    and a fresh clone's venv must not make the cached build look different."""
    import ziglang

    real = Path(ziglang.__file__).parent / "zig"
    version = subprocess.run([str(real), "version"], capture_output=True, text=True,
                             timeout=60, check=True).stdout.strip()
    link = cache_home() / "bin" / f"zig-{version}"
    if not (link.is_symlink() and link.resolve() == real.resolve()):
        link.parent.mkdir(parents=True, exist_ok=True)
        fresh = link.with_name(f".{link.name}.{os.getpid()}")
        fresh.unlink(missing_ok=True)
        fresh.symlink_to(real)
        fresh.replace(link)
    return link


def zig_cc(arch: str, minimum: str) -> str:
    """``CC`` for one Mac arch: zig's clang with the macOS libc headers and libSystem.tbd it
    ships.  zig takes the minimum macOS from the target triple (it ignores
    ``-mmacosx-version-min``), so the triple carries it."""
    return f"{zig_binary()} cc -target {ZIG_ARCH[arch]}-macos.{minimum}"


def zig_cache() -> Path:
    """zig keeps a cache of its own (its compiler-rt and libSystem stubs per target, some
    compilations): keep it with ours, so an empty ~/.cache/wheelfleet means a cold build."""
    return cache_home() / "zig"


def script_env(cc: dict[str, str], zig_cache_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    cache = str(zig_cache_dir or zig_cache())
    env.update({"CC_X86_64": cc["x86_64"], "CC_ARM64": cc["arm64"], "LIPO": LIPO,
                "AR": "llvm-ar-14", "RANLIB": "llvm-ranlib-14", "PYTHON": sys.executable,
                "ZIG_GLOBAL_CACHE_DIR": cache, "ZIG_LOCAL_CACHE_DIR": cache})
    for name in ("CC", "WF_OPENSSL_EXTRA_FLAGS", "WF_OPENSSL_MODE", "WF_OPENSSL_KEEP_STAGES"):
        env.pop(name, None)
    return env


def require_tools() -> None:
    """The toolchain must be installed (``.ci/setup`` does it): a missing tool is a failure
    of the setup, never a reason to skip a real-artifact test."""
    for tool in ("llvm-lipo-14", "llvm-ar-14", "llvm-ranlib-14", "perl", "make", "apt-get"):
        if shutil.which(tool) is None:
            raise BuildError(f"{tool} is not installed; run bash .ci/setup")
    try:
        import ziglang  # noqa: F401
    except ImportError:
        raise BuildError("the ziglang package is not installed; run bash .ci/setup") from None


# --- the script ---------------------------------------------------------------------------------

@dataclass
class ScriptRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def run_script(source: OpenSSLSource, root: Path, *, work: Path | None = None,
               sha256: str | None = None, cc: dict[str, str] | None = None,
               mode: str = "libcrypto", extra_flags: str = FAST_EXTRA_FLAGS,
               flags: str = OPENSSL30_FLAGS, keep_stages: bool = True,
               timeout: float = BUILD_TIMEOUT, zig_cache_dir: Path | None = None) -> ScriptRun:
    """Run ``openssl_universal.sh`` as the role would, with this machine's tools."""
    compilers = cc or {arch: zig_cc(arch, floor) for arch, floor in FLOORS.items()}
    args = ["sh", str(OPENSSL_SCRIPT), "--source", str(source.path),
            "--sha256", sha256 or source.sha256, "--version", source.version,
            "--root", str(root), "--flags", flags, "--extra-flags", extra_flags,
            "--mode", mode, "--arch-cflags", f"x86_64={X86_64_CFLAGS}",
            "--step-timeout", str(int(timeout)), "--lock-wait", "600"]
    for arch, floor in FLOORS.items():
        args += ["--min-macos", f"{arch}={floor}"]
    if work is not None:
        args += ["--work", str(work)]
    if keep_stages:
        args.append("--keep-stages")
    started = time.monotonic()
    done = run(args, timeout=timeout + 60, env=script_env(compilers, zig_cache_dir))
    return ScriptRun(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


@dataclass
class UniversalOpenSSL:
    source: OpenSSLSource
    root: Path
    work: Path
    prefix: Path
    manifest: dict[str, Any]
    first_run: ScriptRun

    @property
    def libcrypto(self) -> Path:
        return self.prefix / "lib" / "libcrypto.a"

    @property
    def include(self) -> Path:
        return self.prefix / "include"


def universal_openssl(mode: str = "libcrypto", extra_flags: str = FAST_EXTRA_FLAGS,
                      keep_stages: int = 6) -> UniversalOpenSSL:
    """The universal OpenSSL built by the script, in the tests' cache.

    The cache is the script's own idempotency: one root, whose installed build the script
    keeps when its build key — source sha256, flags, mode, floors, compilers, the script's and
    the verifier's sha256 — is unchanged (it re-verifies it), and per-arch staged builds kept
    under the same inputs.  Any change rebuilds; an empty cache builds from scratch.  The root
    (baked into the build as its prefix) is one path for every key, so a run that changes one
    arch's inputs — the too-new-macOS test — rebuilds that arch only, against the same good
    build it must leave alone.
    """
    require_tools()
    source = openssl_source()
    base = cache_home() / "macos-openssl"
    root, work = base / "root", base / "work"
    work.mkdir(parents=True, exist_ok=True)
    _prune(base, work, keep_stages)
    first = run_script(source, root, work=work, mode=mode, extra_flags=extra_flags)
    if first.returncode != 0:
        raise BuildError(f"openssl_universal.sh failed (exit {first.returncode}): "
                         f"{first.stderr.strip()[-800:]}")
    prefix = root / f"{source.version}-{source.sha256[:12]}"
    manifest = json.loads((prefix / MANIFEST_NAME).read_text())
    return UniversalOpenSSL(source, root, work, prefix, manifest, first)


def _prune(base: Path, work: Path, keep: int) -> None:
    """Drop all but the ``keep`` newest staged arches (a changed script stages anew) and
    anything else that is not the root or the work dir."""
    for other in base.iterdir():
        if other.name not in ("root", "work"):
            shutil.rmtree(other, ignore_errors=True)
    stages = sorted(work.glob("stage-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in stages[keep:]:
        shutil.rmtree(stale, ignore_errors=True)


def tree_digest(directory: Path) -> dict[str, str]:
    """sha256 of every file under ``directory`` (symlinks by target), for before/after checks."""
    found = {}
    for path in sorted(directory.rglob("*")):
        rel = str(path.relative_to(directory))
        if path.is_symlink():
            found[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            found[rel] = sha256_file(path)
    return found


def lipo_archs(path: Path) -> list[str]:
    done = run([LIPO, "-archs", str(path)], timeout=60)
    if done.returncode != 0:
        raise BuildError(f"{LIPO} -archs {path}: {done.stderr.strip()}")
    return done.stdout.split()


def objdump_minos(path: Path, arch: str) -> set[str]:
    """Every minimum macOS llvm-objdump reports for ``arch``'s members: an independent reader
    to check the verifier against."""
    done = run(["llvm-objdump-14", "--macho", "--private-headers", f"--arch={arch}", str(path)],
               timeout=300)
    if done.returncode != 0:
        raise BuildError(f"llvm-objdump-14 {path}: {done.stderr.strip()[-300:]}")
    found = set(re.findall(r"^\s+minos (\S+)$", done.stdout, re.M))
    # LC_VERSION_MIN_MACOSX prints "version X" (its sdk line follows)
    found |= set(re.findall(r"cmd LC_VERSION_MIN_MACOSX\n\s+cmdsize \d+\n\s+version (\S+)",
                            done.stdout))
    return found
