"""The platform facts wheelcheck shares with the fleet live once, in the toolchain matrix:
the arm64 macOS floor, Windows arch names <-> wheel tags, each compiler family's C runtime.
Bad values stop at load with one line naming the file and key; wheelcheck follows the data."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from packaging.tags import parse_tag

from wheelfleet.errors import InputError
from wheelfleet.matrix import Matrix
from wheelfleet.matrix.load import build_matrix, default_matrix_text
from wheelfleet.wheelcheck import matrix_facts
from wheelfleet.wheelcheck.platform_claims import claims_from_tags

NAME = "wheelfleet/data/matrix.yaml"


def _data() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(default_matrix_text()))


def _build(data: dict[str, Any]) -> Matrix:
    return build_matrix(data, NAME, [NAME])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["windows_compilers"]["vc14"].update(runtime_dlls=["VCRUNTIME140.DLL"]),
         f"{NAME}: windows_compilers.vc14.runtime_dlls[0]: expected a lower-case DLL name or "
         "pattern ending in .dll, got 'VCRUNTIME140.DLL'"),
        (lambda d: d["windows_compilers"]["vc9"].pop("runtime_dlls"),
         f"{NAME}: windows_compilers.vc9.runtime_dlls: missing; expected a list of strings"),
        (lambda d: d["platforms"]["windows"].update(vc_runtime_dlls="msvcr*.dll"),
         f"{NAME}: platforms.windows.vc_runtime_dlls: expected a list of strings, got a string "
         "'msvcr*.dll'"),
        (lambda d: d["macos"].update(arm64_min_version=11.0),
         f"{NAME}: macos.arm64_min_version: expected a macOS version like '11.0' (quoted), "
         "got 11.0"),
    ],
)
def test_bad_platform_facts_stop_with_one_line(edit: Any, message: str) -> None:
    data = _data()
    edit(data)
    with pytest.raises(InputError) as raised:
        _build(data)
    assert str(raised.value) == message


def test_the_shipped_matrix_holds_the_facts() -> None:
    matrix = _build(_data())
    assert matrix.macos_arm64_floor == (11, 0)
    assert matrix.windows_tag_arches == {"win32": "x86", "win_amd64": "x64", "win_arm64": "arm64"}
    assert matrix.windows_compilers["vc9"].runtime == "MSVCR90.DLL"
    assert "msvcr90.dll" in matrix.windows_compilers["vc9"].runtime_dlls
    assert "api-ms-win-crt-*.dll" in matrix.windows_compilers["vc14"].runtime_dlls


def test_wheelcheck_follows_the_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Change the data, and wheelcheck's reading of the tags changes with it."""
    data = _data()
    data["macos"]["arm64_min_version"] = "12.0"
    data["platforms"]["windows"]["arches"]["arm64"] = "win_aarch64"
    changed = _build(data)
    monkeypatch.setattr(matrix_facts, "matrix", lambda: changed)
    mac = claims_from_tags(parse_tag("cp312-cp312-macosx_10_9_universal2"))
    assert mac.macos_min_version == {"x86_64": (10, 9), "arm64": (12, 0)}
    assert claims_from_tags(parse_tag("cp312-cp312-win_aarch64")).windows_archs == {"arm64"}
    # win_arm64 is no longer a Windows tag of this matrix: no verdict on its binaries
    assert claims_from_tags(parse_tag("cp312-cp312-win_arm64")).unknown_platforms == {"win_arm64"}
