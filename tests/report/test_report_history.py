"""Finding previous nights for the trend section, and the reports/<stamp>/ convention."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wheelfleet.report import default_out_dir, find_history, write_reports


def _night(root: Path, name: str, report: dict[str, Any] | str) -> Path:
    night = root / name
    night.mkdir(parents=True)
    text = report if isinstance(report, str) else json.dumps(report)
    (night / "report.json").write_text(text, encoding="utf-8")
    return night


def test_newest_first_skipping_broken(
    tmp_path: Path,
    make_green_report: Callable[..., dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    root = tmp_path / "reports"
    # Directory names deliberately disagree with generated_at: the timestamp inside wins.
    _night(root, "a", make_green_report("2026-11-24T02:00:00Z"))
    _night(root, "b", make_green_report("2026-11-26T02:00:00Z"))
    _night(root, "c", make_green_report("2026-11-25T02:00:00Z"))
    _night(root, "truncated", '{"schema": "wheelfleet.report/1", "generated')
    _night(root, "future-schema", {"schema": "wheelfleet.report/9"})
    tonight = _night(root, "tonight", make_green_report("2026-11-27T02:00:00Z"))
    (root / "not-a-night").mkdir()

    with caplog.at_level(logging.WARNING, logger="wheelfleet.report.history"):
        history = find_history(root, exclude_dir=tonight)

    assert [r["generated_at"][:10] for r in history] == ["2026-11-26", "2026-11-25", "2026-11-24"]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert any("truncated" in w and "not valid JSON" in w for w in warnings)
    assert any("future-schema" in w and "wheelfleet.report/9" in w for w in warnings)


def test_limit_and_missing_root(
    tmp_path: Path, make_green_report: Callable[..., dict[str, Any]]
) -> None:
    root = tmp_path / "reports"
    for day in range(1, 21):
        _night(root, f"n{day:02}", make_green_report(f"2026-11-{day:02}T02:00:00Z"))
    history = find_history(root, limit=14)
    assert len(history) == 14 and history[0]["generated_at"].startswith("2026-11-20")
    assert find_history(tmp_path / "nowhere") == []


def test_default_out_dir_and_siblings(
    tmp_path: Path,
    fleet_report: dict[str, Any],
    make_green_report: Callable[..., dict[str, Any]],
) -> None:
    root = tmp_path / "reports"
    out = default_out_dir(fleet_report, root)
    assert out == root / "20261127T020000Z"
    earlier = make_green_report("2026-11-26T02:00:00Z")
    write_reports(earlier, default_out_dir(earlier, root))
    paths = write_reports(fleet_report, out)
    assert set(paths) == {"json", "junit", "html"}
    assert all(p.parent == out and p.is_file() for p in paths.values())
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "junit.xml", "report.json"]
    page = paths["html"].read_text(encoding="utf-8")
    assert "2026-11-26T02:00:00Z" in page, "the sibling night must show up in the trend"
    assert "1 previous night found" in page
