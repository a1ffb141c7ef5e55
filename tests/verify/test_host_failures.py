"""One host's failure never costs the night's report (no hosts, no root).

Whatever a node answers — no agent, a crash, output that is not records, records missing
fields, data the schema refuses — the report still validates, every other host keeps its
results, and the broken host's checks say what happened.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wheelfleet.fleetfile import load_fleet
from wheelfleet.health.records import checks_from_answer
from wheelfleet.pyinfra_run import RunResult
from wheelfleet.report import validate_report, write_reports
from wheelfleet.report.schema import validate_check
from wheelfleet.verify.assemble import (
    Outcome,
    build_report,
    exit_status,
    host_result,
    planned_cells,
)

INVENTORY = '''linux = ([("good", {}), ("bad", {})],
         {"pythons": ["3.11", "3.12"], "arches": ["x86_64"],
          "image_policies": ["manylinux_2_28"]})
'''


@pytest.fixture()
def sels(tmp_path: Path):
    inventory = tmp_path / "inv.py"
    inventory.write_text(INVENTORY)
    return {s.host: s for s in load_fleet(inventory)}


def cells(sels) -> list[dict]:
    return planned_cells(sels["good"])


def passed(cell: dict) -> dict:
    return {**cell, "status": "passed", "versions": {"python": "3.11.2"}}


def test_every_answer_gives_one_valid_record_per_planned_cell(sels):
    planned = cells(sels)
    assert len(planned) == 3  # cp311, cp312 and the abi3 variant
    answers = {
        "missing": {"state": "missing", "detail": "no /opt/wheelfleet/health/agent.py"},
        "crashed": {"state": "crashed", "exit_code": 1,
                    "output_tail": ["Traceback (most recent call last):",
                                    "PermissionError: [Errno 13] Permission denied: '/w'"]},
        "garbled": {"state": "garbled", "exit_code": 0, "output_tail": ["hello"]},
        "no fields": {"state": "ok", "records": [{"status": "passed"}, "a string", None]},
        "short": {"state": "ok", "records": [passed(planned[0])]},
        "bad status": {"state": "ok", "records": [{**c, "status": "ok"} for c in planned]},
    }
    for what, answer in answers.items():
        checks = checks_from_answer(answer, planned, "bad")
        assert [(c["image"], c["python"], c["variant"]) for c in checks] == \
            [(c["image"], c["python"], c["variant"]) for c in planned], what
        for check in checks:
            validate_check(check)
    missing = checks_from_answer(answers["missing"], planned, "bad")
    assert {c["status"] for c in missing} == {"not-run"}
    assert "health agent not installed" in missing[0]["reason"]
    crashed = checks_from_answer(answers["crashed"], planned, "bad")[0]
    assert crashed["status"] == "failed" and crashed["step"] == "agent"
    assert crashed["diagnosis"] == ("health agent crashed (exit 1): PermissionError: [Errno 13] "
                                    "Permission denied: '/w'")
    assert crashed["output_tail"][0] == "Traceback (most recent call last):"
    assert "printed no records" in checks_from_answer(answers["garbled"], planned,
                                                      "bad")[0]["diagnosis"]
    no_fields = checks_from_answer(answers["no fields"], planned, "bad")[0]["diagnosis"]
    assert "record 0: image: required field is missing" in no_fields
    assert "record 1 is not an object" in no_fields
    short = checks_from_answer(answers["short"], planned, "bad")
    assert short[0]["status"] == "passed"
    assert short[1]["diagnosis"].endswith("no record for this check")
    bad_status = checks_from_answer(answers["bad status"], planned, "bad")[0]["diagnosis"]
    assert "status: expected one of 'passed', 'failed', 'not-run', got 'ok'" in bad_status


def test_a_record_for_an_unplanned_cell_is_kept(sels):
    planned = cells(sels)
    extra = {**planned[0], "python": "cp313-cp313", "status": "passed"}
    checks = checks_from_answer({"state": "ok", "records": [passed(c) for c in planned]
                                 + [extra, passed(planned[0])]}, planned, "good")
    assert len(checks) == 4 and checks[-1]["python"] == "cp313-cp313"


def test_invalid_host_data_fails_that_host_alone_and_the_report_is_written(sels, tmp_path):
    health = Outcome(result=RunResult(returncode=1, dry=False, log="    [good] Connected\n"))
    clean = Outcome(result=RunResult(returncode=0, dry=True, log="", raw={"plan": []}))
    good_doc = {"host": "good", "platform": "linux", "error": None, "tools": {"podman": "4.3.1"},
                "checks": checks_from_answer({"state": "ok", "records": [
                    passed(c) for c in cells(sels)]}, cells(sels), "good")}
    # What the bug report saw: records without python/image/arch, a step the schema lacks.
    bad_doc = {"host": "bad", "platform": "linux", "error": None, "tools": {},
               "checks": [{"host": "bad", "status": "failed", "step": "agent-ish",
                           "diagnosis": "health agent crashed (exit 1)"}]}
    hosts = [host_result(sels["good"], good_doc, health, clean),
             host_result(sels["bad"], bad_doc, health, clean),
             host_result(sels["bad"], ["not", "a", "document"], health, clean)]
    good, bad, garbage = hosts
    assert good["status"] == "passed"
    for broken in (bad, garbage):
        assert broken["status"] == "failed" and len(broken["checks"]) == 3
        assert {c["step"] for c in broken["checks"]} == {"agent"}
    assert bad["checks"][0]["diagnosis"].startswith("this host's health data is not valid: "
                                                    "$.checks[0].image: required field")
    assert "AttributeError" in garbage["checks"][0]["diagnosis"]
    report = build_report("inv.py", "2026-11-28T02:00:00Z", hosts[:2])
    validate_report(report)
    assert exit_status(report) == 1
    paths = write_reports(report, tmp_path / "night")
    written = json.loads(paths["json"].read_text())
    assert [h["status"] for h in written["hosts"]] == ["passed", "failed"]
    assert "bad" in paths["junit"].read_text() and paths["html"].stat().st_size > 0
