"""WHEEL tags, RECORD and unreadable archives: wheels assembled here with zipfile."""

from __future__ import annotations

import zipfile
from pathlib import Path

from wheelcheck_builders import make_wheel

from wheelfleet.wheelcheck import Problem, check_wheel
from wheelfleet.wheelcheck.report import (
    RECORD_MISMATCH,
    TAG_METADATA_MISMATCH,
    UNREADABLE_WHEEL,
)

PURE = "py3-none-any"
MODULE = {"pkg/__init__.py": b"VALUE = 1\n"}


def test_pure_wheel_with_matching_metadata_passes(tmp_path: Path) -> None:
    report = check_wheel(make_wheel(tmp_path, PURE, MODULE))
    assert report.ok
    assert report.problems == []
    assert report.wheel == "pkg-1.0-py3-none-any.whl"


def test_pure_wheel_skips_binary_checks(tmp_path: Path) -> None:
    """A stray ELF header in a py3-none-any wheel is not judged (contract: no binary checks)."""
    files = {**MODULE, "pkg/blob.so": b"\x7fELF" + b"\0" * 60}
    assert check_wheel(make_wheel(tmp_path, PURE, files)).ok


def test_wheel_tags_differing_from_filename(tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path,
        "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
        MODULE,
        wheel_tags=["cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux_2_28_x86_64"],
    )
    assert check_wheel(wheel).problems == [
        Problem(
            TAG_METADATA_MISMATCH,
            "pkg-1.0.dist-info/WHEEL",
            "filename has cp311-cp311-manylinux2014_x86_64 not in WHEEL; "
            "WHEEL has cp311-cp311-manylinux_2_28_x86_64 not in the filename",
        )
    ]


def test_compressed_tag_line_in_wheel_is_expanded(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "py2.py3-none-any", MODULE, wheel_tags=["py2.py3-none-any"])
    assert check_wheel(wheel).ok


def test_wheel_without_tag_lines(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, PURE, MODULE, wheel_tags=[])
    (problem,) = check_wheel(wheel).problems
    assert (problem.code, problem.message) == (TAG_METADATA_MISMATCH, "WHEEL has no Tag lines")


def _tamper(path: str, column: int, value: str):  # type: ignore[no-untyped-def]
    def edit(rows: list[list[str]]) -> list[list[str]]:
        for row in rows:
            if row[0] == path:
                row[column] = value
        return rows

    return edit


