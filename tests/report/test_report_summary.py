"""The terminal summary table."""

from __future__ import annotations

from typing import Any

from wheelfleet.report import summary_table

GCC_MISSING = "compiler missing in the image: gcc not found"  # the diagnosis in conftest


def _rows(table: str) -> dict[str, list[str]]:
    lines = table.splitlines()
    return {
        line.split()[0]: line.split(None, 6) for line in lines[2:] if line and "verdict" not in line
    }


def test_summary_rows(fleet_report: dict[str, Any]) -> None:
    table = summary_table(fleet_report)
    lines = table.splitlines()
    assert lines[0].split() == "HOST STATUS PASSED FAILED NOT-RUN DRIFT FIRST DIAGNOSIS".split()
    assert set(lines[1]) <= {"-", " "}
    rows = _rows(table)
    assert rows["tf1"][:6] == ["tf1", "failed", "2", "0", "0", "2"]
    assert rows["tf1"][6].startswith("drift: Install build essentials")
    assert rows["tf2"][:6] == ["tf2", "failed", "1", "1", "1", "0"]
    # Long diagnoses are shortened to keep the table narrow; the start must survive.
    assert rows["tf2"][6].startswith("cp311-cp311 build: compiler missing in the image")
    assert rows["tf3"][:6] == ["tf3", "unreachable", "0", "0", "0", "-"]
    assert rows["tf3"][6].startswith("ssh: connect to host 127.0.0.13")
    assert lines[-1] == "verdict: FAILED (3 hosts, 2026-11-27T02:00:00Z)"
    assert all(len(line) <= 120 for line in lines)
    assert "\x1b" not in table


def test_summary_columns_align(fleet_report: dict[str, Any]) -> None:
    lines = summary_table(fleet_report).splitlines()
    # Every table row starts its STATUS column at the same offset.
    offset = lines[0].index("STATUS")
    for line in lines[2:5]:
        assert line[offset - 2 : offset] == "  " and line[offset] != " "


def test_green_summary(green_report: dict[str, Any]) -> None:
    table = summary_table(green_report)
    assert table.splitlines()[-1].startswith("verdict: PASSED (2 hosts")
