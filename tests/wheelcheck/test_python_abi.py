"""``python-abi-mismatch``: real binaries built here, named and linked for one Python, in
wheels whose tags claim another — and the same binaries where the tags are right."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from real_wheels import fetch
from test_real_wheels import REAL_WHEELS
from wheelcheck_builders import (
    EXT_PY2_NARROW_SOURCE,
    EXT_PY2_WIDE_SOURCE,
    EXT_SOURCE,
    make_wheel,
)

from wheelfleet.wheelcheck import check_wheel
from wheelfleet.wheelcheck.report import EXTERNAL_LIBRARY_NOT_BUNDLED, PYTHON_ABI_MISMATCH

LINUX = "manylinux_2_17_x86_64"


@pytest.fixture(scope="module")
def elf_ext(toolchain, built) -> bytes:
    return built(lambda: toolchain.gcc_ext("elf-plain", EXT_SOURCE)).read_bytes()


def _abi_problems(wheel: Path, *, also: frozenset[str] = frozenset()) -> list[str]:
    """The python-abi-mismatch messages, after asserting no codes but ``also`` came too."""
    report = check_wheel(wheel)
    assert report.codes() <= {PYTHON_ABI_MISMATCH, *also}, report.problems
    return [p.message for p in report.problems if p.code == PYTHON_ABI_MISMATCH]


@pytest.mark.parametrize(
    ("interpreter_abi", "module", "message"),
    [
        ("cp311-cp311", "ext.cpython-312-x86_64-linux-gnu.so",
         "extension suffix .cpython-312-x86_64-linux-gnu is imported only by CPython 3.12; "
         "the wheel's tags claim cp311-cp311"),
        ("cp313-cp313t", "ext.cpython-313-x86_64-linux-gnu.so",
         "extension suffix .cpython-313-x86_64-linux-gnu is imported only by CPython 3.13; "
         "the wheel's tags claim cp313-cp313t"),
        ("cp313-cp313", "ext.cpython-313t-x86_64-linux-gnu.so",
         "extension suffix .cpython-313t-x86_64-linux-gnu is imported only by free-threaded "
         "CPython 3.13; the wheel's tags claim cp313-cp313"),
        ("cp39-abi3", "ext.cpython-39-x86_64-linux-gnu.so",
         "extension suffix .cpython-39-x86_64-linux-gnu is imported only by CPython 3.9; the "
         "wheel's tags claim cp39-abi3: an abi3 wheel's modules must load on every CPython "
         "from its version on"),
        ("cp313-cp313t", "ext.abi3.so",
         "extension suffix .abi3 is imported only by the stable ABI (abi3); the wheel's tags "
         "claim cp313-cp313t: free-threaded CPython does not load the stable ABI"),
        ("cp37-cp37m", "ext.cpython-37-x86_64-linux-gnu.so",
         "extension suffix .cpython-37-x86_64-linux-gnu is imported only by CPython 3.7; the "
         "wheel's tags claim cp37-cp37m"),
        ("cp311-cp311", "ext.cpython-311-aarch64-linux-gnu.so",
         "extension suffix .cpython-311-aarch64-linux-gnu is for aarch64 Linux; the wheel is "
         "tagged for x86_64"),
    ],
)
def test_linux_suffix_for_another_python(
    tmp_path: Path, elf_ext: bytes, interpreter_abi: str, module: str, message: str
) -> None:
    wheel = make_wheel(tmp_path, f"{interpreter_abi}-{LINUX}", {f"pkg/{module}": elf_ext})
    assert _abi_problems(wheel) == [message]


@pytest.mark.parametrize(
    ("interpreter_abi", "module"),
    [
        ("cp311-cp311", "ext.cpython-311-x86_64-linux-gnu.so"),
        ("cp313-cp313t", "ext.cpython-313t-x86_64-linux-gnu.so"),
        ("cp37-cp37m", "ext.cpython-37m-x86_64-linux-gnu.so"),
        ("cp39-abi3", "ext.abi3.so"),
        ("cp312-cp312", "ext.abi3.so"),  # CPython 3.12 loads the stable ABI too
        ("cp311-cp311", "ext.so"),  # no suffix: every Python imports it
        ("pp310-pypy310_pp73", "ext.pypy310-pp73-x86_64-linux-gnu.so"),
    ],
)
def test_linux_suffix_for_the_claimed_python(
    tmp_path: Path, elf_ext: bytes, interpreter_abi: str, module: str
) -> None:
    wheel = make_wheel(tmp_path, f"{interpreter_abi}-{LINUX}", {f"pkg/{module}": elf_ext})
    assert check_wheel(wheel).ok


def test_extension_linking_another_libpython(tmp_path: Path, toolchain, built) -> None:
    libpython = built(lambda: toolchain.gcc_shared_lib("libpython3.12.so.1.0"))
    ext = built(lambda: toolchain.gcc_ext_linking("elf-libpython312", libpython)).read_bytes()
    wheel = make_wheel(tmp_path, f"cp311-cp311-{LINUX}", {"pkg/ext.so": ext})
    assert _abi_problems(wheel, also=frozenset({EXTERNAL_LIBRARY_NOT_BUNDLED})) == [
        "links libpython3.12.so.1.0 (CPython 3.12); the wheel's tags claim cp311-cp311"
    ]


@pytest.mark.parametrize(
    ("source", "good", "bad", "width"),
    [
        (EXT_PY2_WIDE_SOURCE, "cp27mu", "cp27m", "wide (UCS4)"),
        (EXT_PY2_NARROW_SOURCE, "cp27m", "cp27mu", "narrow (UCS2)"),
    ],
)
def test_python2_unicode_width(
    tmp_path: Path, toolchain, built, source: str, good: str, bad: str, width: str
) -> None:
    ext = built(lambda: toolchain.gcc_ext(f"elf-py2-{good}", source)).read_bytes()
    ok = make_wheel(tmp_path, f"cp27-{good}-manylinux1_x86_64", {"pkg/ext.so": ext})
    assert check_wheel(ok).ok
    wrong = make_wheel(tmp_path, f"cp27-{bad}-manylinux1_x86_64", {"pkg/ext.so": ext})
    (message,) = _abi_problems(wrong)
    symbol = "PyUnicodeUCS4" if good == "cp27mu" else "PyUnicodeUCS2"
    assert message == (
        f"uses {symbol}_FromStringAndSize, the unicode API of a {width} CPython 2 build; the "
        f"wheel's tags claim cp27-{bad}"
    )


def test_real_wide_unicode_wheel_retagged_narrow(tmp_path: Path) -> None:
    """The real cffi cp27mu wheel (pinned in test_real_wheels) repacked under cp27m."""
    (pinned,) = [w for w in REAL_WHEELS
                 if w.filename == "cffi-1.15.1-cp27-cp27mu-manylinux1_x86_64.whl"]
    with zipfile.ZipFile(fetch(pinned)) as archive:
        module = archive.read("_cffi_backend.so")
    assert check_wheel(make_wheel(tmp_path, "cp27-cp27mu-manylinux1_x86_64",
                                  {"_cffi_backend.so": module})).ok
    (message,) = _abi_problems(
        make_wheel(tmp_path, "cp27-cp27m-manylinux1_x86_64", {"_cffi_backend.so": module})
    )
    assert message.startswith("uses PyUnicodeUCS4_")
    assert message.endswith("the unicode API of a wide (UCS4) CPython 2 build; the wheel's "
                            "tags claim cp27-cp27m")


def test_macos_suffix_and_framework_of_another_python(tmp_path: Path, toolchain, built) -> None:
    framework = "/Library/Frameworks/Python.framework/Versions/3.12/Python"
    python312 = built(lambda: toolchain.macho_helper("arm64", framework))
    ext = built(
        lambda: toolchain.macho_ext("arm64", "11.0", link=[python312], key="macho-py312")
    ).read_bytes()
    tag = "cp311-cp311-macosx_11_0_arm64"
    wheel = make_wheel(tmp_path, tag, {"pkg/ext.cpython-312-darwin.so": ext})
    # The framework is not bundled either: that is external-library-not-bundled's to say.
    assert _abi_problems(wheel, also=frozenset({EXTERNAL_LIBRARY_NOT_BUNDLED})) == [
        "extension suffix .cpython-312-darwin is imported only by CPython 3.12; the wheel's "
        "tags claim cp311-cp311",
        f"links {framework} (CPython 3.12); the wheel's tags claim cp311-cp311",
    ]
    fine = make_wheel(tmp_path, "cp312-cp312-macosx_11_0_arm64",
                      {"pkg/ext.cpython-312-darwin.so": ext})
    assert check_wheel(fine).codes() <= {EXTERNAL_LIBRARY_NOT_BUNDLED}


@pytest.fixture(scope="module")
def pyd_linking_python312(toolchain, built) -> bytes:
    python312 = built(lambda: toolchain.python3_dll("x86_64", filename="python312.dll"))
    return built(
        lambda: toolchain.mingw_dll("pe-python312", "x86_64", EXT_SOURCE, python312)
    ).read_bytes()


def test_windows_pyd_importing_another_pythons_dll(tmp_path: Path, pyd_linking_python312) -> None:
    wheel = make_wheel(tmp_path, "cp311-cp311-win_amd64", {"pkg/ext.pyd": pyd_linking_python312})
    assert _abi_problems(wheel) == [
        "links python312.dll (CPython 3.12); the wheel's tags claim cp311-cp311"
    ]
    right = make_wheel(tmp_path, "cp312-cp312-win_amd64", {"pkg/ext.pyd": pyd_linking_python312})
    assert check_wheel(right).ok


@pytest.mark.parametrize(
    ("tag", "module", "message"),
    [
        ("cp313-cp313-win_amd64", "ext.cp313t-win_amd64.pyd",
         "extension suffix .cp313t-win_amd64 is imported only by free-threaded CPython 3.13; "
         "the wheel's tags claim cp313-cp313"),
        ("cp312-cp312-win_amd64", "ext.cp312-win32.pyd",
         "extension suffix .cp312-win32 is for win32; the wheel is tagged win_amd64"),
    ],
)
def test_windows_suffix_mismatch(
    tmp_path: Path, toolchain, built, tag: str, module: str, message: str
) -> None:
    pyd = built(
        lambda: toolchain.mingw_dll(
            "pe-plain", "x86_64", EXT_SOURCE + "void *PyLong_FromLong(long v) { return 0; }\n"
        )
    ).read_bytes()
    assert _abi_problems(make_wheel(tmp_path, tag, {f"pkg/{module}": pyd})) == [message]
