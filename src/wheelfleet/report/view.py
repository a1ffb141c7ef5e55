"""The data the HTML page shows, computed from a normalized report (no markup here).

Keeping the arithmetic (matrix columns, worst status per cell, trend counts) apart from the
template keeps the template dumb: it only loops and prints, and autoescaping covers all of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .schema import Report, check_counts
from .text import clean_line, clean_tail, diagnosis_or_fallback

# Worst first: a cell that mixes results shows the one that needs attention.
_SEVERITY = {"failed": 0, "not-run": 1, "passed": 2}
_SYMBOL = {"passed": "\u2713", "failed": "\u2717", "not-run": "\u2013"}
_PYTHON_TAG = re.compile(r"^[a-z]+(\d)(\d*)")


@dataclass
class Cell:
    """One host × (image, python) cell, aggregated over arches and variants."""

    status: str  # "passed" | "failed" | "not-run" | "none" (host has no such check)
    text: str
    title: str


@dataclass
class Row:
    """A host's line in the fleet matrix."""

    host: str
    platform: str
    status: str
    error: str | None
    cells: list[Cell]


@dataclass
class Failure:
    """A failed check, flattened for the Failures section (tail already cleaned)."""

    host: str
    image: str
    python: str
    arch: str
    variant: str
    step: str
    exit_code: int | None
    diagnosis: str
    tail: str


@dataclass
class NightCounts:
    """One night's row in the trend table, with the geometry of its stacked bar."""

    generated_at: str
    verdict: str
    passed: int
    failed: int
    not_run: int
    unreachable: int
    current: bool
    bars: list[tuple[str, float, float]] = field(default_factory=list)  # (status, x, width)


def python_sort_key(tag: str) -> tuple[int, int, str]:
    """Order ``cp39 < cp310 < cp314 < cp314t`` numerically instead of alphabetically."""
    match = _PYTHON_TAG.match(tag)
    if not match:
        return (99, 0, tag)
    return (int(match.group(1)), int(match.group(2) or 0), tag)


def matrix_columns(hosts: Iterable[Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    """Images (sorted) each with the Pythons checked on it (version order)."""
    by_image: dict[str, set[str]] = {}
    for host in hosts:
        for check in host["checks"]:
            by_image.setdefault(check["image"], set()).add(check["python"])
    return [(image, sorted(by_image[image], key=python_sort_key)) for image in sorted(by_image)]


def _cell(checks: list[Mapping[str, Any]]) -> Cell:
    if not checks:
        return Cell("none", "", "not in this host's matrix")
    worst = min((check["status"] for check in checks), key=_SEVERITY.__getitem__)
    passed = sum(1 for check in checks if check["status"] == "passed")
    # With several arches/variants in one cell, "1/2" says how much of it is green.
    text = _SYMBOL[worst] if len(checks) == 1 else f"{_SYMBOL[worst]} {passed}/{len(checks)}"
    title = "; ".join(f"{c['arch']} {c['variant']}: {c['status']}" for c in checks)
    return Cell(worst, text, title)


def matrix_rows(
    hosts: Iterable[Mapping[str, Any]], columns: list[tuple[str, list[str]]]
) -> list[Row]:
    """One row per host, its cells in the order of *columns*."""
    rows = []
    for host in hosts:
        cells = []
        for image, pythons in columns:
            for python in pythons:
                matching = [
                    c for c in host["checks"] if c["image"] == image and c["python"] == python
                ]
                cells.append(_cell(matching))
        error = clean_line(host["error"]) if host["error"] is not None else None
        rows.append(Row(host["host"], host["platform"], host["status"], error, cells))
    return rows


def failures(hosts: Iterable[Mapping[str, Any]]) -> list[Failure]:
    """Every failed check of every reachable host, in report order."""
    found = []
    for host in hosts:
        if host["status"] == "unreachable":
            continue  # listed separately: its checks never ran, so they cannot have failed
        for check in host["checks"]:
            if check["status"] != "failed":
                continue
            found.append(
                Failure(
                    host=host["host"],
                    image=check["image"],
                    python=check["python"],
                    arch=check["arch"],
                    variant=check["variant"],
                    step=check["step"] or "unknown",
                    exit_code=check["exit_code"],
                    diagnosis=diagnosis_or_fallback(check),
                    tail=clean_tail(check["output_tail"]),
                )
            )
    return found


def night_counts(report: Report, current: bool) -> NightCounts:
    """Check counts and verdict of one night (*current* marks tonight's row)."""
    counts = check_counts(report)
    unreachable = sum(1 for host in report["hosts"] if host["status"] == "unreachable")
    return NightCounts(
        generated_at=report["generated_at"],
        verdict=report["verdict"],
        passed=counts["passed"],
        failed=counts["failed"],
        not_run=counts["not-run"],
        unreachable=unreachable,
        current=current,
    )


def add_bars(nights: list[NightCounts], width: float) -> None:
    """Stacked-bar geometry, scaled to the busiest night so nights compare by length too."""
    biggest = max((n.passed + n.failed + n.not_run for n in nights), default=0) or 1
    for night in nights:
        x = 0.0
        for status, count in (
            ("passed", night.passed),
            ("failed", night.failed),
            ("not-run", night.not_run),
        ):
            span = width * count / biggest
            if span:
                night.bars.append((status, round(x, 2), round(span, 2)))
            x += span
