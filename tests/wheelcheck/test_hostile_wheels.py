"""Hostile wheels (built here, see hostile_builders) are reported within budgets.

Each is checked the way a user or the controller checks it, by ``check-wheel`` in its own
process: the exit status, the problem code and member, no traceback, and the peak memory of
the process and its worker (from wait4) are asserted. A wheel checked before the budgets
existed failed these: the zip bomb took 4 GB and passed, the Mach-O ran for minutes past 1 GB,
the 50 MB RECORD took 850 MB, shake_128 raised a traceback and lost the whole batch.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import hostile_builders as hostile
import pytest
from wheelcheck_builders import EXT_SOURCE, make_wheel

from wheelfleet.wheelcheck import check_wheel
from wheelfleet.wheelcheck.report import (
    BUDGET_EXCEEDED,
    DUPLICATE_ENTRY,
    RECORD_MISMATCH,
    UNREADABLE_WHEEL,
    UNSAFE_PATH,
)

# "well under 512 MB" per wheel: the checks stream, so the process stays near its baseline.
PEAK_MB = 256
HANG_GUARD_S = 300  # not a speed assertion: only stops a hang from stalling the suite

Case = tuple[str, str, str]  # (code, file, a fragment of the message)


@pytest.fixture(scope="module")
def real_elf(toolchain, built) -> bytes:
    return built(lambda: toolchain.gcc_ext("elf-plain", EXT_SOURCE)).read_bytes()


@pytest.fixture(scope="module")
def real_macho(toolchain, built) -> bytes:
    return built(lambda: toolchain.macho_ext("arm64", "11.0")).read_bytes()


@pytest.fixture(scope="module")
def hostile_wheels(
    tmp_path_factory: pytest.TempPathFactory, real_elf: bytes, real_macho: bytes
) -> dict[str, tuple[Path, list[Case]]]:
    """name -> (wheel, the problems it must produce, at least)."""
    d = tmp_path_factory.mktemp("hostile")
    unsafe = [(UNSAFE_PATH, name, "") for name in hostile.UNSAFE_NAMES]
    wheels: dict[str, tuple[Callable[[], Path], list[Case]]] = {
        "zip-bomb": (
            lambda: hostile.zip_bomb(d),
            [(BUDGET_EXCEEDED, "pkg/zeros.bin", "budget 200:1 for members over 16 MiB)")],
        ),
        "zip-bomb-lying-about-its-size": (
            lambda: hostile.zip_bomb(d, declared_size=hostile.MiB),
            [(UNREADABLE_WHEEL, "pkg/zeros.bin", "inflates to more than the 1048576 bytes")],
        ),
        "macho-2-million-load-commands": (
            lambda: hostile.macho_with_load_commands(d, real_macho, 2_000_000),
            [(BUDGET_EXCEEDED, "pkg/ext.cpython-312-darwin.so",
              "Mach-O load commands: 2000000 (budget 10000)")],
        ),
        "elf-200000-sections": (
            lambda: hostile.elf_with_sections(d, real_elf, 200_000),
            [(BUDGET_EXCEEDED, "pkg/ext.cpython-311-x86_64-linux-gnu.so",
              "ELF sections: 200000 (budget 65535)")],
        ),
        "record-50-mb": (
            lambda: hostile.huge_record(d, 50 * hostile.MiB),
            [(BUDGET_EXCEEDED, "bigrecord-1.0.dist-info/RECORD", "RECORD is 50.0 MiB")],
        ),
        "record-1.5-million-rows": (
            lambda: hostile.record_rows(d, 1_500_000, "manyrows"),
            [(BUDGET_EXCEEDED, "manyrows-1.0.dist-info/RECORD",
              "RECORD has more than 100000 rows")],
        ),
        "record-shake-128": (
            lambda: hostile.shake_record(d),
            [(RECORD_MISMATCH, "pkg/__init__.py", "unsupported hash algorithm 'shake_128'")],
        ),
        "unsafe-paths": (
            lambda: hostile.unsafe_paths(d),
            [*unsafe, (UNSAFE_PATH, "pkg/link", "symlink entry")],
        ),
        "duplicate-entry": (
            lambda: hostile.duplicate_entry(d),
            [(DUPLICATE_ENTRY, "pkg/__init__.py", "2 times, with different contents")],
        ),
        "member-crc-lies": (
            lambda: hostile.lying_member(d, "crc"),
            [(UNREADABLE_WHEEL, "pkg/data.py", "CRC-32 of the data is")],
        ),
        "member-size-lies": (
            lambda: hostile.lying_member(d, "size"),
            [(UNREADABLE_WHEEL, "pkg/data.py",
              "data inflates to 1500 bytes, the zip directory declares 1510")],
        ),
        "member-local-name-lies": (
            lambda: hostile.lying_member(d, "local-name"),
            [(UNREADABLE_WHEEL, "pkg/data.py", "local header names 'pkg/evil.py'")],
        ),
        "wheel-tag-line-of-39-million-tags": (
            lambda: hostile.exploding_tag_line(d),
            [(BUDGET_EXCEEDED, "tagbomb-1.0.dist-info/WHEEL",
              "tags the WHEEL Tag lines expand to: 39304000 (budget 10000)")],
        ),
        "120000-entries": (
            lambda: hostile.many_entries(d, 120_000),
            [(BUDGET_EXCEEDED, "", "entries in the zip: 120004 (budget 100000)")],
        ),
    }
    return {name: (build(), cases) for name, (build, cases) in wheels.items()}


def check_wheel_cli(*paths: Path) -> hostile.Measured:
    command = [sys.executable, "-m", "wheelfleet.wheelcheck.cli", "--json", *map(str, paths)]
    return hostile.run_measured(command, HANG_GUARD_S)


def assert_reported(problems: list[dict[str, str]], expected: list[Case]) -> None:
    for code, file, fragment in expected:
        assert any(
            p["code"] == code and p["file"] == file and fragment in p["message"] for p in problems
        ), (code, file, fragment, problems)


CASES = [
    "zip-bomb",
    "zip-bomb-lying-about-its-size",
    "macho-2-million-load-commands",
    "elf-200000-sections",
    "record-50-mb",
    "record-1.5-million-rows",
    "record-shake-128",
    "unsafe-paths",
    "duplicate-entry",
    "member-crc-lies",
    "member-size-lies",
    "member-local-name-lies",
    "wheel-tag-line-of-39-million-tags",
    "120000-entries",
]


@pytest.mark.parametrize("case", CASES)
def test_hostile_wheel_is_reported_within_budget(case: str, hostile_wheels) -> None:
    wheel, expected = hostile_wheels[case]
    result = check_wheel_cli(wheel)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1, result.stderr
    (report,) = json.loads(result.stdout)
    assert report["wheel"] == wheel.name
    assert report["ok"] is False
    assert_reported(report["problems"], expected)
    assert len(report["problems"]) <= 101  # listed problems are bounded too
    assert result.peak_mb < PEAK_MB, f"{case}: peak {result.peak_mb:.0f} MB"


def test_a_batch_of_hostile_wheels_reports_every_wheel(hostile_wheels, tmp_path: Path) -> None:
    """One run over all of them plus an honest wheel: every wheel has its report, in order."""
    good = make_wheel(tmp_path, hostile.PURE, hostile.MODULE, dist="good")
    wheels = [hostile_wheels[case][0] for case in CASES]
    result = check_wheel_cli(wheels[0], good, *wheels[1:])
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1
    reports = json.loads(result.stdout)
    assert [r["wheel"] for r in reports] == [w.name for w in [wheels[0], good, *wheels[1:]]]
    assert reports[1] == {"wheel": good.name, "ok": True, "problems": []}
    for case, report in zip(CASES, [reports[0], *reports[2:]], strict=True):
        assert_reported(report["problems"], hostile_wheels[case][1])
    # The output stays small even though one RECORD names 730 000 missing files.
    assert len(result.stdout) < 200_000
    assert result.peak_mb < PEAK_MB


def test_record_of_missing_files_lists_100_problems_and_counts_the_rest(tmp_path: Path) -> None:
    report = check_wheel(hostile.record_rows(tmp_path, 5000, "missing"))
    assert len(report.problems) == 101
    assert {p.code for p in report.problems[:100]} == {RECORD_MISMATCH}
    assert report.problems[-1].code == BUDGET_EXCEEDED
    assert report.problems[-1].message == (
        "4900 more problems found but not listed (at most 100 are listed per wheel)"
    )


def test_a_musllinux_tag_from_the_future_is_judged_at_once(tmp_path: Path) -> None:
    """musllinux_1_4000000000: the policy is looked up from the newest musl auditwheel could
    know, not by counting down four billion minor versions."""
    wheel = make_wheel(tmp_path, "cp312-cp312-musllinux_1_4000000000_x86_64", hostile.MODULE)
    result = check_wheel_cli(wheel)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)[0]["ok"] is True


@pytest.mark.slow
def test_a_wheel_of_real_size_still_passes_in_flat_memory(tmp_path: Path, real_elf: bytes) -> None:
    """600 MB of members, one of them a 200 MB extension (parsed from a temporary file):
    the largest real wheels are of this size, and must pass, not hit a budget."""
    wheel = hostile.big_wheel(tmp_path, real_elf, 400 * hostile.MiB, 200 * hostile.MiB)
    result = check_wheel_cli(wheel)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == [{"wheel": wheel.name, "ok": True, "problems": []}]
    assert result.peak_mb < PEAK_MB, f"peak {result.peak_mb:.0f} MB"
