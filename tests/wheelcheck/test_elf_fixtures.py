"""Linux checks on ELF extensions built here with gcc (x86_64) and clang/lld (foreign arches)."""

from __future__ import annotations

from pathlib import Path

import pytest
from wheelcheck_builders import (
    EXT_ABI3_SINCE_310_SOURCE,
    EXT_GETRANDOM_SOURCE,
    EXT_NOT_LIMITED_SOURCE,
    EXT_SOURCE,
    EXT_USES_LIBCRYPTO_SOURCE,
    make_wheel,
)

from wheelfleet.wheelcheck import check_wheel
from wheelfleet.wheelcheck.report import (
    ABI3_VIOLATION,
    ARCH_MISMATCH,
    EXECUTABLE_STACK,
    EXTERNAL_LIBRARY_NOT_BUNDLED,
    LIBC_FAMILY_MISMATCH,
    SYMBOLS_TOO_NEW,
)

MANYLINUX2014 = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"


def _only(report, code):
    """The problems of one code, after asserting no other code was reported."""
    assert report.codes() == {code}, report.problems
    return [p for p in report.problems if p.code == code]


@pytest.fixture(scope="module")
def plain_ext(toolchain, built) -> bytes:
    return built(lambda: toolchain.gcc_ext("elf-plain", EXT_SOURCE)).read_bytes()


def test_plain_gcc_extension_passes_manylinux2014(tmp_path: Path, plain_ext: bytes) -> None:
    wheel = make_wheel(
        tmp_path, MANYLINUX2014, {"pkg/ext.cpython-311-x86_64-linux-gnu.so": plain_ext}
    )
    report = check_wheel(wheel)
    assert report.ok, report.problems


def test_executable_stack_is_reported(tmp_path: Path, toolchain, built) -> None:
    ext = built(lambda: toolchain.gcc_ext("elf-execstack", EXT_SOURCE, "-Wl,-z,execstack"))
    wheel = make_wheel(tmp_path, MANYLINUX2014, {"pkg/ext.so": ext.read_bytes()})
    (problem,) = _only(check_wheel(wheel), EXECUTABLE_STACK)
    assert problem.file == "pkg/ext.so"
    assert "RWE" in problem.message


def test_glibc_2_25_symbol_is_too_new_for_manylinux2014(tmp_path: Path, toolchain, built) -> None:
    ext = built(lambda: toolchain.gcc_ext("elf-getrandom", EXT_GETRANDOM_SOURCE))
    wheel = make_wheel(tmp_path, MANYLINUX2014, {"pkg/ext.so": ext.read_bytes()})
    (problem,) = _only(check_wheel(wheel), SYMBOLS_TOO_NEW)
    assert "GLIBC_2.25 (libc.so.6)" in problem.message
    assert "allows at most GLIBC_2.17" in problem.message


def test_glibc_2_25_symbol_fits_manylinux_2_28(tmp_path: Path, toolchain, built) -> None:
    ext = built(lambda: toolchain.gcc_ext("elf-getrandom", EXT_GETRANDOM_SOURCE))
    wheel = make_wheel(
        tmp_path, "cp311-cp311-manylinux_2_28_x86_64", {"pkg/ext.so": ext.read_bytes()}
    )
    assert check_wheel(wheel).ok


def test_unbundled_libcrypto_is_reported(tmp_path: Path, toolchain, built) -> None:
    ext = built(lambda: toolchain.gcc_ext("elf-libcrypto", EXT_USES_LIBCRYPTO_SOURCE, "-lcrypto"))
    wheel = make_wheel(tmp_path, MANYLINUX2014, {"pkg/ext.so": ext.read_bytes()})
    report = check_wheel(wheel)
    problems = [p for p in report.problems if p.code == EXTERNAL_LIBRARY_NOT_BUNDLED]
    assert [p.file for p in problems] == ["pkg/ext.so"]
    assert "needs libcrypto.so.3" in problems[0].message