def test_hash_differing_from_record(tmp_path: Path) -> None:
    edit = _tamper("pkg/__init__.py", 1, "sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    wheel = make_wheel(tmp_path, PURE, MODULE, edit_record=edit)
    assert check_wheel(wheel).problems == [
        Problem(RECORD_MISMATCH, "pkg/__init__.py", "sha256 hash differs from RECORD")
    ]


def test_size_differing_from_record(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, PURE, MODULE, edit_record=_tamper("pkg/__init__.py", 2, "99"))
    assert check_wheel(wheel).problems == [
        Problem(RECORD_MISMATCH, "pkg/__init__.py", "size 10 differs from RECORD's 99")
    ]


def test_file_missing_from_record(tmp_path: Path) -> None:
    def drop(rows: list[list[str]]) -> list[list[str]]:
        return [row for row in rows if row[0] != "pkg/__init__.py"]

    wheel = make_wheel(tmp_path, PURE, MODULE, edit_record=drop)
    assert check_wheel(wheel).problems == [
        Problem(RECORD_MISMATCH, "pkg/__init__.py", "file is not listed in RECORD")
    ]


def test_record_lists_a_file_the_wheel_lacks(tmp_path: Path) -> None:
    def add(rows: list[list[str]]) -> list[list[str]]:
        return [*rows, ["pkg/gone.py", "sha256=x", "1"]]

    wheel = make_wheel(tmp_path, PURE, MODULE, edit_record=add)
    assert check_wheel(wheel).problems == [
        Problem(RECORD_MISMATCH, "pkg/gone.py", "listed in RECORD but missing from the wheel")
    ]


def test_wheel_without_record(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, PURE, MODULE, write_record=False)
    assert check_wheel(wheel).problems == [
        Problem(RECORD_MISMATCH, "pkg-1.0.dist-info/RECORD", "RECORD is missing")
    ]


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "pkg-1.0-py3-none-any.whl"
    path.write_text("this is not a zip file\n")
    report = check_wheel(path)
    assert not report.ok
    (problem,) = report.problems
    assert problem.code == UNREADABLE_WHEEL
    assert problem.file == ""
    assert problem.message.startswith("not a readable zip archive")


def test_truncated_wheel(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, PURE, {"pkg/data.bin": bytes(range(256)) * 400})
    data = wheel.read_bytes()
    wheel.write_bytes(data[: len(data) // 2])
    (problem,) = check_wheel(wheel).problems
    assert problem.code == UNREADABLE_WHEEL


def test_corrupted_member_is_reported_not_raised(tmp_path: Path) -> None:
    """Flip bytes inside a deflated member: zipfile's CRC check fails while reading it."""
    wheel = make_wheel(tmp_path, PURE, {"pkg/data.txt": b"hello wheel " * 2000})
    data = bytearray(wheel.read_bytes())
    with zipfile.ZipFile(wheel) as archive:
        info = archive.getinfo("pkg/data.txt")
    start = info.header_offset + 30 + len(info.filename) + 10
    data[start : start + 8] = b"\xff" * 8
    wheel.write_bytes(bytes(data))
    report = check_wheel(wheel)
    codes = {p.code for p in report.problems}
    assert UNREADABLE_WHEEL in codes
    assert any(p.file == "pkg/data.txt" for p in report.problems if p.code == UNREADABLE_WHEEL)


def test_zip_without_dist_info(tmp_path: Path) -> None:
    path = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("pkg/__init__.py", "")
    (problem,) = check_wheel(path).problems
    assert (problem.code, problem.message) == (
        UNREADABLE_WHEEL,
        "no .dist-info/WHEEL in the archive",
    )


def test_file_name_that_is_not_a_wheel_name(tmp_path: Path) -> None:
    path = tmp_path / "notawheel.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x", "")
    (problem,) = check_wheel(path).problems
    assert problem.code == UNREADABLE_WHEEL
    assert problem.message.startswith("not a wheel file name")


def test_broken_elf_body_is_reported_not_raised(tmp_path: Path) -> None:
    files = {"pkg/ext.so": b"\x7fELF\x02\x01\x01" + b"\xff" * 20}
    report = check_wheel(make_wheel(tmp_path, "cp311-cp311-manylinux_2_28_x86_64", files))
    (problem,) = report.problems
    assert (problem.code, problem.file) == (UNREADABLE_WHEEL, "pkg/ext.so")
    assert problem.message.startswith("ELF file cannot be parsed")


def test_origin_runpath_of_a_top_level_module_resolves_in_the_wheel_root():
    """A module at the wheel's top level with RUNPATH $ORIGIN/pkg.libs (what auditwheel
    writes for a top-level extension) finds the grafted library; regression from a real
    repaired canary wheel that was reported unbundled."""
    from wheelfleet.wheelcheck.checks.libraries import _elf_resolves
    from wheelfleet.wheelcheck.wheel_contents import WheelContents

    contents = WheelContents(claims=None)  # type: ignore[arg-type]  # unused here
    contents.add_file("canary.cpython-311-x86_64-linux-gnu.so")
    contents.add_file("canary.libs/libcrypto-72db1b3d.so.3")
    assert _elf_resolves("libcrypto-72db1b3d.so.3", ["$ORIGIN/canary.libs"], "", contents)
    assert _elf_resolves("libcrypto-72db1b3d.so.3", ["${ORIGIN}/canary.libs"], "", contents)
    assert not _elf_resolves("libcrypto-72db1b3d.so.3", ["$ORIGIN/other.libs"], "", contents)
    assert not _elf_resolves("libcrypto-72db1b3d.so.3", ["/usr/lib"], "", contents)
