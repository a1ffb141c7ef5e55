"""Schema validation, normalization and report.json round-trips."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wheelfleet.report import (
    compute_verdict,
    derive_host_status,
    load_report,
    normalize_report,
    validate_report,
    write_reports,
)


def test_fleet_report_is_valid(fleet_report: dict[str, Any]) -> None:
    validate_report(fleet_report)


def test_report_json_round_trip(fleet_report: dict[str, Any], tmp_path: Path) -> None:
    paths = write_reports(fleet_report, tmp_path / "20261127T020000Z")
    loaded = load_report(paths["json"])
    assert loaded == normalize_report(fleet_report)
    # The fixture is already complete, so normalizing added nothing: what verify handed in
    # is exactly what a later night reads back.
    assert loaded == fleet_report


def test_normalize_fills_optional_fields() -> None:
    minimal = {
        "schema": "wheelfleet.report/1",
        "generated_at": "2026-11-27T02:00:00Z",
        "inventory": "inventory/prod.py",
        "verdict": "failed",
        "hosts": [
            {
                "host": "tf1",
                "platform": "linux",
                "status": "failed",
                "checks": [
                    {
                        "host": "tf1",
                        "image": "manylinux_2_28_x86_64",
                        "python": "cp313-cp313",
                        "arch": "x86_64",
                        "variant": "default",
                        "status": "passed",
                    }
                ],
            }
        ],
    }
    report = normalize_report(minimal)
    host = report["hosts"][0]
    assert host["drift"] == {"checked": False, "changes": [], "error": None}
    assert host["error"] is None and host["tools"] == {}
    check = host["checks"][0]
    assert check["output_tail"] == [] and check["versions"] == {} and check["answer"] is None
    assert "drift" not in minimal["hosts"][0], "normalizing must not modify its input"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets ``a.b[0].c`` style *path* in a report to *value*."""

    def mutate(report: dict[str, Any]) -> None:
        target: Any = report
        parts = path.replace("[", ".").replace("]", "").split(".")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        last = parts[-1]
        if value is _DELETE:
            del target[last]
        else:
            target[int(last) if last.isdigit() else last] = value

    return mutate


_DELETE = object()

MALFORMED = [
    # (mutation, JSON path the message must start with, words it must contain)
    (_set("schema", "wheelfleet.report/2"), "$.schema", "expected 'wheelfleet.report/1'"),
    (_set("generated_at", "27/11/2026 02:00"), "$.generated_at", "UTC timestamp"),
    (_set("generated_at", "2026-02-30T02:00:00Z"), "$.generated_at", "not a valid date"),
    (_set("verdict", "passed"), "$.verdict", "hosts say 'failed'"),
    (_set("hosts", _DELETE), "$.hosts", "required field is missing"),
    (_set("hosts[0].platform", "solaris"), "$.hosts[0].platform", "expected one of"),
    (_set("hosts[1].status", "passed"), "$.hosts[1].status", "drift/checks say 'failed'"),
    (_set("hosts[2].error", None), "$.hosts[2].error", "unreachable host must carry"),
    (_set("hosts[0].drift.changes", "Install gcc"), "$.hosts[0].drift.changes", "a list"),
    (_set("hosts[1].checks[1].status", "ok"), "$.hosts[1].checks[1].status", "'not-run'"),
    (_set("hosts[1].checks[1].step", "link"), "$.hosts[1].checks[1].step", "'repair'"),
    (_set("hosts[1].checks[1].step", None), "$.hosts[1].checks[1].step", "name the step"),
    (_set("hosts[1].checks[2].reason", None), "$.hosts[1].checks[2].reason", "say why"),
    (_set("hosts[0].checks[0].exit_code", True), "$.hosts[0].checks[0].exit_code", "integer"),
    (_set("hosts[0].checks[0].duration_s", -1), "$.hosts[0].checks[0].duration_s", "negative"),
    (_set("hosts[0].checks[0].host", "tf2"), "$.hosts[0].checks[0].host", "listed under"),
    (_set("hosts[0].checks[1].python", "cp311-cp311"), "$.hosts[0].checks[1]", "duplicate"),
    (_set("hosts[0].checks[0].diagnosis", "two\nlines"), "$.hosts[0].checks[0].diagnosis", "line"),
    (_set("hosts[0].checks[0].output_tail[1]", 7), "$.hosts[0].checks[0].output_tail[1]", "string"),
    (
        _set("hosts[0].checks[0].image_digest", "latest"),
        "$.hosts[0].checks[0].image_digest",
        "sha256",
    ),
    (
        _set("hosts[0].checks[0].versions.build_flags", {"Py_GIL_DISABLED": 0.5}),
        "$.hosts[0].checks[0].versions.build_flags.Py_GIL_DISABLED",
        "integer, string or null",
    ),
    (_set("hosts[0].checks[0].diagnostics", "typo"), "$.hosts[0].checks[0].diagnostics", "unknown"),
    (_set("hosts[2].host", "tf1"), "$.hosts[2].host", "duplicate host"),
]


