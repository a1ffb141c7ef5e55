"""``wheelfleet check-wheel``: output formats and exit codes of ``cli.main``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from wheelcheck_builders import make_wheel

from wheelfleet.wheelcheck import cli

MODULE = {"pkg/__init__.py": b"VALUE = 1\n"}


@pytest.fixture()
def good_wheel(tmp_path: Path) -> Path:
    return make_wheel(tmp_path, "py3-none-any", MODULE)


@pytest.fixture()
def bad_wheel(tmp_path: Path) -> Path:
    return make_wheel(tmp_path, "py3-none-any", MODULE, dist="broken", write_record=False)


def test_ok_wheel_exits_0_with_readable_line(good_wheel: Path, capsys) -> None:
    assert cli.main([str(good_wheel)]) == 0
    assert capsys.readouterr().out == "pkg-1.0-py3-none-any.whl: OK\n"


def test_problem_wheel_exits_1_and_lists_problems(
    good_wheel: Path, bad_wheel: Path, capsys
) -> None:
    assert cli.main([str(good_wheel), str(bad_wheel)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "pkg-1.0-py3-none-any.whl: OK",
        "broken-1.0-py3-none-any.whl: 1 problem",
        "  [record-mismatch] broken-1.0.dist-info/RECORD: RECORD is missing",
    ]


def test_json_output_shape(good_wheel: Path, bad_wheel: Path, capsys) -> None:
    assert cli.main(["--json", str(good_wheel), str(bad_wheel)]) == 1
    assert json.loads(capsys.readouterr().out) == [
        {"wheel": "pkg-1.0-py3-none-any.whl", "ok": True, "problems": []},
        {
            "wheel": "broken-1.0-py3-none-any.whl",
            "ok": False,
            "problems": [
                {
                    "code": "record-mismatch",
                    "file": "broken-1.0.dist-info/RECORD",
                    "message": "RECORD is missing",
                }
            ],
        },
    ]


def test_parallel_jobs_keep_input_order(good_wheel: Path, bad_wheel: Path, capsys) -> None:
    assert cli.main(["--json", "--jobs", "2", str(bad_wheel), str(good_wheel)]) == 1
    names = [entry["wheel"] for entry in json.loads(capsys.readouterr().out)]
    assert names == [bad_wheel.name, good_wheel.name]


def test_no_arguments_is_a_usage_error(capsys) -> None:
    assert cli.main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "no wheel given" in captured.err


def test_missing_file_is_a_usage_error(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope-1.0-py3-none-any.whl"
    assert cli.main([str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == f"wheelfleet check-wheel: error: {missing}: no such file\n"


def test_unknown_option_is_a_usage_error(good_wheel: Path, capsys) -> None:
    assert cli.main(["--frobnicate", str(good_wheel)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_unreadable_file_is_a_problem_not_a_usage_error(tmp_path: Path, capsys) -> None:
    junk = tmp_path / "junk-1.0-py3-none-any.whl"
    junk.write_bytes(b"junk")
    assert cli.main(["--json", str(junk)]) == 1
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["problems"][0]["code"] == "unreadable-wheel"


def test_module_entry_point_runs_without_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nope.whl"
    result = subprocess.run(
        [sys.executable, "-m", "wheelfleet.wheelcheck.cli", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == f"wheelfleet check-wheel: error: {missing}: no such file"
