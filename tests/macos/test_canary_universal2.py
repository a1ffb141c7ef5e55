"""The canary as a real universal2 wheel, judged by wheelcheck.

Proof level: **real artifact**.  ``canary.c`` (the health check's own source) is compiled for
x86_64 and arm64 macOS with ``zig cc``, linked statically against the universal libcrypto.a
that ``openssl_universal.sh`` built, fused with ``llvm-lipo-14`` and packed as a wheel; the
project's wheelcheck reads the Mach-O slices from the zip.  See ``canary_universal2`` for what
here is not a Mac (the Python headers' pyconfig.h; no Mac imports the module).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from canary_universal2 import CanaryBuild, canary_wheel, platform_tag
from macos_builders import UniversalOpenSSL, lipo_archs, objdump_minos

from wheelfleet.macos.openssl_manifest import parse_manifest
from wheelfleet.matrix.load import load_matrix
from wheelfleet.wheelcheck import check_wheel
from wheelfleet.wheelcheck.report import MACOS_MIN_VERSION_ABOVE_TAG, MISSING_ARCH_SLICE

pytestmark = pytest.mark.slow


def _as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def deployment_targets(openssl: UniversalOpenSSL) -> dict[str, str]:
    """Per arch: the matrix's minimum macOS for this Python, raised to the highest minimum of
    any object in the OpenSSL it links statically (a linker stamps the module with its own
    target, so an older one would hide libcrypto's real requirement)."""
    python = load_matrix().pythons[f"{sys.version_info.major}.{sys.version_info.minor}"]
    assert python.macos is not None and python.macos.universal2
    build = parse_manifest(openssl.manifest)
    return {arch: max(python.macos.min_macos[arch], build.max_minos[arch], key=_as_tuple)
            for arch in ("x86_64", "arm64")}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("canary-universal2")


def test_universal2_canary_wheel_passes_wheelcheck(openssl_build: UniversalOpenSSL,
                                                   workdir: Path) -> None:
    """Proof level: real artifact.  Both slices present, each slice's minimum macOS within the
    tag (arm64 counted from 11.0): wheelcheck finds nothing."""
    targets = deployment_targets(openssl_build)
    tag = platform_tag(targets)
    module, wheel = canary_wheel(CanaryBuild(targets, tag), openssl_build.libcrypto,
                                 openssl_build.include, workdir)
    assert wheel.name.endswith(f"-{tag}.whl") and "universal2" in tag
    assert sorted(lipo_archs(module)) == ["arm64", "x86_64"]
    for arch, minimum in targets.items():
        assert objdump_minos(module, arch) == {minimum}
    report = check_wheel(wheel)
    assert report.ok, report.problems
    assert report.problems == []


def test_canary_missing_a_slice_is_caught(openssl_build: UniversalOpenSSL,
                                          workdir: Path) -> None:
    """Proof level: real artifact.  An arm64-only module in a wheel tagged universal2:
    wheelcheck reports ``missing-arch-slice`` for the module, naming the missing x86_64."""
    targets = deployment_targets(openssl_build)
    _, wheel = canary_wheel(CanaryBuild({"arm64": targets["arm64"]}, platform_tag(targets)),
                            openssl_build.libcrypto, openssl_build.include, workdir)
    report = check_wheel(wheel)
    assert not report.ok
    assert report.codes() == {MISSING_ARCH_SLICE}
    (problem,) = report.problems
    assert problem.file.startswith("wheelfleet_canary.cpython-")
    assert "missing x86_64" in problem.message


def test_canary_slice_above_the_tag_is_caught(openssl_build: UniversalOpenSSL,
                                              workdir: Path) -> None:
    """Proof level: real artifact.  The same universal module tagged with this Python's own
    matrix floor for x86_64 (10.9 for 3.9-3.11) although the slice was built for the OpenSSL's
    10.12 — the mistake of tagging by the interpreter alone: ``macos-min-version-above-tag``
    names the slice and both versions."""
    targets = deployment_targets(openssl_build)
    python = load_matrix().pythons[f"{sys.version_info.major}.{sys.version_info.minor}"]
    assert python.macos is not None
    floor = python.macos.min_macos["x86_64"]
    if _as_tuple(floor) >= _as_tuple(targets["x86_64"]):
        floor = "10.9"  # a Python whose floor already covers OpenSSL's: tag one below anyway
    _, wheel = canary_wheel(CanaryBuild(targets, platform_tag({**targets, "x86_64": floor})),
                            openssl_build.libcrypto, openssl_build.include, workdir)
    assert wheel.name.endswith(f"-{platform_tag({'x86_64': floor})}.whl")
    report = check_wheel(wheel)
    assert report.codes() == {MACOS_MIN_VERSION_ABOVE_TAG}
    (problem,) = report.problems
    found = targets["x86_64"]
    source = "LC_VERSION_MIN_MACOSX" if _as_tuple(found) < (10, 14) else "LC_BUILD_VERSION"
    assert problem.message == (
        f"x86_64 slice needs macOS {found} ({source}) but the tag allows macOS {floor} "
        "for x86_64")
