"""Cross-build the project's canary as a real universal2 wheel: compile ``canary.c`` for each Mac
arch with ``zig cc``, link it with the universal ``libcrypto.a`` into an extension module, fuse
the two with ``llvm-lipo-14`` and pack a ``cpXY-cpXY-macosx_<min>_universal2`` wheel.

Provenance, honestly: the binaries are real Mach-O (zig's clang and its Mach-O linker, macOS
libc headers and ``libSystem.tbd`` from the ziglang wheel; libcrypto from the universal build of
``openssl_universal.sh``).  The Python headers are this machine's CPython (there are no macOS
Python headers here) with its real ``pyconfig.h`` put where Debian's multiarch wrapper was: the
C API the canary uses has the same layout on every LP64 platform, so the module is the one a Mac
would build, tagged for that Python.  zig links ``-shared`` (an ``MH_DYLIB``, as maturin's
extension modules are): its ``-bundle`` crashes in zig 0.17.  No Mac loads the result here.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from canary_wheel import pack_canary_wheel
from macos_builders import LIPO, BuildError, run, zig_cc

import wheelfleet.canary

CANARY_SOURCE = Path(wheelfleet.canary.__file__).parent / "project" / "src" / "canary.c"
MODULE = "wheelfleet_canary"
PYTHON_TAG = f"cp{sys.version_info.major}{sys.version_info.minor}"
SUFFIX = f".cpython-{sys.version_info.major}{sys.version_info.minor}-darwin.so"
COMPILE_TIMEOUT = 300


@dataclass(frozen=True)
class CanaryBuild:
    """What one canary wheel is built from: per-arch deployment targets and which slices."""

    targets: dict[str, str]  # arch -> the minimum macOS its slice is compiled and linked for
    platform_tag: str  # e.g. macosx_10_13_universal2


def python_headers(workdir: Path) -> Path:
    """This CPython's headers with its real pyconfig.h in place of Debian's multiarch
    wrapper (which picks a Linux triplet's header and errors for any other target)."""
    include = workdir / "python-include"
    if not include.is_dir():
        shutil.copytree(sysconfig.get_paths()["include"], include)
        shutil.copy(sysconfig.get_config_h_filename(), include / "pyconfig.h")
    return include


def build_slice(arch: str, minimum: str, libcrypto: Path, openssl_include: Path,
                workdir: Path) -> Path:
    """The canary extension for one arch, libcrypto linked in statically."""
    out = workdir / f"{arch}-{minimum}"
    out.mkdir(parents=True, exist_ok=True)
    zig = zig_cc(arch, minimum).split()
    obj, module = out / "canary.o", out / f"{MODULE}{SUFFIX}"
    steps = [
        [*zig, "-O2", "-fPIC", "-Wall", "-I", str(python_headers(workdir)),
         "-I", str(openssl_include), "-c", str(CANARY_SOURCE), "-o", str(obj)],
        # -undefined dynamic_lookup: the Py* symbols come from the interpreter at import time.
        [*zig, "-shared", "-undefined", "dynamic_lookup", "-o", str(module), str(obj),
         str(libcrypto)],
    ]
    for step in steps:
        done = run(step, timeout=COMPILE_TIMEOUT)
        if done.returncode != 0:
            raise BuildError(f"zig cc for {arch} (macOS {minimum}) failed: "
                             f"{done.stderr.strip()[-600:]}")
    return module


def lipo_create(output: Path, *slices: Path) -> Path:
    done = run([LIPO, "-create", "-output", str(output), *map(str, slices)], timeout=120)
    if done.returncode != 0:
        raise BuildError(f"{LIPO} -create: {done.stderr.strip()}")
    return output


def build_module(build: CanaryBuild, libcrypto: Path, openssl_include: Path,
                 workdir: Path) -> Path:
    """The (fat when more than one arch) extension module."""
    slices = [build_slice(arch, minimum, libcrypto, openssl_include, workdir)
              for arch, minimum in build.targets.items()]
    name = "-".join(f"{a}{m}" for a, m in build.targets.items())
    if len(slices) == 1:
        return slices[0]
    return lipo_create(workdir / f"fat-{name}{SUFFIX}", *slices)


def pack_wheel(module: Path, platform_tag: str, outdir: Path) -> Path:
    """A wheel holding ``module`` as ``wheelfleet_canary<suffix>``, tagged cpXY-cpXY-<platform>."""
    return pack_canary_wheel(f"{MODULE}{SUFFIX}", module.read_bytes(),
                             f"{PYTHON_TAG}-{PYTHON_TAG}-{platform_tag}", outdir,
                             executable=True)


def canary_wheel(build: CanaryBuild, libcrypto: Path, openssl_include: Path,
                 workdir: Path) -> tuple[Path, Path]:
    """``(module, wheel)``: the (fat) extension module and the wheel packed around it."""
    module = build_module(build, libcrypto, openssl_include, workdir)
    return module, pack_wheel(module, build.platform_tag, workdir / "dist" / "-".join(
        f"{a}{m}" for a, m in build.targets.items()))


def platform_tag(targets: dict[str, str], universal2: bool = True) -> str:
    """``macosx_X_Y_universal2`` from the x86_64 target (arm64 counts from 11.0)."""
    version = targets.get("x86_64") or targets["arm64"]
    major, _, minor = version.partition(".")
    arch = "universal2" if universal2 else next(iter(targets))
    return f"macosx_{major}_{minor or 0}_{arch}"