@pytest.mark.parametrize(("mutate", "path", "words"), MALFORMED, ids=[m[1] for m in MALFORMED])
def test_malformed_report_names_the_path(
    fleet_report: dict[str, Any], mutate: Callable[[dict[str, Any]], None], path: str, words: str
) -> None:
    mutate(fleet_report)
    with pytest.raises(ValueError) as caught:
        validate_report(fleet_report)
    message = str(caught.value)
    assert "\n" not in message, "validation errors must be one line"
    assert message.startswith(f"{path}: "), message
    assert words in message


@pytest.mark.parametrize("data", [None, [], "report", 3])
def test_non_object_report(data: Any) -> None:
    with pytest.raises(ValueError, match=r"^\$: expected an object"):
        validate_report(data)


def test_long_bad_value_is_shortened_to_one_line(fleet_report: dict[str, Any]) -> None:
    fleet_report["verdict"] = "x\n" * 500
    with pytest.raises(ValueError) as caught:
        validate_report(fleet_report)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


def test_write_reports_refuses_malformed_before_writing(
    fleet_report: dict[str, Any], tmp_path: Path
) -> None:
    fleet_report["hosts"][0]["status"] = "green"
    with pytest.raises(ValueError, match=r"^\$\.hosts\[0\]\.status: "):
        write_reports(fleet_report, tmp_path / "night")
    assert not (tmp_path / "night").exists()


def test_load_report_names_file(tmp_path: Path) -> None:
    broken = tmp_path / "report.json"
    broken.write_text('{"schema": "wheelfleet.report/1", ', encoding="utf-8")
    with pytest.raises(ValueError, match="report.json: not valid JSON"):
        load_report(broken)
    broken.write_text(json.dumps({"schema": "wheelfleet.report/1"}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"report.json: \$\.generated_at: required field"):
        load_report(broken)
    with pytest.raises(ValueError, match="cannot read"):
        load_report(tmp_path / "missing.json")


def test_host_status_and_verdict_rules(
    fleet_report: dict[str, Any], green_report: dict[str, Any]
) -> None:
    assert [derive_host_status(h) for h in fleet_report["hosts"]] == [
        "failed",  # drift
        "failed",  # build failure
        "unreachable",
    ]
    assert compute_verdict(fleet_report["hosts"]) == "failed"
    assert compute_verdict(green_report["hosts"]) == "passed"
    assert compute_verdict([]) == "failed", "an empty fleet proved nothing"
    never_ran: dict[str, Any] = {
        "host": "tf9",
        "error": None,
        "drift": {"checked": False},
        "checks": [],
    }
    assert derive_host_status(never_ran) == "not-run"


def test_surrogates_from_undecodable_output_still_serialize(
    fleet_report: dict[str, Any], tmp_path: Path
) -> None:
    fleet_report["hosts"][1]["checks"][1]["output_tail"].append(
        b"bad \xff".decode(errors="surrogateescape")
    )
    paths = write_reports(fleet_report, tmp_path / "night")
    assert "bad \ufffd" in load_report(paths["json"])["hosts"][1]["checks"][1]["output_tail"]