def test_unbundled_helper_library_is_reported(tmp_path: Path, toolchain, built) -> None:
    ext = built(toolchain.gcc_ext_linked_to_helper)
    wheel = make_wheel(tmp_path, MANYLINUX2014, {"pkg/ext.so": ext.read_bytes()})
    (problem,) = _only(check_wheel(wheel), EXTERNAL_LIBRARY_NOT_BUNDLED)
    assert "needs libwfhelper.so.1" in problem.message
    assert "$ORIGIN/../pkg.libs" in problem.message


def test_helper_bundled_at_runpath_passes(tmp_path: Path, toolchain, built) -> None:
    ext = built(toolchain.gcc_ext_linked_to_helper)
    helper = built(toolchain.gcc_helper_lib)
    wheel = make_wheel(
        tmp_path,
        MANYLINUX2014,
        {"pkg/ext.so": ext.read_bytes(), "pkg.libs/libwfhelper.so.1": helper.read_bytes()},
    )
    assert check_wheel(wheel).ok


def test_helper_bundled_elsewhere_than_runpath_is_reported(
    tmp_path: Path, toolchain, built
) -> None:
    """The loader only searches RUNPATH: a copy in another directory does not help."""
    ext = built(toolchain.gcc_ext_linked_to_helper)
    helper = built(toolchain.gcc_helper_lib)
    wheel = make_wheel(
        tmp_path,
        MANYLINUX2014,
        {"pkg/ext.so": ext.read_bytes(), "other/libwfhelper.so.1": helper.read_bytes()},
    )
    _only(check_wheel(wheel), EXTERNAL_LIBRARY_NOT_BUNDLED)


def test_aarch64_elf_in_x86_64_wheel_is_arch_mismatch(tmp_path: Path, toolchain, built) -> None:
    ext = built(lambda: toolchain.clang_elf("elf-aarch64", "aarch64-linux-gnu"))
    wheel = make_wheel(tmp_path, MANYLINUX2014, {"pkg/ext.so": ext.read_bytes()})
    (problem,) = _only(check_wheel(wheel), ARCH_MISMATCH)
    assert problem.message == "ELF e_machine is aarch64 but the platform tag allows x86_64"


def test_aarch64_elf_in_aarch64_wheel_passes(tmp_path: Path, toolchain, built) -> None:
    ext = built(lambda: toolchain.clang_elf("elf-aarch64", "aarch64-linux-gnu"))
    wheel = make_wheel(
        tmp_path, "cp311-cp311-manylinux_2_28_aarch64", {"pkg/ext.so": ext.read_bytes()}
    )
    assert check_wheel(wheel).ok


def test_i686_elf_in_i686_wheel_passes_and_mismatches_x86_64(
    tmp_path: Path, toolchain, built
) -> None:
    ext = built(lambda: toolchain.clang_elf("elf-i686", "i686-linux-gnu")).read_bytes()
    assert check_wheel(
        make_wheel(tmp_path, "cp311-cp311-manylinux2014_i686", {"pkg/ext.so": ext})
    ).ok
    wrong = make_wheel(tmp_path, "cp311-cp311-manylinux2014_x86_64", {"pkg/ext.so": ext})
    _only(check_wheel(wrong), ARCH_MISMATCH)


def test_abi3_symbol_newer_than_claimed_version(tmp_path: Path, toolchain, built) -> None:
    ext = built(lambda: toolchain.gcc_ext("elf-abi3-310", EXT_ABI3_SINCE_310_SOURCE))
    wheel = make_wheel(
        tmp_path, "cp37-abi3-manylinux2014_x86_64", {"pkg/ext.abi3.so": ext.read_bytes()}
    )
    (problem,) = _only(check_wheel(wheel), ABI3_VIOLATION)
    assert "PyUnicode_AsUTF8AndSize (limited API since 3.10)" in problem.message
    assert "abi3 version 3.7" in problem.message


