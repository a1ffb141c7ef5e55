"""JUnit output, checked by parsing it back with junitparser (what CI plugins use)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from junitparser import Failure, JUnitXml, Skipped

from wheelfleet.report import write_junit

GCC_MISSING = "compiler missing in the image: gcc not found"  # the diagnosis in conftest


def _cases(xml: JUnitXml) -> list[Any]:
    return [case for suite in xml for case in suite]


def _expected_counts(report: dict[str, Any]) -> tuple[int, int, int]:
    """tests/failures/skipped derived from the report itself, the way the docs describe it."""
    tests = failures = skipped = 0
    for host in report["hosts"]:
        if host["status"] == "unreachable":
            tests, failures = tests + 1, failures + 1  # one failing "connect"
            continue
        tests += 1 + len(host["checks"])  # "drift" + one per check
        drift = host["drift"]
        failures += bool(drift["changes"] or drift["error"])
        skipped += not drift["checked"] and drift["error"] is None
        failures += sum(check["status"] == "failed" for check in host["checks"])
        skipped += sum(check["status"] == "not-run" for check in host["checks"])
    return tests, failures, skipped


def test_counts_match_report(fleet_report: dict[str, Any], tmp_path: Path) -> None:
    path = write_junit(fleet_report, tmp_path / "junit.xml")
    xml = JUnitXml.fromfile(str(path))
    cases = _cases(xml)
    failed = [c for c in cases if any(isinstance(r, Failure) for r in c.result)]
    skipped = [c for c in cases if any(isinstance(r, Skipped) for r in c.result)]
    assert (len(cases), len(failed), len(skipped)) == _expected_counts(fleet_report) == (8, 3, 1)
    # The totals CI servers show come from the attributes: they must agree with the cases.
    assert (xml.tests, xml.failures, xml.skipped, xml.errors) == (8, 3, 1, 0)
    for suite in xml:
        assert suite.tests == len(list(suite))


def test_case_names_and_failure_contents(fleet_report: dict[str, Any], tmp_path: Path) -> None:
    xml = JUnitXml.fromfile(str(write_junit(fleet_report, tmp_path / "junit.xml")))
    by_name = {(c.classname, c.name): c for c in _cases(xml)}
    assert set(by_name) == {
        ("wheelfleet.tf1", "drift"),
        ("wheelfleet.tf1", "manylinux_2_36_x86_64 cp311-cp311 default"),
        ("wheelfleet.tf1", "manylinux_2_36_x86_64 cp312-cp312 default"),
        ("wheelfleet.tf2", "drift"),
        ("wheelfleet.tf2", "manylinux_2_36_x86_64 cp311-cp311 default"),
        ("wheelfleet.tf2", "musllinux_1_2_x86_64 cp311-cp311 default"),
        ("wheelfleet.tf2", "musllinux_1_2_x86_64 cp311-cp311 abi3"),
        ("wheelfleet.tf3", "connect"),
    }
    build = by_name[("wheelfleet.tf2", "musllinux_1_2_x86_64 cp311-cp311 default")].result[0]
    assert isinstance(build, Failure)
    assert build.message == GCC_MISSING
    assert build.text.startswith("step: build\nexit code: 127\n")
    assert "command 'gcc' failed" in build.text and "\x1b" not in build.text
    assert '<script>alert("pwned")</script>' in build.text  # escaped in XML, intact once parsed

    drift = by_name[("wheelfleet.tf1", "drift")].result[0]
    assert drift.message == "2 pending changes"
    assert "Install build essentials" in drift.text

    skipped = by_name[("wheelfleet.tf2", "musllinux_1_2_x86_64 cp311-cp311 abi3")].result[0]
    assert isinstance(skipped, Skipped)
    assert skipped.message == "the default build failed on this image"

    connect = by_name[("wheelfleet.tf3", "connect")].result[0]
    assert "Connection refused" in connect.message
    assert by_name[("wheelfleet.tf1", "drift")].result[0] is not None
    assert by_name[("wheelfleet.tf2", "drift")].result == []


def test_green_night_has_no_failures(green_report: dict[str, Any], tmp_path: Path) -> None:
    xml = JUnitXml.fromfile(str(write_junit(green_report, tmp_path / "junit.xml")))
    assert (xml.tests, xml.failures, xml.skipped) == (6, 0, 0)


def test_xml_illegal_characters_are_dropped(fleet_report: dict[str, Any], tmp_path: Path) -> None:
    check = fleet_report["hosts"][1]["checks"][1]
    check["output_tail"].append("NUL\x00 and BEL\x07 from a broken terminal")
    check["diagnosis"] = "escape \x1b[1mbold\x1b[0m diagnosis\x0b"
    xml = JUnitXml.fromfile(str(write_junit(fleet_report, tmp_path / "junit.xml")))
    failure = next(
        c for c in _cases(xml) if c.name.startswith("musllinux_1_2_x86_64 cp311-cp311 d")
    )
    assert failure.result[0].message == "escape bold diagnosis"
    assert "NUL and BEL from a broken terminal" in failure.result[0].text
