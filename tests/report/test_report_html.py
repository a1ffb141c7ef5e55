"""The HTML page, checked by parsing it (html.parser), never by eyeballing markup strings."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from wheelfleet.report import render_html, write_html

GCC_MISSING = "compiler missing in the image: gcc not found"  # the diagnosis in conftest
_EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]*)", re.IGNORECASE)


class Page(HTMLParser):
    """Elements with their attributes and text, plus every URL-bearing value on the page."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[tuple[str, str]] = []  # (innermost open tag, text)
        self.urls: list[str] = []
        self._stack: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.elements.append((tag, values))
        for name in ("src", "href", "srcset", "action", "poster", "data", "xlink:href"):
            if name in values:
                self.urls.append(values[name])
        self.urls += _CSS_URL.findall(values.get("style", ""))
        if tag not in {"meta", "br", "img", "link", "input", "hr"}:
            self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._stack:
            while self._stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        tag = self._stack[-1] if self._stack else ""
        self.text.append((tag, data))
        if tag == "style":
            self.urls += _CSS_URL.findall(data)
            self.urls += re.findall(r"@import\s+['\"]?([^'\";\s]+)", data)

    def tags(self, name: str) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.elements if tag == name]

    def all_text(self) -> str:
        return " ".join(text for _tag, text in self.text)


def _page(report: dict[str, Any], history: list[dict[str, Any]] | None = None) -> Page:
    return Page(render_html(report, history or []))


def test_header_failures_and_escaped_log(fleet_report: dict[str, Any]) -> None:
    page = _page(fleet_report)
    header = " ".join(t for tag, t in page.text if tag == "h1")
    assert "FAILED" in header
    failures = [t for tag, t in page.text if tag == "h3"]
    assert any("tf2" in t and "musllinux_1_2_x86_64" in t for t in failures)
    assert any("tf3" in t and "unreachable" in t for t in failures)
    assert GCC_MISSING in [t for tag, t in page.text if tag == "p"]
    pre = [t for tag, t in page.text if tag == "pre"]
    assert len(pre) == 1 and "command 'gcc' failed" in pre[0]
    # The log's <script> arrives as text inside <pre>, not as an element; ANSI codes are gone.
    assert '<script>alert("pwned")</script>' in pre[0] and "\x1b" not in pre[0]
    assert page.tags("script") == []
    assert len(page.tags("b")) == 1, "only the template's <b>step</b>, not the log's <b>bold</b>"
    assert "&lt;script&gt;alert(" in render_html(fleet_report)


def test_matrix_cells(fleet_report: dict[str, Any]) -> None:
    page = _page(fleet_report)
    image_headers = [a.get("colspan") for a in page.tags("th") if a.get("class") == "image"]
    assert image_headers == ["2", "1"]  # manylinux: cp311, cp312; musllinux: cp311
    rows = [a.get("class") for tag, a in page.elements if tag == "tr" and a.get("class")]
    assert rows[:3] == ["failed", "failed", "unreachable"]
    cells = [a["class"] for a in page.tags("td") if a.get("class", "").startswith("cell ")]
    tf1 = ["cell passed", "cell passed", "cell none"]
    tf2 = ["cell passed", "cell none", "cell failed"]  # musllinux: failed + not-run -> failed
    assert cells == tf1 + tf2
    titles = [a["title"] for a in page.tags("td") if a.get("class") == "cell failed"]
    assert titles == ["x86_64 default: failed; x86_64 abi3: not-run"]


def test_drift_tools_and_not_run(fleet_report: dict[str, Any]) -> None:
    page = _page(fleet_report)
    items = [t for tag, t in page.text if tag == "li"]
    assert items[0].startswith("Install build essentials")
    text = page.all_text()
    assert "2 pending changes:" in text and "no drift" in text
    assert "the default build failed on this image" in text
    assert "4.9.3" in text and "0.17.2.4" in text


def test_trend_lists_previous_nights(
    fleet_report: dict[str, Any], make_green_report: Callable[..., dict[str, Any]]
) -> None:
    history = [
        make_green_report("2026-11-26T02:00:00Z"),
        make_green_report("2026-11-25T02:00:00Z", 3),
    ]
    page = _page(fleet_report, history)
    trend = [t.strip() for tag, t in page.text if tag == "td" and t.strip()]
    start = trend.index("2026-11-27T02:00:00Z (this run)")
    # night, then passed, failed, not run, unreachable hosts (the verdict sits in a <span>)
    assert trend[start : start + 5] == ["2026-11-27T02:00:00Z (this run)", "3", "1", "1", "1"]
    nights = [t for t in trend if re.match(r"2026-11-2\dT02:00:00Z", t)]
    assert nights == [
        "2026-11-27T02:00:00Z (this run)",
        "2026-11-26T02:00:00Z",
        "2026-11-25T02:00:00Z",
    ]
    verdicts = [t for tag, t in page.text if tag == "span" and t in {"passed", "failed"}]
    assert verdicts[-3:] == ["failed", "passed", "passed"]
    bars = [a for tag, a in page.elements if tag == "rect" and a.get("class") == "passed"]
    # 6 checks is the busiest night, so its passed bar spans the full 220px track.
    assert max(float(b["width"]) for b in bars) == 220.0


def test_no_external_resources(fleet_report: dict[str, Any]) -> None:
    page = _page(fleet_report)
    assert page.urls, "the parser should at least see the in-page navigation links"
    assert [u for u in page.urls if _EXTERNAL.match(u)] == []
    assert all(u.startswith("#") or u in {"report.json", "junit.xml"} for u in page.urls)
    assert page.tags("link") == [] and page.tags("img") == [] and page.tags("script") == []
    csp = [a["content"] for a in page.tags("meta") if a.get("http-equiv")]
    assert csp and "default-src 'none'" in csp[0]


def test_every_field_is_escaped(fleet_report: dict[str, Any]) -> None:
    payload = "<script>alert(1)</script><img src=//evil.example/x onerror=alert(2)>\"'"
    host = fleet_report["hosts"][1]
    fleet_report["inventory"] = payload
    host["host"] = payload
    host["tools"] = {payload: payload}
    host["drift"]["changes"] = [payload]
    for index, check in enumerate(host["checks"]):
        check["host"] = payload
        check["image"] = f"{payload}{index}"  # checks must stay distinct matrix cells
        check["python"] = payload
        check["arch"] = payload
        check["output_tail"] = [payload]
    host["checks"][1]["diagnosis"] = payload
    host["checks"][2]["reason"] = payload
    fleet_report["hosts"][2]["error"] = payload
    markup = render_html(fleet_report)
    page = Page(markup)
    assert page.tags("script") == [] and page.tags("img") == []
    assert not any(name.startswith("on") for _tag, attrs in page.elements for name in attrs)
    assert [u for u in page.urls if _EXTERNAL.match(u)] == []
    assert markup.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 8


def test_write_html(fleet_report: dict[str, Any], tmp_path: Path) -> None:
    path = write_html(fleet_report, tmp_path / "index.html", [])
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert oct(path.stat().st_mode & 0o777) == "0o644"