def test_abi3_symbol_within_claimed_version_passes(tmp_path: Path, toolchain, built) -> None:
    ext = built(lambda: toolchain.gcc_ext("elf-abi3-310", EXT_ABI3_SINCE_310_SOURCE))
    wheel = make_wheel(
        tmp_path, "cp310-abi3-manylinux2014_x86_64", {"pkg/ext.abi3.so": ext.read_bytes()}
    )
    assert check_wheel(wheel).ok


def test_abi3_wheel_using_private_api_is_reported(tmp_path: Path, toolchain, built) -> None:
    ext = built(lambda: toolchain.gcc_ext("elf-private-api", EXT_NOT_LIMITED_SOURCE))
    wheel = make_wheel(
        tmp_path, "cp312-abi3-manylinux2014_x86_64", {"pkg/ext.abi3.so": ext.read_bytes()}
    )
    (problem,) = _only(check_wheel(wheel), ABI3_VIOLATION)
    assert problem.message.startswith("uses _PyObject_GetDictPtr, not in the limited API")


def test_private_api_is_fine_without_abi3_tag(tmp_path: Path, toolchain, built) -> None:
    ext = built(lambda: toolchain.gcc_ext("elf-private-api", EXT_NOT_LIMITED_SOURCE))
    wheel = make_wheel(tmp_path, MANYLINUX2014, {"pkg/ext.so": ext.read_bytes()})
    assert check_wheel(wheel).ok


def test_musllinux_rejects_glibc_linked_extension(tmp_path: Path, toolchain, built) -> None:
    """libc.so.6 and GLIBC_ versions are glibc's: one problem, the libc family, not also an
    unbundled libc.so.6."""
    ext = built(lambda: toolchain.gcc_ext("elf-getrandom", EXT_GETRANDOM_SOURCE))
    wheel = make_wheel(
        tmp_path, "cp311-cp311-musllinux_1_2_x86_64", {"pkg/ext.so": ext.read_bytes()}
    )
    (problem,) = _only(check_wheel(wheel), LIBC_FAMILY_MISMATCH)
    assert problem.message == (
        "needs glibc (libc.so.6; symbol versions GLIBC_2.2.5, GLIBC_2.25) but "
        "musllinux_1_2_x86_64 promises a musl system"
    )


def test_missing_gnu_stack_header_counts_as_executable_for_glibc(
    tmp_path: Path, toolchain, built
) -> None:
    ext = built(
        lambda: toolchain.clang_elf("elf-nognustack", "x86_64-linux-gnu", "-Wl,-z,nognustack")
    )
    wheel = make_wheel(tmp_path, MANYLINUX2014, {"pkg/ext.so": ext.read_bytes()})
    (problem,) = _only(check_wheel(wheel), EXECUTABLE_STACK)
    assert problem.message.startswith("no PT_GNU_STACK header")


def test_missing_gnu_stack_header_is_fine_for_musl(tmp_path: Path, toolchain, built) -> None:
    """musl never makes a stack executable, whatever the headers say."""
    ext = built(
        lambda: toolchain.clang_elf("elf-nognustack", "x86_64-linux-gnu", "-Wl,-z,nognustack")
    )
    wheel = make_wheel(
        tmp_path, "cp311-cp311-musllinux_1_2_x86_64", {"pkg/ext.so": ext.read_bytes()}
    )
    assert check_wheel(wheel).ok


def test_runpath_resolves_inside_platlib_data_dir(tmp_path: Path, toolchain, built) -> None:
    """Members under <name>.data/platlib/ install to site-packages: $ORIGIN works there too."""
    ext = built(toolchain.gcc_ext_linked_to_helper)
    helper = built(toolchain.gcc_helper_lib)
    files = {
        "pkg-1.0.data/platlib/pkg/ext.so": ext.read_bytes(),
        "pkg-1.0.data/platlib/pkg.libs/libwfhelper.so.1": helper.read_bytes(),
    }
    assert check_wheel(make_wheel(tmp_path, MANYLINUX2014, files)).ok
