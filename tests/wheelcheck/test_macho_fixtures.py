"""macOS checks on Mach-O files built here with clang-14 + ld64.lld-14 and fused by llvm-lipo-14."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from wheelcheck_builders import (
    EXT_ABI3_SINCE_310_SOURCE,
    EXT_USES_HELPER_SOURCE,
    limits,
    make_wheel,
)

from wheelfleet.wheelcheck import check_wheel
from wheelfleet.wheelcheck.macho_reader import read_macho
from wheelfleet.wheelcheck.report import (
    ABI3_VIOLATION,
    ARCH_MISMATCH,
    EXTERNAL_LIBRARY_NOT_BUNDLED,
    MACOS_MIN_VERSION_ABOVE_TAG,
    MISSING_ARCH_SLICE,
)

EXT = "pkg/ext.cpython-312-darwin.so"


def _only(report, code):
    assert report.codes() == {code}, report.problems
    return [p for p in report.problems if p.code == code]


@pytest.fixture(scope="module")
def universal2_ext(toolchain, built) -> bytes:
    """x86_64 at 10.9 (LC_VERSION_MIN_MACOSX) + arm64 at 11.0 (LC_BUILD_VERSION)."""
    x86 = built(lambda: toolchain.macho_ext("x86_64", "10.9"))
    arm = built(lambda: toolchain.macho_ext("arm64", "11.0"))
    return built(lambda: toolchain.lipo("macho-universal2", x86, arm)).read_bytes()


def test_fixture_slices_are_what_we_built(universal2_ext: bytes) -> None:
    """Guards the fixtures themselves: both load-command kinds are exercised below."""
    facts = read_macho(io.BytesIO(universal2_ext), limits())
    found = {(s.arch, s.min_os, s.min_os_source) for s in facts.slices}
    assert found == {
        ("x86_64", (10, 9, 0), "LC_VERSION_MIN_MACOSX"),
        ("arm64", (11, 0, 0), "LC_BUILD_VERSION"),
    }


def test_universal2_at_10_9_with_arm64_at_11_passes(tmp_path: Path, universal2_ext: bytes) -> None:
    wheel = make_wheel(tmp_path, "cp312-cp312-macosx_10_9_universal2", {EXT: universal2_ext})
    report = check_wheel(wheel)
    assert report.ok, report.problems


def test_thin_x86_64_in_universal2_wheel_lacks_arm64(tmp_path: Path, toolchain, built) -> None:
    x86 = built(lambda: toolchain.macho_ext("x86_64", "10.9")).read_bytes()
    wheel = make_wheel(tmp_path, "cp312-cp312-macosx_10_9_universal2", {EXT: x86})
    (problem,) = _only(check_wheel(wheel), MISSING_ARCH_SLICE)
    assert problem.message == ("has slices x86_64 but the tags claim arm64, x86_64: missing arm64")


def test_arm64_binary_in_x86_64_wheel_is_arch_mismatch(tmp_path: Path, toolchain, built) -> None:
    arm = built(lambda: toolchain.macho_ext("arm64", "11.0")).read_bytes()
    wheel = make_wheel(tmp_path, "cp312-cp312-macosx_10_9_x86_64", {EXT: arm})
    (problem,) = _only(check_wheel(wheel), ARCH_MISMATCH)
    assert problem.message == "Mach-O cputype is arm64 but the platform tag allows x86_64"


def test_thin_arm64_in_arm64_wheel_passes(tmp_path: Path, toolchain, built) -> None:
    arm = built(lambda: toolchain.macho_ext("arm64", "11.0")).read_bytes()
    assert check_wheel(make_wheel(tmp_path, "cp312-cp312-macosx_11_0_arm64", {EXT: arm})).ok


def test_x86_64_built_for_10_13_in_10_9_wheel(tmp_path: Path, toolchain, built) -> None:
    x86 = built(lambda: toolchain.macho_ext("x86_64", "10.13")).read_bytes()
    wheel = make_wheel(tmp_path, "cp312-cp312-macosx_10_9_x86_64", {EXT: x86})
    (problem,) = _only(check_wheel(wheel), MACOS_MIN_VERSION_ABOVE_TAG)
    assert problem.message.startswith("x86_64 slice needs macOS 10.13")
    assert "tag allows macOS 10.9" in problem.message


def test_x86_64_built_for_10_13_in_10_13_wheel_passes(tmp_path: Path, toolchain, built) -> None:
    x86 = built(lambda: toolchain.macho_ext("x86_64", "10.13")).read_bytes()
    assert check_wheel(make_wheel(tmp_path, "cp312-cp312-macosx_10_13_x86_64", {EXT: x86})).ok


def test_arm64_built_for_12_in_11_wheel(tmp_path: Path, toolchain, built) -> None:
    arm = built(lambda: toolchain.macho_ext("arm64", "12.0")).read_bytes()
    wheel = make_wheel(tmp_path, "cp312-cp312-macosx_11_0_arm64", {EXT: arm})
    (problem,) = _only(check_wheel(wheel), MACOS_MIN_VERSION_ABOVE_TAG)
    assert problem.message == (
        "arm64 slice needs macOS 12.0 (LC_BUILD_VERSION) but the tag allows macOS 11.0 for arm64"
    )


def test_dylib_from_homebrew_prefix_is_not_bundled(tmp_path: Path, toolchain, built) -> None:
    helper = built(lambda: toolchain.macho_helper("arm64", "/usr/local/opt/wf/lib/libhelper.dylib"))
    ext = built(
        lambda: toolchain.macho_ext(
            "arm64", "11.0", link=[helper], source=EXT_USES_HELPER_SOURCE, key="macho-ext-homebrew"
        )
    )
    wheel = make_wheel(tmp_path, "cp312-cp312-macosx_11_0_arm64", {EXT: ext.read_bytes()})
    (problem,) = _only(check_wheel(wheel), EXTERNAL_LIBRARY_NOT_BUNDLED)
    assert problem.message.startswith("needs /usr/local/opt/wf/lib/libhelper.dylib (LC_LOAD_DYLIB)")


@pytest.fixture(scope="module")
def rpath_linked(toolchain, built) -> tuple[bytes, bytes]:
    """An extension needing @rpath/libhelper.dylib with LC_RPATH @loader_path/.dylibs."""
    helper = built(lambda: toolchain.macho_helper("arm64", "@rpath/libhelper.dylib"))
    ext = built(
        lambda: toolchain.macho_ext(
            "arm64",
            "11.0",
            link=[helper],
            rpaths=["@loader_path/.dylibs"],
            source=EXT_USES_HELPER_SOURCE,
            key="macho-ext-rpath",
        )
    )
    return ext.read_bytes(), helper.read_bytes()


def test_rpath_dylib_bundled_in_dot_dylibs_passes(tmp_path: Path, rpath_linked) -> None:
    ext, helper = rpath_linked
    files = {EXT: ext, "pkg/.dylibs/libhelper.dylib": helper}
    report = check_wheel(make_wheel(tmp_path, "cp312-cp312-macosx_11_0_arm64", files))
    assert report.ok, report.problems


def test_rpath_dylib_missing_from_wheel(tmp_path: Path, rpath_linked) -> None:
    ext, _helper = rpath_linked
    wheel = make_wheel(tmp_path, "cp312-cp312-macosx_11_0_arm64", {EXT: ext})
    (problem,) = _only(check_wheel(wheel), EXTERNAL_LIBRARY_NOT_BUNDLED)
    assert "@rpath/libhelper.dylib" in problem.message


def test_abi3_macho_uses_symbol_newer_than_claim(tmp_path: Path, toolchain, built) -> None:
    ext = built(
        lambda: toolchain.macho_ext(
            "arm64", "11.0", source=EXT_ABI3_SINCE_310_SOURCE, key="macho-ext-abi3"
        )
    ).read_bytes()
    bad = make_wheel(tmp_path, "cp38-abi3-macosx_11_0_arm64", {"pkg/ext.abi3.so": ext})
    (problem,) = _only(check_wheel(bad), ABI3_VIOLATION)
    assert "PyUnicode_AsUTF8AndSize (limited API since 3.10)" in problem.message
    good = make_wheel(tmp_path, "cp310-abi3-macosx_11_0_arm64", {"pkg/ext.abi3.so": ext})
    assert check_wheel(good).ok
