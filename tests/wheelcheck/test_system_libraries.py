"""What the OS provides, as the repair tools know it: DLLs built here (mingw-w64 gcc for x86 and
x64, clang-14 + lld-link-14 for arm64) and Mach-O files (clang-14 + ld64.lld-14) importing
libraries by name, judged against delvewheel's per-architecture system DLLs and delocate's
rule for macOS system libraries."""

from __future__ import annotations

from pathlib import Path

import pytest
from delocate.delocating import filter_system_libs
from wheelcheck_builders import EXT_USES_HELPER_SOURCE, HELPER_SOURCE, make_wheel

from wheelfleet.wheelcheck import check_wheel, windows_dlls
from wheelfleet.wheelcheck.report import EXTERNAL_LIBRARY_NOT_BUNDLED, WINDOWS_CRT_MISMATCH

MINGW = {"x86": ("i686", "win32"), "x64": ("x86_64", "win_amd64")}


def _external(report) -> set[str]:
    """The DLL/dylib names the report says must be bundled."""
    assert report.codes() <= {EXTERNAL_LIBRARY_NOT_BUNDLED}, report.problems
    return {p.message.split()[1] for p in report.problems}


def _mingw_pyd_importing(toolchain, built, arch: str, dll: str) -> bytes:
    """A .pyd whose import table names ``dll`` (a helper DLL built under that name)."""
    mingw_arch = MINGW[arch][0]
    key = f"pe-sys-{mingw_arch}-{dll}"
    helper = built(lambda: toolchain.mingw_dll(f"{key}-dll", mingw_arch, HELPER_SOURCE,
                                               filename=dll))
    python3 = built(lambda: toolchain.python3_dll(mingw_arch))
    return built(lambda: toolchain.mingw_dll(key, mingw_arch, EXT_USES_HELPER_SOURCE,
                                             helper, python3)).read_bytes()


def _arm64_pyd_importing(toolchain, built, dll: str) -> bytes:
    """An arm64 .pyd taking malloc/free from ``dll`` (import library from a .def file)."""
    functions = {dll: ["malloc", "free"], "VCRUNTIME140.dll": ["memset"]}
    return built(lambda: toolchain.arm64_crt_ext(f"pe-sys-arm64-{dll}", functions)).read_bytes()


def _only_on(arch: str) -> str:
    """A system DLL delvewheel lists for ``arch`` alone (read from its data, not spelled here)."""
    others = set().union(*(windows_dlls.system_dlls(a) for a in MINGW.keys() | {"arm64"}
                           if a != arch))
    return sorted(windows_dlls.system_dlls(arch) - others)[0]


@pytest.mark.parametrize("arch", sorted(MINGW))
def test_webservices_dll_is_a_system_dll_on_x86_and_x64(tmp_path: Path, toolchain, built,
                                                        arch: str) -> None:
    """Real artifact: a .pyd importing webservices.dll (System32 since Windows 7; what made
    pyarrow's false alarm) passes unbundled; one importing an unknown DLL does not."""
    platform = MINGW[arch][1]
    good = _mingw_pyd_importing(toolchain, built, arch, "webservices.dll")
    assert check_wheel(make_wheel(tmp_path, f"cp312-cp312-{platform}",
                                  {"pkg/ext.pyd": good})).ok
    bad = _mingw_pyd_importing(toolchain, built, arch, "wfhelper.dll")
    report = check_wheel(make_wheel(tmp_path, f"cp312-cp312-{platform}", {"pkg/ext.pyd": bad}))
    assert _external(report) == {"wfhelper.dll,"}


