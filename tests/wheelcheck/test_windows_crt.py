"""``windows-crt-mismatch``: .pyd files built here against each compiler family's C runtime
(mingw-w64's msvcr90 / msvcr100 / Universal CRT import libraries for x86 and x64; clang-14 +
lld-link-14 for arm64), in wheels for each Python of the toolchain matrix."""

from __future__ import annotations

from pathlib import Path

import pytest
from wheelcheck_builders import EXT_USES_CRT_SOURCE, limits, make_wheel

from wheelfleet.matrix import load_matrix
from wheelfleet.wheelcheck import check_wheel
from wheelfleet.wheelcheck.pe_reader import read_pe
from wheelfleet.wheelcheck.report import WINDOWS_CRT_MISMATCH

# The mingw-w64 import library that makes a module use each family's C runtime: test data
# for building fixtures. Which family a Python uses is the matrix's, read below.
IMPORT_LIBRARY = {"vc9": "msvcr90", "vc10": "msvcr100", "vc14": "ucrt"}
MINGW_ARCH = {"x86": ("i686", "win32"), "x64": ("x86_64", "win_amd64")}


def _cases() -> list[tuple[str, str, str]]:
    """(Python id, its cpXY-cpXY tag part, its compiler family) for every matrix Python with
    a Windows build; free-threaded ones are the same family as their GIL twin."""
    matrix = load_matrix()
    return [(p.id, f"cp{p.minor.replace('.', '')}-{p.windows.abi_tag}", p.windows.compiler)
            for p in matrix.pythons.values() if p.windows is not None]


@pytest.mark.parametrize("arch", sorted(MINGW_ARCH))
@pytest.mark.parametrize(("python", "tags", "family"), _cases())
def test_each_python_accepts_only_its_own_families_runtime(
    tmp_path: Path, toolchain, built, arch: str, python: str, tags: str, family: str
) -> None:
    mingw_arch, platform = MINGW_ARCH[arch]
    for crt_family, library in IMPORT_LIBRARY.items():
        pyd = built(lambda library=library: toolchain.mingw_crt_ext(mingw_arch, library))
        directory = tmp_path / crt_family
        directory.mkdir()
        report = check_wheel(make_wheel(directory, f"{tags}-{platform}",
                                        {"pkg/ext.pyd": pyd.read_bytes()}))
        if crt_family == family:
            assert report.ok, (python, crt_family, report.problems)
        else:
            assert report.codes() == {WINDOWS_CRT_MISMATCH}, (python, crt_family, report.problems)


def test_message_names_the_runtime_and_the_family(tmp_path: Path, toolchain, built) -> None:
    pyd = built(lambda: toolchain.mingw_crt_ext("x86_64", "msvcr100")).read_bytes()
    report = check_wheel(make_wheel(tmp_path, "cp312-cp312-win_amd64", {"pkg/ext.pyd": pyd}))
    (problem,) = report.problems
    assert (problem.code, problem.file) == (WINDOWS_CRT_MISMATCH, "pkg/ext.pyd")
    assert problem.message == (
        "imports msvcr100.dll (VC10's runtime), but the toolchain matrix builds extensions for "
        "Python 3.12 with VC14 (VCRUNTIME140.DLL): two C runtimes in one process crash when "
        "memory or files cross between them"
    )


def test_abi3_wheel_must_suit_every_python_it_claims(tmp_path: Path, toolchain, built) -> None:
    """cp34-abi3 claims 3.4 (VC10) and every later CPython (VC14): a UCRT module breaks 3.4."""
    pyd = built(lambda: toolchain.mingw_crt_ext("x86_64", "ucrt")).read_bytes()
    assert check_wheel(make_wheel(tmp_path, "cp35-abi3-win_amd64", {"pkg/ext.pyd": pyd})).ok
    report = check_wheel(make_wheel(tmp_path, "cp34-abi3-win_amd64", {"pkg/ext.pyd": pyd}))
    (problem,) = report.problems
    assert problem.code == WINDOWS_CRT_MISMATCH
    assert "builds extensions for Python 3.4 with VC10 (MSVCR100.DLL)" in problem.message


@pytest.fixture(scope="module")
def arm64_pyds(toolchain, built) -> dict[str, bytes]:
    vc14 = {"VCRUNTIME140.dll": ["memset"], "api-ms-win-crt-heap-l1-1-0.dll": ["malloc", "free"]}
    return {
        "vc14": built(lambda: toolchain.arm64_crt_ext("pe-arm64-vc14", vc14)).read_bytes(),
        "vc10": built(
            lambda: toolchain.arm64_crt_ext("pe-arm64-vc10", {"MSVCR100.dll": ["malloc", "free"]})
        ).read_bytes(),
    }


def test_arm64_pyd_with_the_ucrt_passes_and_msvcr100_fails(tmp_path: Path, arm64_pyds) -> None:
    good = make_wheel(tmp_path, "cp311-cp311-win_arm64", {"pkg/ext.pyd": arm64_pyds["vc14"]})
    assert check_wheel(good).ok
    bad = make_wheel(tmp_path, "cp311-cp311-win_arm64", {"pkg/ext.pyd": arm64_pyds["vc10"]})
    (problem,) = check_wheel(bad).problems
    assert problem.code == WINDOWS_CRT_MISMATCH
    assert problem.message.startswith("imports MSVCR100.dll (VC10's runtime), but the toolchain "
                                      "matrix builds extensions for Python 3.11 with VC14")


def test_mingw_default_msvcrt_is_not_a_visual_cpp_runtime(tmp_path: Path, toolchain, built) -> None:
    """msvcrt.dll is Windows' own C runtime (mingw's default), not a compiler family's."""
    pyd = built(lambda: toolchain.mingw_dll("pe-msvcrt", "x86_64", EXT_USES_CRT_SOURCE))
    assert "msvcrt.dll" in {d.lower() for d in _imports(pyd.read_bytes())}
    assert check_wheel(make_wheel(tmp_path, "cp27-cp27m-win_amd64",
                                  {"pkg/ext.pyd": pyd.read_bytes()})).ok


def _imports(data: bytes) -> list[str]:
    return read_pe(data, limits("ext.pyd")).needed
