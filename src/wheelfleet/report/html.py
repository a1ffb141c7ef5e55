"""The nightly report as one self-contained HTML page (markup: templates/report.html.j2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from . import view
from .files import atomic_write
from .history import DEFAULT_HISTORY_LIMIT
from .schema import Report, check_counts, normalize_report
from .text import check_name, clean_line

_BAR_WIDTH = 220


@cache
def _template() -> jinja2.Template:
    # autoescape=True: every value in the page comes from hosts and logs, i.e. is untrusted.
    # StrictUndefined: a renamed field should fail the test suite, not render as blank.
    env = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    source = resources.files("wheelfleet").joinpath("templates/report.html.j2")
    return env.from_string(source.read_text(encoding="utf-8"))


def _not_run(report: Report) -> list[tuple[str, str, str]]:
    return [
        (host["host"], check_name(check), clean_line(check["reason"] or ""))
        for host in report["hosts"]
        if host["status"] != "unreachable"
        for check in host["checks"]
        if check["status"] == "not-run"
    ]


def _trend(report: Report, history: Sequence[Mapping[str, Any]]) -> list[view.NightCounts]:
    previous = [normalize_report(night) for night in history[:DEFAULT_HISTORY_LIMIT]]
    # (find_history hands over normalised reports: normalize_report returns them as they are)
    nights = [view.night_counts(report, current=True)]
    nights += [view.night_counts(night, current=False) for night in previous]
    view.add_bars(nights, _BAR_WIDTH)
    return nights


def render_html(report: Mapping[str, Any], history: Sequence[Mapping[str, Any]] = ()) -> str:
    """The page for *report*; *history* is earlier nights' reports, newest first."""
    normalized = normalize_report(report)
    hosts = normalized["hosts"]
    columns = view.matrix_columns(hosts)
    return _template().render(
        schema=normalized["schema"],
        verdict=normalized["verdict"],
        generated_at=normalized["generated_at"],
        inventory=normalized["inventory"],
        hosts=hosts,
        counts=check_counts(normalized),
        unreachable=sum(1 for h in hosts if h["status"] == "unreachable"),
        drifted=sum(1 for h in hosts if h["drift"]["changes"]),
        columns=columns,
        ncolumns=sum(len(pythons) for _image, pythons in columns),
        rows=view.matrix_rows(hosts, columns),
        failures=view.failures(hosts),
        unreachable_hosts=[
            {"host": h["host"], "error": clean_line(h["error"] or "")}
            for h in hosts
            if h["status"] == "unreachable"
        ],
        not_run=_not_run(normalized),
        tool_names=sorted({name for h in hosts for name in h["tools"]}),
        nights=_trend(normalized, history),
        bar_width=_BAR_WIDTH,
    )


def write_html(
    report: Mapping[str, Any], path: str | Path, history: Sequence[Mapping[str, Any]] = ()
) -> Path:
    """Write the page for *report* to *path* (atomically) and return the path."""
    page = render_html(report, history)
    return atomic_write(Path(path), page.encode("utf-8"))