def test_system_dlls_are_judged_per_architecture(tmp_path: Path, toolchain, built) -> None:
    """Real artifact: a DLL that only arm64 Windows has passes in an arm64 .pyd and is reported
    in an x64 one (and the other way round)."""
    arm64_only = _only_on("arm64")
    arm64 = _arm64_pyd_importing(toolchain, built, arm64_only)
    assert check_wheel(make_wheel(tmp_path, "cp312-cp312-win_arm64", {"pkg/ext.pyd": arm64})).ok
    x64 = _mingw_pyd_importing(toolchain, built, "x64", arm64_only)
    report = check_wheel(make_wheel(tmp_path, "cp312-cp312-win_amd64", {"pkg/ext.pyd": x64}))
    assert _external(report) == {f"{arm64_only},"}

    x64_only = _only_on("x64")
    assert check_wheel(make_wheel(tmp_path, "cp312-cp312-win_amd64", {
        "pkg/ext.pyd": _mingw_pyd_importing(toolchain, built, "x64", x64_only)})).ok
    report = check_wheel(make_wheel(tmp_path, "cp312-cp312-win_arm64", {
        "pkg/ext.pyd": _arm64_pyd_importing(toolchain, built, x64_only)}))
    assert _external(report) == {f"{x64_only},"}


@pytest.mark.parametrize(("tags", "ok"), [
    ("cp312-cp312-win_amd64", True),  # python.org x64 3.9+ ships vcruntime140_1.dll
    ("cp39-abi3-win_amd64", True),
    ("cp312-cp312-win32", False),  # x86 has no vcruntime140_1.dll at all
    ("cp38-cp38-win_amd64", False),  # delvewheel: 3.8 distributions ship vcruntime140.dll only
])
def test_vcruntime140_1_is_shipped_by_the_pythons_delvewheel_names(
    tmp_path: Path, toolchain, built, tags: str, ok: bool
) -> None:
    """Real artifact: which runtime DLLs a Python ships beside python.exe is per tag."""
    arch = "x86" if tags.endswith("win32") else "x64"
    pyd = _mingw_pyd_importing(toolchain, built, arch, "vcruntime140_1.dll")
    report = check_wheel(make_wheel(tmp_path, tags, {"pkg/ext.pyd": pyd}))
    if ok:
        assert report.ok, report.problems
    else:
        assert report.codes() == {EXTERNAL_LIBRARY_NOT_BUNDLED}, report.problems
        assert WINDOWS_CRT_MISMATCH not in report.codes()


def test_msvcp140s_concrt140_import_is_never_needed(tmp_path: Path, toolchain, built) -> None:
    """Real artifact: a bundled DLL importing concrt140.dll passes when it is msvcp140.dll
    (delvewheel: that import only serves Windows XP) and is reported under any other name."""
    dll = _mingw_pyd_importing(toolchain, built, "x64", "concrt140.dll")
    tags = "cp312-cp312-win_amd64"
    assert check_wheel(make_wheel(tmp_path, tags, {"pkg/msvcp140.dll": dll})).ok
    report = check_wheel(make_wheel(tmp_path, tags, {"pkg/other.dll": dll}))
    assert _external(report) == {"concrt140.dll,"}


INSTALL_NAMES = [
    "/System/Library/Frameworks/WFKit.framework/Versions/A/WFKit",
    "/usr/lib/swift/libswiftWF.dylib",
    "/usr/local/lib/libwf.dylib",
    "/opt/homebrew/opt/wf/lib/libwf.1.dylib",
    "@executable_path/../lib/libwf.dylib",
]


@pytest.mark.parametrize("install_name", INSTALL_NAMES)
def test_macos_system_libraries_agree_with_delocate(tmp_path: Path, toolchain, built,
                                                    install_name: str) -> None:
    """Real artifact: an arm64 extension linking a dylib by ``install_name``, left unbundled,
    is reported exactly when delocate would copy that library into the wheel."""
    helper = built(lambda: toolchain.macho_helper("arm64", install_name))
    key = "macho-sys-" + "".join(c if c.isalnum() else "_" for c in install_name)
    ext = built(lambda: toolchain.macho_ext("arm64", "11.0", source=EXT_USES_HELPER_SOURCE,
                                            link=[helper], key=key)).read_bytes()
    report = check_wheel(make_wheel(tmp_path, "cp312-cp312-macosx_11_0_arm64",
                                    {"pkg/ext.so": ext}))
    delocate_copies = filter_system_libs(install_name)
    assert _external(report) == ({install_name} if delocate_copies else set())
    if install_name.startswith(("/usr/local/", "/opt/")):
        assert delocate_copies  # the check bites on the names a Mac build really leaks
